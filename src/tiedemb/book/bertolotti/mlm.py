"""Prose values of the bertolotti/mlm chapter (see :mod:`tiedemb.book`)."""

from __future__ import annotations
