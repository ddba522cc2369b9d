"""The per-beat coder and parser: one beat of scores <-> its header and payload bits."""

import functools
import operator

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import PSSALayouts

__all__ = ["ChunkCoder", "ChunkParser"]


def _prefix_counts(m, mask, lanes, name):
    """``counts[i]`` = number of set bits of ``mask`` below lane ``i``."""
    counts = [Signal(range(lanes), name=f"{name}_{i}") for i in range(lanes)]
    m.d.comb += counts[0].eq(0)
    for i in range(1, lanes):
        m.d.comb += counts[i].eq(counts[i - 1] + mask[i - 1])
    return counts


def popcount(bits):
    """Set bits of ``bits``, from small lookup tables: FPGA tools map an adder tree to carry
    chains, which are slower than LUTs at these widths. Groups of up to four bits are looked
    up, then pairs of partial counts whose bits fit a six-input table; wider pairs are
    added."""
    parts = [bits[i:i + 4] for i in range(0, len(bits), 4)]
    values = [Array(Const(bin(v).count("1"), range(len(part) + 1))
                    for v in range(1 << len(part)))[part] for part in parts]
    while len(values) > 1:
        paired = []
        for a, b in zip(values[0::2], values[1::2]):
            width = len(a) + len(b)
            if width <= 6:
                table = [(v & ((1 << len(a)) - 1)) + (v >> len(a)) for v in range(1 << width)]
                paired.append(Array(Const(t, range(max(table) + 1)) for t in table)[Cat(a, b)])
            else:
                paired.append(a + b)
        values = paired + values[len(paired) * 2:]
    return values[0]


def popcount_onehot(bits):
    """Set bits of ``bits`` as a one-hot value (bit ``k``: ``k`` bits set), for the decoder,
    whose selects take the count one-hot: groups of up to four bits are looked up, then pairs
    of partial one-hot counts are combined by AND-OR (no binary count to decode again)."""
    values = []
    for i in range(0, len(bits), 4):
        part = bits[i:i + 4]
        values.append(Array(Const(1 << bin(v).count("1"), len(part) + 1)
                            for v in range(1 << len(part)))[part])
    while len(values) > 1:
        paired = []
        for a, b in zip(values[0::2], values[1::2]):
            paired.append(Cat(
                functools.reduce(operator.or_, (a[i] & b[k - i] for i in range(len(a))
                                                if 0 <= k - i < len(b)))
                for k in range(len(a) + len(b) - 1)))
        values = paired + values[len(paired) * 2:]
    return values[0]


class ChunkCoder(wiring.Component):
    """Codes one pruned beat as the header and payload of the PSSA stream (combinational).

    The header is the flag bit (XOR bitmap non-zero) and, if the flag is set, the ``lanes``-bit
    XOR bitmap; the payload is the kept scores in lane order, ``score_bits`` each,
    least-significant bit first. The stream carries each header one beat ahead of its payload
    (``docs/formats/pssa.md``), so the encoder places the two separately. Pruning (the kept
    bitmap) is the encoder's previous stage, so that the threshold comparison and the
    compaction are in different cycles.

    Parameters
    ----------
    config : ProcessorConfig

    Members
    -------
    scores : ``In(beat)``
    mask : ``In(lanes)``
        Kept bitmap (zero in padding lanes).
    reference : ``In(lanes)``
        The reference row's bitmap for this beat (zero for a patch's first row).
    header : ``Out(1 + lanes)``
        Bit 0 the flag, bits ``1..lanes`` the XOR bitmap (zero when the flag is clear, so the
        header is zero above its length, 1 or ``1 + lanes``).
    payload : ``Out(lanes * score_bits)``
        The kept scores, packed from bit 0, zero above ``kept * score_bits``.
    kept : ``Out(range(lanes + 1))``

    Latency and throughput
    ----------------------
    Combinational (``latency`` 0); one beat per cycle.
    """

    latency = 0

    def __init__(self, config):
        p = config.pssa
        self.lanes = p.lanes
        self.score_bits = p.score_bits
        layouts = PSSALayouts(config)
        super().__init__({
            "scores": In(layouts.beat),
            "mask": In(p.lanes),
            "reference": In(p.lanes),
            "header": Out(1 + p.lanes),
            "payload": Out(p.lanes * p.score_bits),
            "kept": Out(range(p.lanes + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, bits = self.lanes, self.score_bits
        counts = _prefix_counts(m, self.mask, lanes, "slot")
        # Slot k of the packed values holds the lane with k kept lanes below it.
        slots = []
        for k in range(lanes):
            slot = Signal(bits, name=f"packed_{k}")
            m.d.comb += slot.eq(0)
            for i in range(k, lanes):
                with m.If(self.mask[i] & (counts[i] == k)):
                    m.d.comb += slot.eq(self.scores[i].as_unsigned())
            slots.append(slot)
        xor = Signal(lanes)
        m.d.comb += [
            xor.eq(self.mask ^ self.reference),
            self.header.eq(Cat(xor.any(), xor)),
            self.payload.eq(Cat(*slots)),
            self.kept.eq(popcount(self.mask)),
        ]
        return m


class ChunkParser(wiring.Component):
    """Unpacks one beat's payload into its lanes (combinational): the inverse of
    :class:`ChunkCoder`'s payload, given the beat's kept bitmap (which the decoder has from the
    header, read one step earlier).

    Parameters
    ----------
    config : ProcessorConfig

    Members
    -------
    payload : ``In(lanes * score_bits)``
        The stream's bits from the payload's first bit on (bits past the payload are ignored).
    mask : ``In(lanes)``
        The beat's kept bitmap.
    scores : ``Out(beat)``
        Kept scores in their lanes, zero elsewhere.

    Latency and throughput
    ----------------------
    Combinational (``latency`` 0); one beat per cycle.
    """

    latency = 0

    def __init__(self, config):
        p = config.pssa
        self.lanes = p.lanes
        self.score_bits = p.score_bits
        layouts = PSSALayouts(config)
        super().__init__({
            "payload": In(p.lanes * p.score_bits),
            "mask": In(p.lanes),
            "scores": Out(layouts.beat),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, bits = self.lanes, self.score_bits
        counts = _prefix_counts(m, self.mask, lanes, "slot")
        for i in range(lanes):
            m.d.comb += self.scores[i].eq(
                Mux(self.mask[i], self.payload.word_select(counts[i], bits), 0))
        return m
