"""The processor top level and the pieces only it needs (CSR bank)."""

from .csr import CSR, CSRBank

__all__ = ["CSR", "CSRBank", "BLOCKS"]

#: The top level registers itself here once it exists.
BLOCKS = {}
