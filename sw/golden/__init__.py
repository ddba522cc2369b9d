"""Bit-exact numpy golden models, one module per block."""
