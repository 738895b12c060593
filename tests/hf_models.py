"""Tiny Hugging Face model folders that tests write locally (nothing is downloaded)."""

from __future__ import annotations

import json

import torch


def write_gpt2(folder, *, head: bool = True, vocab_size: int = 257, n_positions: int = 64, n_embd: int = 16,
               n_layer: int = 2, seed: int = 0):
    """A tiny random GPT-2 (2 layers, d 16) with a byte-level tokenizer without merges; with its LM head or bare."""
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = iter(range(256, 512))
    chars = [chr(b) if b in printable else chr(next(extra)) for b in range(256)]  # GPT-2's byte-to-character map
    vocab = {c: i for i, c in enumerate(chars)} | {"<|endoftext|>": 256}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = transformers.GPT2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=vocab_size, n_embd=n_embd, n_layer=n_layer, n_head=2,
                                     n_positions=n_positions, bos_token_id=256, eos_token_id=256)
    model = transformers.GPT2LMHeadModel(config) if head else transformers.GPT2Model(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def write_gpt2_run(root, steps=(0, 10, 100), **kwargs):
    """A tiny "training run": checkpoints root/step<N>, the first a random GPT-2 (:func:`write_gpt2`), each later one
    the one before with every parameter moved by seeded noise (so every layer moves, and the last is the final one).
    """
    import transformers

    g = torch.Generator().manual_seed(1)
    previous = None
    for step in steps:
        folder = write_gpt2(root / f"step{step}", **kwargs)
        if previous is not None:
            model = transformers.GPT2LMHeadModel.from_pretrained(previous, local_files_only=True)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.1 * torch.randn(p.shape, generator=g))
            model.save_pretrained(folder)
        previous = folder
    return root
