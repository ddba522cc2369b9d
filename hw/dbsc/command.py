"""The DBSC command word and the payload layouts of its operand and result streams.

The command layout is a fixed :class:`amaranth.lib.data.Struct` that does not depend on the
configuration, so that the top-level integration and software can build commands for any array
size. Its bit layout (first field at bit 0) is::

    bit  0       mode       0 = weight-stationary (WS), 1 = output-stationary (OS)
    bits 1..2    precision  0 = per-token bitmap from the ``prec`` stream,
                            1 = every token high, 2 = every token low, 3 = reserved (error)
    bits 3..19   m          tokens (activation rows) in the tile, 1 .. dbsc.max_m
    bits 20..36  k          reduction length, 1 .. dbsc.max_k
"""

from amaranth import signed, unsigned
from amaranth.lib import data, enum

__all__ = ["Mode", "Precision", "Command", "COUNT_BITS", "act_layout", "weight_layout",
           "result_layout", "precision_layout"]

#: Width of the ``m`` and ``k`` fields: holds 65536, the largest ``max_m``/``max_k`` allowed.
COUNT_BITS = 17


class Mode(enum.Enum, shape=1):
    """Dataflow of one tile."""
    WS = 0
    OS = 1


class Precision(enum.Enum, shape=2):
    """Where the per-token precision of a tile comes from."""
    BITMAP = 0
    ALL_HIGH = 1
    ALL_LOW = 2


class Command(data.Struct):
    """One tile: ``result (m x cols) = act (m x k) @ weights (k x cols)``.

    Fields
    ------
    mode : :class:`Mode`
    precision : :class:`Precision`
        The reserved encoding 3 is rejected with ``error``.
    m : unsigned(17)
        Tokens, ``1 .. max_m``.
    k : unsigned(17)
        Reduction length, ``1 .. max_k``.
    """

    mode: Mode
    precision: unsigned(2)  # a Precision, or the reserved 3
    m: unsigned(COUNT_BITS)
    k: unsigned(COUNT_BITS)


def act_layout(cfg):
    """Activation beat: ``rows`` signed activations, lane ``r`` feeds PE row ``r``."""
    return data.ArrayLayout(signed(cfg.act_bits_high), cfg.rows)


def weight_layout(cfg):
    """Weight beat: one row of the weight matrix, ``cols`` signed weights."""
    return data.ArrayLayout(signed(cfg.weight_bits), cfg.cols)


def result_layout(cfg):
    """Result beat: one row of the result, ``cols`` signed ``acc_bits`` sums."""
    return data.ArrayLayout(signed(cfg.acc_bits), cfg.cols)


def precision_layout(cfg):
    """Precision beat: ``rows`` bits, bit ``r`` of beat ``g`` is token ``g * rows + r``
    (1 = high precision)."""
    return unsigned(cfg.rows)
