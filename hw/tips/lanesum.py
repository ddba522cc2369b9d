from amaranth import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["MaskedLaneSum", "tree_sum"]


def _add_pairs(terms):
    """One level of a balanced adder tree."""
    paired = [a + b for a, b in zip(terms[0::2], terms[1::2])]
    if len(terms) % 2:
        paired.append(terms[-1])
    return paired


def tree_sum(terms):
    """Sum of ``terms`` in a balanced adder tree: log2(n) adders deep instead of a chain of n."""
    while len(terms) > 1:
        terms = _add_pairs(terms)
    return terms[0]


class MaskedLaneSum(wiring.Component):
    """The registered sum of one beat's unsigned values whose mask bit is set.

    ``sum`` is ``sum over j of (mask[j] ? values[j] : 0)`` of the last beat presented with
    ``en`` set, ``latency`` cycles after it; it holds while ``en`` stays low. The adders form a
    balanced tree, cut by a register after its first half of levels.

    Parameters
    ----------
    value_bits : int
        Width of each unsigned value.
    lanes : int
        Values per beat.

    Members
    -------
    values : ``In(data.ArrayLayout(unsigned(value_bits), lanes))``
    mask : ``In(lanes)``
        Bit ``j`` includes ``values[j]``.
    en : ``In(1)``
    sum : ``Out(unsigned(sum_bits))``
        ``sum_bits`` = width of ``lanes * (2^value_bits - 1)``: never overflows.

    Latency and throughput
    ----------------------
    ``latency`` (2) cycles; one beat per cycle.
    """

    latency = 2

    def __init__(self, value_bits, lanes):
        if value_bits < 1 or lanes < 1:
            raise ValueError(f"MaskedLaneSum needs value_bits >= 1 (got {value_bits}) and "
                             f"lanes >= 1 (got {lanes})")
        self.value_bits = value_bits
        self.lanes = lanes
        self.sum_bits = (lanes * ((1 << value_bits) - 1)).bit_length()
        super().__init__({
            "values": In(data.ArrayLayout(unsigned(value_bits), lanes)),
            "mask": In(lanes),
            "en": In(1),
            "sum": Out(unsigned(self.sum_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        masked = []
        for j in range(self.lanes):
            lane = Signal(unsigned(self.value_bits), name=f"masked_{j}")
            m.d.comb += lane.eq(self.values[j] & self.mask[j].replicate(self.value_bits))
            masked.append(lane)
        # The first half of the tree's levels (the masking folded into their first adders),
        # registered; a whole tree of 8 lanes is over 9 ns on ECP5 without DSPs.
        levels = (self.lanes - 1).bit_length()
        terms = masked
        for _ in range(levels // 2):
            terms = _add_pairs(terms)
        partial = []
        for j, term in enumerate(terms):
            held = Signal(len(term), name=f"partial_{j}")
            with m.If(self.en):
                m.d.sync += held.eq(term)
            partial.append(held)
        m.d.sync += self.sum.eq(tree_sum(partial))
        return m
