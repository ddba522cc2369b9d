from amaranth import C, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import burst_layout, descriptor_layout

__all__ = ["BurstPlanner", "CodedBurstPlanner"]

# AXI forbids an INCR burst from crossing a 4 KB boundary.
PAGE_BYTES = 4096


class BurstPlanner(wiring.Component):
    """Splits a 2-D descriptor into AXI INCR bursts.

    Each row ``[addr + r * stride, addr + r * stride + row_bytes)`` is covered by bursts of
    whole beats that start at the current byte address rounded down to a beat, and end at the
    earliest of ``max_burst`` beats, the next 4 KB boundary and the row's last beat. Addresses
    wrap modulo ``2^addr_width`` (the controller's window check keeps them from wrapping).

    Parameters
    ----------
    ema : :class:`sw.config.EMAConfig`

    Members
    -------
    cmd : ``In(stream.Signature(descriptor_layout(ema)))``
        The descriptor; ``direction`` and ``tclass`` are ignored. ``rows`` and ``row_bytes``
        must be non-zero (the controller refuses empty descriptors before they get here).
    burst : ``Out(stream.Signature(burst_layout(ema)))``
        The bursts in address order; ``last`` marks the descriptor's final burst.

    Latency and throughput
    ----------------------
    ``latency`` (3) cycles from the ``cmd`` handshake to the first ``burst.valid`` (the
    command is stored, its first row set up, its first burst planned); then one burst per
    cycle. A new ``cmd`` is accepted in the cycle after the last burst is planned.
    """

    latency = 3

    def __init__(self, ema):
        self._ema = ema
        super().__init__({
            "cmd": In(stream.Signature(descriptor_layout(ema))),
            "burst": Out(stream.Signature(burst_layout(ema))),
        })

    def elaborate(self, platform):
        m = Module()
        ema = self._ema
        shift = ema.beat_shift
        page_beats = PAGE_BYTES // ema.data_bytes

        # The state is kept in beats, per row: ``rem`` beats from ``cur`` to the row's end,
        # ``page`` beats to the next 4 KB boundary, ``limit``, the longest burst both it and
        # ``max_burst`` (``MB``) allow, and ``row_ends`` (``rem <= limit``), decided one burst
        # ahead. Every register of the planner changes with ``row_ends``: it is a flip-flop so
        # that no compare sits in front of them all, and each next value is one add or compare
        # of registers. Every row, the first one too, starts from ``next_row``, whose address
        # is summed one row ahead, and whether its first burst ends it (``next_fits``) is
        # decided from ``after_row``, the row after it, so that it is a flip-flop when the row
        # starts; the command's cycle only stores them.
        busy = Signal()
        loading = Signal()
        rows_left = Signal(ema.rows_bits)
        last_row = Signal()
        cur = Signal(ema.addr_width)
        next_row = Signal(ema.addr_width)
        after_row = Signal(ema.addr_width)
        next_fits = Signal()
        row_bytes_m1 = Signal(ema.row_bytes_bits)
        row_span = Signal(ema.row_bytes_bits + 1)
        stride = Signal(ema.addr_width)
        row_first = Signal()
        rem = Signal(ema.row_bytes_bits + 1)
        page = Signal(range(page_beats + 1))
        limit = Signal(range(min(ema.max_burst, page_beats) + 1))
        row_ends = Signal()
        # ``page == limit``: the next burst, if it does not end the row, ends at the page.
        page_ends = Signal()
        # The burst after one that ends at the page's boundary may take ``min(P, MB)`` beats;
        # ``page_far`` is ``page + min(P, MB)``, so that whether it ends the row is a compare.
        whole_page = min(page_beats, ema.max_burst)
        page_far = Signal(range(page_beats + whole_page + 1))

        def fits(addr, length_m1):
            """Whether a row of ``length_m1 + 1`` bytes at ``addr`` is one burst: it fits in
            the page and in ``MB`` beats. With ``a`` the address within its page and ``o``
            within its beat, ``a + L <= 4096`` and ``o + L <= MB * B``, i.e. ``L - 1 <= ~a``
            and ``L - 1 <= (MB - 1) * B + ~o`` (``~`` over 12 and ``shift`` bits), compares
            without adds."""
            last_fit = Cat(~addr[:shift], C(ema.max_burst - 1, ema.max_burst.bit_length()))
            return (length_m1 <= ~addr[:12]) & (length_m1 <= last_fit)

        def start_row():
            """Register updates that start the row at ``next_row``."""
            page_beat = next_row[shift:12]
            first_page = page_beats - page_beat
            return [
                cur.eq(next_row), row_first.eq(1),
                rem.eq((next_row[:shift] + row_span) >> shift),
                page.eq(first_page),
                page_far.eq(page_beats + whole_page - page_beat),
                limit.eq(Mux(page_beat > page_beats - ema.max_burst, first_page,
                             ema.max_burst)),
                page_ends.eq(page_beat >= page_beats - ema.max_burst),
                row_ends.eq(next_fits),
                next_row.eq(after_row),
                after_row.eq(after_row + stride),
                next_fits.eq(fits(after_row, row_bytes_m1)),
            ]

        m.d.comb += self.cmd.ready.eq(~busy)
        with m.If(self.cmd.valid & ~busy):
            cmd = self.cmd.payload
            m.d.sync += [
                busy.eq(1), loading.eq(1), rows_left.eq(cmd.rows),
                last_row.eq(cmd.rows == 1), next_row.eq(cmd.addr),
                after_row.eq(cmd.addr + cmd.stride),
                next_fits.eq(fits(cmd.addr, (cmd.row_bytes - 1)[:ema.row_bytes_bits])),
                row_bytes_m1.eq(cmd.row_bytes - 1), row_span.eq(cmd.row_bytes + ema.data_bytes - 1),
                stride.eq(cmd.stride),
            ]
        with m.If(loading):
            m.d.sync += [loading.eq(0)] + start_row()

        with m.If(self.burst.ready):
            m.d.sync += self.burst.valid.eq(0)
        with m.If(busy & ~loading & (~self.burst.valid | self.burst.ready)):
            out = self.burst.payload
            m.d.sync += [
                self.burst.valid.eq(1),
                out.addr.eq(Cat(C(0, shift), cur[shift:])),
                out.len.eq(Mux(row_ends, rem, limit) - 1),
                out.offset.eq(cur[:shift]),
                out.row_first.eq(row_first),
                out.row_last.eq(row_ends),
                out.last.eq(row_ends & last_row),
            ]
            with m.If(row_ends):
                m.d.sync += [rows_left.eq(rows_left - 1), last_row.eq(rows_left == 2)]
                m.d.sync += start_row()
                with m.If(last_row):
                    m.d.sync += busy.eq(0)
            with m.Else():
                m.d.sync += [
                    cur.eq(Cat(C(0, shift), cur[shift:]) + (limit << shift)),
                    row_first.eq(0),
                    rem.eq(rem - limit),
                ]
                with m.If(page_ends):
                    # The burst stopped at the page's end: a whole page follows.
                    m.d.sync += [
                        page.eq(page_beats), page_far.eq(page_beats + whole_page),
                        limit.eq(whole_page), page_ends.eq(page_beats == whole_page),
                        row_ends.eq(rem <= page_far),
                    ]
                with m.Else():
                    # The burst took ``MB`` beats: ``rem - MB <= min(page - MB, MB)``.
                    m.d.sync += [
                        page.eq(page - ema.max_burst), page_far.eq(page_far - ema.max_burst),
                        limit.eq(Mux(page < 2 * ema.max_burst, page - ema.max_burst,
                                     ema.max_burst)),
                        page_ends.eq(page <= 2 * ema.max_burst),
                        row_ends.eq((rem <= page) & (rem <= 2 * ema.max_burst)),
                    ]
        return m


