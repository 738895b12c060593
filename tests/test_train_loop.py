"""The one training loop: optimiser and schedule, clipping, observation order, checkpoints with exact resume."""

import pytest
import torch
from torch import nn

from tiedemb.config import ConfigError
from tiedemb.results import provenance
from tiedemb.train.loop import (
    CheckpointMismatch,
    OptimSpec,
    Stop,
    Task,
    build_optimizer,
    fit,
    reset_resumed,
    resumed_seconds,
)


class Regression(Task):
    """Noisy linear regression: batches from the task's own generator, losses and lrs recorded."""

    tokens_per_step = 8

    def __init__(self, seed: int = 0) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.observed: list[int] = []
        self.losses: list[float] = []
        self.weights: list[torch.Tensor] = []

    def loss(self, model, step):
        x = torch.randn(8, 3, generator=self.gen)
        y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(8, generator=self.gen)
        loss = ((model(x).squeeze(-1) - y) ** 2).mean()
        self.losses.append(loss.item())
        return loss

    def observe(self, model, step):
        self.observed.append(step)
        self.weights.append(model.weight.detach().clone())

    def state_dict(self):
        return {"gen": self.gen.get_state(), "observed": torch.tensor(self.observed),
                "losses": torch.tensor(self.losses), "weights": self.weights}

    def load_state_dict(self, state):
        self.gen.set_state(state["gen"])
        self.observed = state["observed"].tolist()
        self.losses = state["losses"].tolist()
        self.weights = list(state["weights"])


def _model():
    torch.manual_seed(0)
    return nn.Linear(3, 1)


SPEC = OptimSpec("adamw", lr=0.05, weight_decay=0.1, schedule="cosine", t_max=7, eta_min=1e-3)


def test_observe_sees_every_step_and_the_loss_falls():
    task = Regression()
    stats = fit(_model(), task, steps=200, optim=OptimSpec("adamw", lr=0.05))
    assert task.observed == list(range(201))
    assert len(task.losses) == 200
    assert sum(task.losses[-10:]) < 0.05 * sum(task.losses[:10])
    assert stats.steps == 200 and stats.resumed_from == 0 and stats.tokens_per_s > 0


@pytest.mark.parametrize("spec", [SPEC, OptimSpec("sgd", lr=0.1, schedule="epoch-decay", steps_per_epoch=4,
                                                  decay_start=2, decay=0.5, clip=1.0)],
                         ids=["adamw-cosine", "sgd-epoch-decay"])
def test_killed_run_resumes_to_identical_numbers(spec, tmp_path):
    full_task = Regression()
    full_model = _model()
    fit(full_model, full_task, steps=23, optim=spec)
    ck = tmp_path / "run.pt"
    killed = Regression()
    with pytest.raises(Stop):
        fit(_model(), killed, steps=23, optim=spec, checkpoint=ck, checkpoint_every=5, stop_after=17)
    assert ck.is_file()
    with pytest.raises(CheckpointMismatch, match="another configuration"):
        fit(_model(), Regression(), steps=23, optim=spec, checkpoint=ck, checkpoint_every=5, fingerprint={"seed": 1})
    resumed_task = Regression(seed=99)  # its generator is restored from the checkpoint
    resumed_model = _model()
    stats = fit(resumed_model, resumed_task, steps=23, optim=spec, checkpoint=ck, checkpoint_every=5)
    assert stats.resumed_from == 15
    assert not ck.exists(), "a finished run removes its checkpoint"
    assert resumed_task.observed == full_task.observed
    assert resumed_task.losses == full_task.losses
    assert torch.equal(resumed_model.weight, full_model.weight)
    assert all(torch.equal(a, b) for a, b in zip(resumed_task.weights, full_task.weights, strict=True))


