"""Software for :class:`hw.top.SDProcessor`: command encoding, a program builder that lays out
operands in DRAM in the array's beat order, and a host driver over the CSR port."""

from .host import Host
from .isa import encode_fence, encode_gemm, encode_load, encode_store
from .program import GemmTile, ProgramBuilder

__all__ = ["Host", "ProgramBuilder", "GemmTile", "encode_load", "encode_store", "encode_gemm",
           "encode_fence"]
