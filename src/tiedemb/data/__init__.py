"""Data: generated languages and offline corpora."""
