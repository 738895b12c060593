"""Prose values of the bertolotti/xor chapter (see :mod:`tiedemb.book`)."""

from __future__ import annotations