class CodedBurstPlanner(wiring.Component):
    """Plans the bursts of a 1-D run of whole beats that may still be growing (a coded SAS
    tile being written while the encoder produces it, or one of known length being read).

    Starting at a beat-aligned address, each burst is as long as ``max_burst`` beats and the
    next 4 KB boundary allow. A burst is planned only once its beats exist and, unless the
    run is ``finished``, at least one more beat exists after it, so that the run's final
    burst is known to be final when it is planned (``last``). Every burst is its own row
    (``row_first``, ``row_last``, ``offset`` 0).

    Parameters
    ----------
    ema : :class:`sw.config.EMAConfig`
    words_bits : int
        Width of the word counts.

    Members
    -------
    cmd : ``In(stream.Signature({"addr", "words", "finished"}))``
        Start address (beat-aligned), beats available now, and whether that is all of them.
        A finished run must have at least one beat.
    produced : ``In(1)``
        One more beat exists (any cycle while the run is planned).
    finished : ``In(1)``
        No more beats will be produced.
    burst : ``Out(stream.Signature(burst_layout(ema)))``

    Latency and throughput
    ----------------------
    ``latency`` (3) cycles from the ``cmd`` handshake (or the beat that completes a burst, or
    ``finished``) to ``burst.valid``; then one burst every other cycle while beats are
    available (a burst covers at least one beat, and a whole ``max_burst`` except at a 4 KB
    boundary or the run's end).
    """

    latency = 3

    def __init__(self, ema, words_bits):
        self._ema = ema
        self._words_bits = words_bits
        super().__init__({
            "cmd": In(stream.Signature(data.StructLayout({
                "addr": unsigned(ema.addr_width), "words": unsigned(words_bits),
                "finished": unsigned(1)}))),
            "produced": In(1),
            "finished": In(1),
            "burst": Out(stream.Signature(burst_layout(ema))),
        })

    def elaborate(self, platform):
        m = Module()
        ema = self._ema
        shift = ema.beat_shift
        page_beats = PAGE_BYTES // ema.data_bytes
        whole_page = min(page_beats, ema.max_burst)

        busy = Signal()
        cur = Signal(ema.addr_width)
        available = Signal(self._words_bits)
        finished = Signal()
        # As in :class:`BurstPlanner`, the page and the longest burst it allows are kept in
        # beats and updated from registers, so that deciding a burst is one compare.
        page = Signal(range(page_beats + 1))
        limit = Signal(range(whole_page + 1))
        limit_m1 = Signal.like(limit)

        # Whether a burst can be planned is decided from registered compares of the previous
        # cycle's state, so that ``plan`` (the enable of every register here) is a gate of
        # flip-flops. Without a plan, ``available`` only grows, and it no longer grows once
        # ``finished`` is set, so the stale flags stay true; after a plan (or a command) they
        # are one cycle out of date and ``settling`` holds the next plan back.
        more_after = Signal()
        closing = Signal()
        settling = Signal()
        m.d.sync += [
            more_after.eq(available > limit),
            closing.eq(finished & (available != 0) & (available <= limit)),
            settling.eq(0),
        ]
        plan = (busy & ~settling & (more_after | closing) &
                (~self.burst.valid | self.burst.ready))
        with m.If(plan):
            m.d.sync += settling.eq(1)

        m.d.comb += self.cmd.ready.eq(~busy)
        with m.If(self.cmd.valid & ~busy):
            cmd = self.cmd.payload
            page_beat = cmd.addr[shift:12]
            first_limit = Mux(page_beat > page_beats - ema.max_burst, page_beats - page_beat,
                              ema.max_burst)
            m.d.sync += [busy.eq(1), settling.eq(1), cur.eq(cmd.addr), available.eq(cmd.words),
                         finished.eq(cmd.finished), page.eq(page_beats - page_beat),
                         limit.eq(first_limit), limit_m1.eq(first_limit - 1)]
        with m.Else():
            # ``available + produced - beats``, each candidate one add of registers.
            with m.If(plan & more_after):
                m.d.sync += available.eq(Mux(self.produced, available - limit_m1,
                                             available - limit))
            with m.Elif(plan):
                m.d.sync += available.eq(self.produced)
            with m.Else():
                m.d.sync += available.eq(available + self.produced)
            with m.If(self.finished):
                m.d.sync += finished.eq(1)

        with m.If(self.burst.ready):
            m.d.sync += self.burst.valid.eq(0)
        with m.If(plan):
            out = self.burst.payload
            m.d.sync += [
                self.burst.valid.eq(1), out.addr.eq(cur),
                out.len.eq(Mux(more_after, limit_m1, available - 1)),
                out.offset.eq(0), out.row_first.eq(1), out.row_last.eq(1), out.last.eq(closing),
                # Only a burst that leaves beats after it is followed by another one.
                cur.eq(cur + (limit << shift)),
            ]
            with m.If(page == limit):
                m.d.sync += [page.eq(page_beats), limit.eq(whole_page),
                             limit_m1.eq(whole_page - 1)]
            with m.Else():
                rest = page - ema.max_burst
                m.d.sync += [
                    page.eq(rest),
                    limit.eq(Mux(page < 2 * ema.max_burst, rest, ema.max_burst)),
                    limit_m1.eq(Mux(page < 2 * ema.max_burst, page - (ema.max_burst + 1),
                                     ema.max_burst - 1)),
                ]
            with m.If(closing):
                m.d.sync += busy.eq(0)
        return m
