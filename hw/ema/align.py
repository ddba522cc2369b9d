"""Byte realignment between DRAM beats (rows at any byte offset) and on-chip beats (every row
starts on a fresh beat, its last beat zero-padded)."""

import itertools

from amaranth import C, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import burst_layout

__all__ = ["track_layout", "track_fields", "row_bytes_width", "read_beat_layout",
           "write_beat_layout", "ReadAligner", "WriteAligner"]


def track_layout(ema):
    """A planned burst on its way to an aligner, with the length of its row (non-zero, used at
    the row's first beat; it travels with the burst so that the aligner reads it from a
    register). ``phantom`` bursts were never issued on the bus: the aligner still moves their
    on-chip beats (zeros out, or input discarded), so that the on-chip side of a refused or
    failed descriptor keeps its exact beat count.

    The remaining fields are functions of the others, computed in front of the track FIFO
    (:func:`track_fields`) so that the aligners' beat decisions take them from its output
    register instead of comparing there: ``single`` (``burst.len == 0``), ``late_first`` (a
    row's first burst that starts past lane 0: its first on-chip beat needs a second DRAM
    beat), ``row_whole`` and ``row_more`` (``row_bytes`` at least, above one beat)."""
    return data.StructLayout({"burst": burst_layout(ema),
                              "row_bytes": unsigned(row_bytes_width(ema)),
                              "phantom": unsigned(1),
                              "single": unsigned(1),
                              "late_first": unsigned(1),
                              "row_whole": unsigned(1),
                              "row_more": unsigned(1)})


def track_fields(track, burst, row_bytes, row_whole, row_more, phantom):
    """Assignments of a track entry for ``burst`` in a row of ``row_bytes``; the caller
    supplies ``row_bytes >= B`` and ``row_bytes > B``, which it knows ahead of the burst."""
    return [
        track.burst.eq(burst), track.row_bytes.eq(row_bytes), track.phantom.eq(phantom),
        track.single.eq(burst.len == 0),
        track.late_first.eq(burst.row_first & (burst.offset != 0)),
        track.row_whole.eq(row_whole), track.row_more.eq(row_more),
    ]


def _above_beat(value, shift):
    """``value > B`` with ``B = 2^shift``, bit by bit rather than with a carry chain: any bit
    above ``shift``, or bit ``shift`` and any bit below."""
    return value[shift + 1:].any() | (value[shift] & value[:shift].any())


def row_bytes_width(ema):
    """Width of a row length: the descriptor's, or a whole 4 KB page (a coded SAS burst)."""
    return max(ema.row_bytes_bits, 13)


def read_beat_layout(ema):
    return data.StructLayout({"data": unsigned(ema.data_width), "error": unsigned(1)})


def write_beat_layout(ema):
    return data.StructLayout({
        "data": unsigned(ema.data_width),
        "strb": unsigned(ema.data_bytes),
        "last": unsigned(1),
    })


