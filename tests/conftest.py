"""Shared fixtures. The results cache is the one of the environment (TIEDEMB_CACHE_DIR, set by dev.sh), so claim tests,
nbval and the book build compute each quick-scale experiment once per run; tests that write use a temporary one."""

from __future__ import annotations

# ruff: noqa: I001
import tiedemb  # noqa: F401 - first: pins the CPU code paths before numpy and torch load (tiedemb.config)
import pytest


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A fresh, empty results cache for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TIEDEMB_CACHE_DIR", str(folder))
    return folder
