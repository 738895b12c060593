"""Progress bars: on at a terminal, off in CI and in notebooks (unless TIEDEMB_PROGRESS=1)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from ..config import progress_enabled

T = TypeVar("T")


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar when progress bars are enabled."""
    if not progress_enabled():
        return iterable
    # Imported here: importing tqdm.auto in a kernel without ipywidgets writes a TqdmWarning (with a path) to stderr,
    # which would end up in every notebook's committed outputs.
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)
