"""The per-beat coder and parser: one beat of scores <-> one variable-length chunk of bits."""

import functools
import operator

from amaranth import Array, Cat, Const, Module, Mux, Signal, unsigned
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
    """Set bits of ``bits``, from small lookup tables: the chunk length is on the decoder's
    one-cycle recurrence, and FPGA tools map an adder tree to carry chains, which are slower
    here than LUTs. Groups of up to four bits are looked up, then pairs of partial counts
    whose bits fit a six-input table; wider pairs are added."""
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
    """Set bits of ``bits`` as a one-hot value (bit ``k``: ``k`` bits set), for the decoder's
    chunk loop, which selects by count: groups of up to four bits are looked up, then pairs of
    partial one-hot counts are combined by AND-OR (no binary count to decode again)."""
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


def _lane_mask(m, valid_lanes, lanes):
    valid = Signal(lanes)
    m.d.comb += valid.eq(Cat(valid_lanes > i for i in range(lanes)))
    return valid


class ChunkCoder(wiring.Component):
    """Codes one pruned beat as one chunk of the PSSA stream (combinational).

    The chunk is: flag bit (XOR bitmap non-zero), the ``lanes``-bit XOR bitmap if the flag is
    set, then the kept scores in lane order, ``score_bits`` each, least-significant bit first.
    Pruning (the kept bitmap) is the encoder's previous stage, so that the threshold
    comparison and the compaction are in different cycles.

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
    chunk : ``Out(max_chunk_bits)``
        The chunk, zero above ``length``.
    length : ``Out(range(max_chunk_bits + 1))``
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
        self.max_chunk_bits = p.max_chunk_bits
        layouts = PSSALayouts(config)
        super().__init__({
            "scores": In(layouts.beat),
            "mask": In(p.lanes),
            "reference": In(p.lanes),
            "chunk": Out(p.max_chunk_bits),
            "length": Out(range(p.max_chunk_bits + 1)),
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
        packed = Cat(*slots)
        xor = Signal(lanes)
        m.d.comb += xor.eq(self.mask ^ self.reference)
        flag = xor.any()
        m.d.comb += [
            self.chunk.eq(Mux(flag, Cat(1, xor, packed), Cat(0, packed))),
            self.kept.eq(popcount(self.mask)),
            self.length.eq(Mux(flag, 1 + lanes, 1) + popcount(self.mask) * bits),
        ]
        return m


class ChunkParser(wiring.Component):
    """Parses the chunk at the head of the bit buffer into one beat of pruned scores
    (combinational): the exact inverse of :class:`ChunkCoder`.

    Parameters
    ----------
    config : ProcessorConfig

    Members
    -------
    bits : ``In(max_chunk_bits)``
        The next bits of the stream (zero past the bits received).
    valid_lanes : ``In(range(lanes + 1))``
    reference : ``In(lanes)``
    scores : ``Out(beat)``
        Kept scores in their lanes, zero elsewhere.
    mask : ``Out(lanes)``
    length : ``Out(range(max_chunk_bits + 1))``
        Bits this chunk occupies; only meaningful once at least that many bits are present
        (with fewer, it is larger than the bits present).
    bad_lane : ``Out(1)``
        The XOR bitmap marks a padding lane.

    Latency and throughput
    ----------------------
    Combinational (``latency`` 0); one beat per cycle.
    """

    latency = 0

    def __init__(self, config):
        p = config.pssa
        self.lanes = p.lanes
        self.score_bits = p.score_bits
        self.max_chunk_bits = p.max_chunk_bits
        layouts = PSSALayouts(config)
        super().__init__({
            "bits": In(p.max_chunk_bits),
            "valid_lanes": In(range(p.lanes + 1)),
            "reference": In(p.lanes),
            "scores": Out(layouts.beat),
            "mask": Out(p.lanes),
            "length": Out(range(p.max_chunk_bits + 1)),
            "bad_lane": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, bits = self.lanes, self.score_bits
        flag = self.bits[0]
        xor = Signal(lanes)
        m.d.comb += xor.eq(Mux(flag, self.bits[1:1 + lanes], 0))
        m.d.comb += self.mask.eq(self.reference ^ xor)
        valid = _lane_mask(m, self.valid_lanes, lanes)
        m.d.comb += self.bad_lane.eq((xor & ~valid).any())
        packed = Signal(unsigned(lanes * bits))
        m.d.comb += packed.eq(Mux(flag, self.bits[1 + lanes:], self.bits[1:]))
        counts = _prefix_counts(m, self.mask, lanes, "slot")
        for i in range(lanes):
            m.d.comb += self.scores[i].eq(
                Mux(self.mask[i], packed.word_select(counts[i], bits), 0))
        m.d.comb += self.length.eq(Mux(flag, 1 + lanes, 1) + popcount(self.mask) * bits)
        return m
