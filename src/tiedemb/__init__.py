"""tiedemb: the package behind the executable book *Tied Embeddings, Executed*."""

__version__ = "0.1.0"
