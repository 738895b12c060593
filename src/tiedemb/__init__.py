"""tiedemb: the package behind the executable book *Tied Embeddings, Executed*."""

from .config import pin_cpu_kernels

__version__ = "0.1.0"

pin_cpu_kernels()  # before torch computes anything: the same CPU code paths, hence the same numbers, on every machine
