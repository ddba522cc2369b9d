"""Golden model of the shared pieces in ``hw/common``."""

import numpy as np

__all__ = ["mac_sequence", "to_signed", "requantize"]


def to_signed(raw, width):
    """Two's-complement reading of ``width``-bit unsigned values."""
    raw = np.asarray(raw, dtype=np.int64)
    return np.where(raw >> (width - 1) & 1, raw - (1 << width), raw)


def mac_sequence(a, a_signed, b, shift, clear, a_width):
    """Accumulator value after each step of :class:`hw.common.SignedMAC` with ``en`` set, as
    it lands ``SignedMAC.latency`` advancing cycles later.

    ``a`` holds raw ``a_width``-bit operands, read as signed where ``a_signed`` is set.
    Returns an int64 array, one accumulator value per step.
    """
    a = np.where(np.asarray(a_signed, dtype=bool), to_signed(a, a_width),
                 np.asarray(a, dtype=np.int64))
    products = a * np.asarray(b, dtype=np.int64) << np.asarray(shift, dtype=np.int64)
    out = np.empty(len(products), dtype=np.int64)
    acc = 0
    for i, (product, restart) in enumerate(zip(products, clear)):
        acc = int(product) + (0 if restart else acc)
        out[i] = acc
    return out


def requantize(acc, shift, out_bits, out_signed=True):
    """Reference of :class:`hw.common.Requantizer`: shift right with round half up (towards
    +infinity on ties), then saturate to the ``out_bits`` signed or unsigned range."""
    acc = np.asarray(acc, dtype=object)  # exact for any accumulator width
    rounded = (acc + (1 << (shift - 1))) >> shift if shift else acc
    lo, hi = ((-(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1) if out_signed
              else (0, (1 << out_bits) - 1))
    return np.clip(rounded, lo, hi).astype(np.int64)