class _RowCursor:
    """Where the current DRAM beat sits in its row, shared by both aligners.

    ``chip`` counts the row's bytes not yet moved on the on-chip side, ``span`` the bytes from
    the current DRAM beat's first lane to the row's end. At a row's first beat the registers
    are stale: there the row holds ``row_bytes`` on the chip and ``offset + row_bytes`` from
    the beat's first lane.

    The beat's strobes, byte count and masks only need these clamped to one beat:
    ``span_lanes`` (``min(span, B)``), the lane masks ``span_mask`` and ``chip_mask`` (lane
    ``k`` set if ``k < span``, ``k < chip``),
    ``chip_left`` (``chip > 0``) and ``chip_more`` (``chip > B``), all for the current beat.
    At a row's first beat they come from the low bits of ``row_bytes`` and whether it reaches
    a whole beat (rows are never empty), so that no wide add of the burst's fields lies on
    the per-beat paths.
    """

    def __init__(self, m, ema, info):
        width = row_bytes_width(ema) + 2
        lanes = ema.data_bytes
        shift = ema.beat_shift
        self.beat = Signal(8)
        # ``beat == 0``, kept as its own flip-flop: ``start`` selects the shift amount, the
        # lane masks and the strobes of every beat.
        self.first_beat = Signal(init=1)
        self.offset = Signal(shift)
        # ``offset == 0``, registered with it: it selects the read aligner's unshifted data.
        self.offset_zero = Signal(init=1)
        self.chip = Signal(signed(width))
        self.span = Signal(signed(width))
        burst = info.burst
        row_bytes = info.row_bytes
        self.start = Signal()
        self.offset_now = Signal(shift)
        self.burst_end = Signal()
        # ``beat + 1 == burst.len``, registered with each beat of a burst past its first.
        self._ends_next = Signal()
        self.span_lanes = Signal(range(lanes + 1))
        self.span_mask = Signal(lanes)
        self.chip_mask = Signal(lanes)
        self.chip_left = Signal()
        # ``chip > 0`` for the current beat as a flip-flop (set for the next row's first beat
        # when a row closes): it decides whether a write beat waits for input.
        self.chip_positive = Signal(init=1)
        # ``chip >= B`` at a beat that is not a row's first, as a flip-flop: every lane of
        # the on-chip beat is the row's.
        self.chip_whole = Signal()
        self.chip_more = Signal()
        m.d.comb += [
            self.start.eq(burst.row_first & self.first_beat),
            self.offset_now.eq(Mux(self.start, burst.offset, self.offset)),
            self.burst_end.eq(Mux(self.first_beat, info.single, self._ends_next)),
        ]
        self._row_bytes = row_bytes
        # ``offset - B``: the span after a row's first beat is ``row_bytes`` plus this, one add.
        self._lead = Signal(signed(shift + 2))
        m.d.comb += self._lead.eq(burst.offset - lanes)
        whole_beat = info.row_whole
        short_row = row_bytes[:shift]
        short_span = burst.offset + short_row
        # Compared with B = 2^shift bit by bit rather than with carry chains: ``v >= B`` is any
        # bit at or above ``shift``. ``span`` is positive at any beat that is not a row's first.
        m.d.comb += self.chip_left.eq(self.chip_positive)
        with m.If(self.start):
            m.d.comb += [
                self.span_lanes.eq(Mux(whole_beat | short_span[shift], lanes, short_span)),
                self.span_mask.eq(Cat(whole_beat | _exceeds(k, burst.offset, short_row)
                                      for k in range(lanes))),
                self.chip_mask.eq(Cat(whole_beat | _exceeds(k, short_row)
                                      for k in range(lanes))),
                self.chip_more.eq(info.row_more),
            ]
        with m.Else():
            span = self.span.as_unsigned()
            negative = self.chip[-1]
            chip = self.chip.as_unsigned()[:-1]
            m.d.comb += [
                self.span_lanes.eq(Mux(span[shift:].any(), lanes, span[:shift])),
                self.span_mask.eq(Cat(span[shift:].any() | _exceeds(k, span[:shift])
                                      for k in range(lanes))),
                self.chip_mask.eq(Cat(self.chip_whole | (~negative & _exceeds(k, chip[:shift]))
                                      for k in range(lanes))),
                self.chip_more.eq(~negative & _above_beat(chip, shift)),
            ]

    def advance(self, m, ema, info, chip_moved):
        """Update the registers for a DRAM beat that moved ``chip_moved`` on-chip beats."""
        lanes = ema.data_bytes
        m.d.sync += [
            self.beat.eq(Mux(self.burst_end, 0, self.beat + 1)),
            self._ends_next.eq(self.beat + 1 == info.burst.len),
            self.first_beat.eq(self.burst_end),
            self.offset.eq(self.offset_now),
            self.offset_zero.eq(self.offset_now == 0),
            self.chip_positive.eq(Mux(self.burst_end & info.burst.row_last, 1,
                                      Mux(chip_moved, self.chip_more, self.chip_left))),
        ]
        row_bytes = self._row_bytes
        shift = ema.beat_shift
        # ``chip - B >= B`` is ``chip >= 2 B``: bits of ``chip``, no subtraction.
        chip = self.chip.as_unsigned()
        with m.If(self.start):
            m.d.sync += [self.span.eq(row_bytes + self._lead),
                         self.chip.eq(Mux(chip_moved, row_bytes - lanes, row_bytes)),
                         self.chip_whole.eq(Mux(chip_moved, row_bytes[shift + 1:].any(),
                                                info.row_whole))]
        with m.Else():
            m.d.sync += [self.span.eq(self.span - lanes),
                         self.chip.eq(Mux(chip_moved, self.chip - lanes, self.chip))]
            with m.If(chip_moved):
                m.d.sync += self.chip_whole.eq(~chip[-1] & chip[shift + 1:-1].any())


def _exceeds(k, *values):
    """Whether the sum of the small unsigned ``values`` exceeds the constant ``k``, as a
    function of their bits (a few LUTs) rather than an add and a compare (carry chains)."""
    ranges = [range(1 << len(value)) for value in values]
    terms = [Cat(value == v for value, v in zip(values, combo)).all()
             for combo in itertools.product(*ranges) if sum(combo) > k]
    return Cat(terms).any() if terms else C(0, 1)


