"""Prose values of the bertolotti/theorems chapter (see :mod:`tiedemb.book`)."""

from __future__ import annotations
