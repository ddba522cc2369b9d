"""Golden model of the shared pieces in ``hw/common``."""

import numpy as np

__all__ = ["mac_sequence", "to_signed"]


def to_signed(raw, width):
    """Two's-complement reading of ``width``-bit unsigned values."""
    raw = np.asarray(raw, dtype=np.int64)
    return np.where(raw >> (width - 1) & 1, raw - (1 << width), raw)


def mac_sequence(a, a_signed, b, shift, clear, a_width):
    """Accumulator value after each step of :class:`hw.common.SignedMAC` with ``en`` set.

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
