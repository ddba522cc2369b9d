from amaranth import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["MaskedLaneSum"]


def _tree_sum(terms):
    # A balanced tree keeps the adder depth at log2(lanes) instead of a chain of lanes adders.
    while len(terms) > 1:
        paired = [a + b for a, b in zip(terms[0::2], terms[1::2])]
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    return terms[0]


class MaskedLaneSum(wiring.Component):
    """The registered sum of one beat's unsigned values whose mask bit is set.

    ``sum <= sum over j of (mask[j] ? values[j] : 0)`` on each cycle with ``en`` set; the sum
    holds otherwise. The adders form a balanced tree.

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
    ``latency`` (1) cycle; one beat per cycle.
    """

    latency = 1

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
        with m.If(self.en):
            m.d.sync += self.sum.eq(_tree_sum(masked))
        return m
