"""Prose of the Bertolotti & Cazzola chapters."""
