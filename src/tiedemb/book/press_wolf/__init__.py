"""Prose of the Press & Wolf chapters."""
