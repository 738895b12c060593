"""Training loops and progress reporting."""
