"""Models of the book. Every model ties through :func:`tiedemb.models.tying.tie_embeddings`."""

from .lm import LSTMLanguageModel, TransformerLanguageModel
from .tying import count_parameters, is_tied, tie_embeddings, tie_stacked_embeddings, untie_embeddings

__all__ = [
    "LSTMLanguageModel",
    "TransformerLanguageModel",
    "count_parameters",
    "is_tied",
    "tie_embeddings",
    "tie_stacked_embeddings",
    "untie_embeddings",
]