def test_a_resumed_run_is_timed_over_every_process(tmp_path):
    ck = tmp_path / "run.pt"
    with pytest.raises(Stop):
        fit(_model(), Regression(), steps=23, optim=SPEC, checkpoint=ck, checkpoint_every=5, stop_after=17)
    earlier = torch.load(ck, weights_only=True)["elapsed_s"]
    assert earlier > 0
    reset_resumed()
    assert resumed_seconds() == (0, 0.0)
    fit(_model(), Regression(), steps=23, optim=SPEC, checkpoint=ck, checkpoint_every=5)
    assert resumed_seconds() == (1, earlier)
    p = provenance("x", 2.0, code="c", commit="g", resumed=1, earlier_s=earlier)
    assert p["wall_time_s"] == pytest.approx(2.0 + earlier, abs=1e-3) and p["earlier_processes_s"] == round(earlier, 3)
    # a checkpoint written by code that did not time its processes: the wall time says it covers the last one only
    with pytest.raises(Stop):
        fit(_model(), Regression(), steps=23, optim=SPEC, checkpoint=ck, checkpoint_every=5, stop_after=17)
    state = torch.load(ck, weights_only=True)
    del state["elapsed_s"]
    torch.save(state, ck)
    reset_resumed()
    fit(_model(), Regression(), steps=23, optim=SPEC, checkpoint=ck, checkpoint_every=5)
    assert resumed_seconds() == (1, None)
    p = provenance("x", 2.0, code="c", commit="g", resumed=1, earlier_s=None)
    assert p["wall_time_s"] == 2.0 and p["wall_time_covers"] == "the finishing process only"
    assert "resumed_trainings" not in provenance("x", 2.0, code="c", commit="g")
    reset_resumed()


@pytest.mark.parametrize("spec", [SPEC, OptimSpec("sgd", lr=2.0, schedule="epoch-decay", steps_per_epoch=3,
                                                  decay_start=3, decay=0.5)], ids=["cosine", "epoch-decay"])
def test_lr_at_is_what_the_scheduler_gives(spec):
    opt, sched = build_optimizer(nn.Linear(2, 1).parameters(), spec)
    for step in range(25):
        assert opt.param_groups[0]["lr"] == pytest.approx(spec.lr_at(step), rel=1e-12, abs=1e-15)
        opt.step()
        sched.step()


def test_zaremba_schedule_decays_from_the_stated_epoch():
    spec = OptimSpec("sgd", lr=1.0, schedule="epoch-decay", steps_per_epoch=10, decay_start=5, decay=0.5)
    assert [spec.lr_at(10 * e) for e in range(6)] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25]


class TwoModels(Task):
    """Two independent regressions in one loop, clipped separately."""

    def __init__(self):
        self.norms: list[tuple[float, float]] = []

    def loss(self, model, step):
        x = torch.ones(4, 3)
        return (model[0](x) * 1000).pow(2).mean() + model[1](x).pow(2).mean() * 1e-2

    def after_backward(self, model, step):
        self.norms.append(tuple(float(torch.cat([p.grad.flatten() for p in m.parameters()]).norm()) for m in model))

    def clip_groups(self, model):
        return [list(m.parameters()) for m in model]


def test_clip_groups_are_clipped_separately():
    model = nn.ModuleList([nn.Linear(3, 1), nn.Linear(3, 1)])
    before = [p.detach().clone() for p in model[1].parameters()]
    task = TwoModels()
    fit(model, task, steps=1, optim=OptimSpec("sgd", lr=1.0, clip=1.0))
    big, small = task.norms[0]
    assert big > 1.0 > small
    moved = torch.cat([(p.detach() - b).flatten() for p, b in zip(model[1].parameters(), before, strict=True)])
    assert moved.norm().item() == pytest.approx(small, rel=1e-4), "the small model's step is not shrunk by the big one"


def test_bad_specs_raise_clear_errors():
    with pytest.raises(ConfigError, match="optimizer must be one of 'adamw', 'sgd'"):
        OptimSpec("adam")
    with pytest.raises(ConfigError, match="schedule must be one of"):
        OptimSpec(schedule="linear")
    with pytest.raises(ConfigError, match="lr must be a positive number"):
        OptimSpec(lr=0)
    with pytest.raises(ConfigError, match="plain SGD"):
        OptimSpec("sgd", weight_decay=0.1)
    with pytest.raises(ConfigError, match="t_max must be a positive integer"):
        OptimSpec(schedule="cosine", t_max=0)
    with pytest.raises(ConfigError, match="steps must be an integer >= 0"):
        fit(_model(), Regression(), steps=-1, optim=SPEC)