class ReadAligner(wiring.Component):
    """Turns DRAM read beats into on-chip beats: shifts each row down to byte 0 and clears the
    bytes past its end.

    On-chip beat ``k`` of a row that starts at byte ``offset`` of its first DRAM beat holds
    row bytes ``[k * B, k * B + B)``, i.e. bytes ``[offset + k * B, offset + k * B + B)`` of
    the row's DRAM beats (``B = data_width / 8``). Once ``zero`` is set, or for a beat with
    ``error``, or for a phantom burst, the DRAM data counts as zero.

    Parameters
    ----------
    ema : :class:`sw.config.EMAConfig`

    Members
    -------
    info : ``In(stream.Signature(track_layout(ema)))``
        One entry per burst, in bus order; consumed with the burst's last beat.
    beat : ``In(stream.Signature(read_beat_layout(ema)))``
        The AXI R beats (not used for phantom bursts).
    o : ``Out(stream.Signature(data_width))``
        On-chip beats, ``ceil(info.row_bytes / B)`` per row.
    zero : ``In(1)``
        The descriptor has failed: deliver zeros from now on.
    bus_beat : ``Out(1)``
        A bus beat was consumed this cycle.
    bus_bytes : ``Out(range(B + 1))``
        How many of its bytes belong to the row (valid with ``bus_beat``).
    burst_done : ``Out(1)``
        The last beat of a real (non-phantom) burst was consumed.
    desc_done : ``Out(1)``
        The descriptor's final on-chip beat was produced.

    Latency and throughput
    ----------------------
    ``latency`` (1) cycle from a DRAM beat to the on-chip beat it completes. One beat per
    cycle, except that a row not starting at lane 0 with as many on-chip beats as DRAM beats
    (``ceil(row_bytes / B) == ceil((offset + row_bytes) / B)``) costs one extra cycle at its
    end to flush the held beat.
    """

    latency = 1

    def __init__(self, ema):
        self._ema = ema
        super().__init__({
            "info": In(stream.Signature(track_layout(ema))),
            "beat": In(stream.Signature(read_beat_layout(ema))),
            "o": Out(stream.Signature(ema.data_width)),
            "zero": In(1),
            "bus_beat": Out(1),
            "bus_bytes": Out(range(ema.data_bytes + 1)),
            "burst_done": Out(1),
            "desc_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ema = self._ema
        lanes = ema.data_bytes
        shift = ema.beat_shift
        info = self.info.payload
        row = _RowCursor(m, ema, info)

        held = Signal(ema.data_width)
        flushing = Signal()
        flush_closes = Signal()

        phantom = info.phantom
        data = self.beat.payload.data
        # The DRAM beat counts as zero; ``held`` keeps it zeroed, the outgoing beat clears the
        # lanes it takes from it together with the lanes past the row's end, so that the
        # failure conditions gate byte lanes instead of sitting in front of the shifter.
        blank = Signal()
        m.d.comb += blank.eq(phantom | self.zero | self.beat.payload.error)
        # A row that starts mid-beat yields its first on-chip beat only with its second DRAM
        # beat (or with the flush).
        emits = Signal()
        m.d.comb += emits.eq(~(row.first_beat & info.late_first))
        # A row's first beat is emitted only when it starts at lane 0, unshifted: the shifter
        # takes the row's registered offset, not the burst's, which keeps the track FIFO's
        # output off the data path.
        unshifted = row.start | row.offset_zero
        shifted = (Cat(held, data) >> (row.offset * 8))[:ema.data_width]
        aligned = Mux(unshifted, data, shifted)
        keep = Cat(row.chip_mask[k] & ~(blank & (unshifted | _exceeds(lanes - 1 - k, row.offset)))
                   for k in range(lanes))

        out_free = ~self.o.valid | self.o.ready
        room = ~emits | out_free
        fire = Signal()
        m.d.comb += [
            fire.eq(~flushing & self.info.valid & (phantom | self.beat.valid) & room),
            self.beat.ready.eq(~flushing & self.info.valid & ~phantom & room),
            self.info.ready.eq(fire & row.burst_end),
        ]

        first_lane = Mux(row.start, info.burst.offset, 0)
        m.d.comb += [
            self.bus_beat.eq(fire & ~phantom),
            self.bus_bytes.eq(row.span_lanes - first_lane),
            self.burst_done.eq(fire & row.burst_end & ~phantom),
        ]

        row_closes = row.burst_end & info.burst.row_last
        # Bytes of the row are still held after this beat's on-chip beat (if any).
        needs_flush = row_closes & Mux(emits, row.chip_more, row.chip_left)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(fire):
            row.advance(m, ema, info, emits)
            m.d.sync += held.eq(Mux(blank, 0, data))
            with m.If(emits):
                m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(Cat(
                    Mux(keep[k], aligned.word_select(k, 8), 0) for k in range(lanes)))]
            with m.If(needs_flush):
                m.d.sync += [flushing.eq(1), flush_closes.eq(info.burst.last)]
        with m.If(flushing & out_free):
            tail = (Cat(held, Const(0, ema.data_width)) >> (row.offset * 8))[:ema.data_width]
            # A flushed beat ends its row: ``0 < chip <= B``, so the lanes it keeps follow from
            # the low bits of ``chip`` (no compare of the whole count in front of the payload).
            chip = row.chip.as_unsigned()
            tail_mask = Cat(chip[shift] | _exceeds(k, chip[:shift]) for k in range(lanes))
            m.d.sync += [self.o.valid.eq(1),
                         self.o.payload.eq(Cat(Mux(tail_mask[k], tail.word_select(k, 8), 0)
                                               for k in range(lanes))),
                         flushing.eq(0)]
        m.d.comb += self.desc_done.eq(
            (fire & row_closes & info.burst.last & ~needs_flush) |
            (flushing & out_free & flush_closes))
        return m


class WriteAligner(wiring.Component):
    """Turns on-chip beats into AXI W beats: shifts each row up to its DRAM byte offset and
    sets the write strobes of exactly the row's bytes.

    DRAM beat ``j`` of a row takes its lanes ``[offset, B)`` from on-chip beat ``j`` and its
    lanes ``[0, offset)`` from on-chip beat ``j - 1``; a row whose last DRAM beat has no
    on-chip beat of its own is completed from the held one without consuming input.
    Phantom bursts consume their on-chip beats and produce no W beats.

    Parameters
    ----------
    ema : :class:`sw.config.EMAConfig`

    Members
    -------
    info : ``In(stream.Signature(track_layout(ema)))``
        One entry per burst, in bus order; consumed with the burst's last beat.
    i : ``In(stream.Signature(data_width))``
        On-chip beats, ``ceil(info.row_bytes / B)`` per row, bytes past the row's end ignored.
    w : ``Out(stream.Signature(write_beat_layout(ema)))``
        The AXI W beats, ``last`` set on each burst's final beat.
    desc_done : ``Out(1)``
        The descriptor's final W beat (or phantom beat) was produced.

    Latency and throughput
    ----------------------
    ``latency`` (1) cycle from an on-chip beat to its W beat; one beat per cycle.
    """

    latency = 1

    def __init__(self, ema):
        self._ema = ema
        super().__init__({
            "info": In(stream.Signature(track_layout(ema))),
            "i": In(stream.Signature(ema.data_width)),
            "w": Out(stream.Signature(write_beat_layout(ema))),
            "desc_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ema = self._ema
        lanes = ema.data_bytes
        info = self.info.payload
        row = _RowCursor(m, ema, info)
        phantom = info.phantom

        held = Signal(ema.data_width)
        takes_input = Signal()
        m.d.comb += takes_input.eq(row.chip_left)
        current = Mux(takes_input, self.i.payload, 0)
        # Shifting the (previous, current) pair up by ``offset`` lanes leaves the last
        # ``offset`` lanes of the previous on-chip beat below the current one's first lanes.
        # A row's first beat has no previous one and takes the burst's offset; the other beats
        # take the registered one. Two shifters, so that the track FIFO's output only selects.
        width = ema.data_width
        first_shifted = (current << (info.burst.offset * 8))[:width]
        next_shifted = (Cat(held, current) << (row.offset * 8))[width:2 * width]
        shifted = Mux(row.start, first_shifted, next_shifted)

        # A row's first beat starts at the burst's offset; the last one ends at the span.
        strobes = Cat(~(row.start & _exceeds(k, info.burst.offset)) & row.span_mask[k]
                      for k in range(lanes))

        go = Signal()
        fire = Signal()
        m.d.comb += [
            go.eq(self.info.valid & (phantom | ~self.w.valid | self.w.ready)),
            fire.eq(go & (~takes_input | self.i.valid)),
            self.i.ready.eq(go & takes_input),
            self.info.ready.eq(fire & row.burst_end),
            self.desc_done.eq(fire & row.burst_end & info.burst.last),
        ]

        with m.If(self.w.ready):
            m.d.sync += self.w.valid.eq(0)
        with m.If(fire):
            row.advance(m, ema, info, takes_input)
            with m.If(takes_input):
                m.d.sync += held.eq(self.i.payload)
            with m.If(~phantom):
                m.d.sync += [
                    self.w.valid.eq(1),
                    self.w.payload.data.eq(shifted),
                    self.w.payload.strb.eq(strobes),
                    self.w.payload.last.eq(row.burst_end),
                ]
        return m
