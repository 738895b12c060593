"""Pure metric functions on embeddings and models."""
