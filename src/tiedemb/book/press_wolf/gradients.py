"""Prose values of the press_wolf/gradients chapter (see :mod:`tiedemb.book`)."""

from __future__ import annotations
