from amaranth import Module, Mux, Signal
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from .chunk import ChunkParser
from .layouts import ErrorCode, Policy
from .side import CodecSide

__all__ = ["PSSADecoder"]


class PSSADecoder(CodecSide):
    """Decodes one tile of the PSSA word stream back into pruned score rows.

    The exact inverse of :class:`hw.pssa.PSSAEncoder` (and of :func:`sw.golden.pssa.encode`):
    it outputs ``n_rows * ceil(n_keys / lanes)`` beats, kept scores in place and zeros
    elsewhere (padding lanes included). The reference bitmap of the current patch is kept on
    chip.

    A malformed tile sets ``error`` (``error_code`` says why, as
    :class:`sw.golden.pssa.StreamError` does): the decoder stops producing beats at once,
    consumes the rest of the tile's ``words`` words (so the next tile starts aligned), pulses
    ``done`` and takes the next command. It never outputs more beats than the tile has and
    never waits for words beyond ``words``.

    Parameters
    ----------
    config : ProcessorConfig
        Uses ``pssa.*`` and ``ema.data_width``.

    Members
    -------
    cmd : ``In(stream.Signature(decoder_command))``
        ``n_rows``, ``n_keys``, ``policy``, ``words`` (the encoder's metadata).
    inp : ``In(stream.Signature(data_width))``
        The tile's words.
    scores : ``Out(stream.Signature(beat))``
        Pruned scores, ``lanes`` per beat.
    busy : ``Out(1)``
    done : ``Out(1)``
        One-cycle pulse in the cycle after the tile ends (with or without error).
    error : ``Out(1)``
        The last tile was malformed. Holds until the next command.
    error_code : ``Out(ErrorCode)``

    Latency and throughput
    ----------------------
    ``latency`` (1): a word taken at cycle ``t`` can complete a beat at ``t + 1``. One beat
    (``lanes`` scores) per cycle whenever the coded beats average at most ``data_width`` bits
    and ``scores`` is ready; otherwise the input bus is the limit.
    """

    latency = 1

    def __init__(self, config):
        super().__init__(config, lambda layouts, width: {
            "cmd": In(stream.Signature(layouts.decoder_command)),
            "inp": In(stream.Signature(width)),
            "scores": Out(stream.Signature(layouts.beat)),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, width = self.lanes, self.data_width
        p = self._config.pssa
        capacity = width + p.max_chunk_bits

        m.submodules.parser = parser = ChunkParser(self._config)
        ref_read, ref_write = self.reference_bitmap(m)

        command = Signal(self.layouts.decoder_command)
        rows_left = Signal.like(command.n_rows)
        keys_left = Signal.like(command.n_keys)
        words_left = Signal.like(command.words)
        beat = Signal(range(p.max_beats_per_row))
        patch_pos = Signal(range(self.patch_rows))
        buffer = Signal(capacity)
        fill = Signal(range(capacity + 1))
        running = Signal()
        draining = Signal()

        m.d.comb += [
            parser.bits.eq(buffer[:p.max_chunk_bits]),
            parser.valid_lanes.eq(Mux(keys_left >= lanes, lanes, keys_left)),
            ref_read.addr.eq(beat),
            parser.reference.eq(Mux(patch_pos == 0, 0, ref_read.data)),
        ]
        # Bits above ``fill`` are always zero, so a chunk not yet fully received has a length
        # above ``fill``: ``complete`` is exact.
        complete = parser.length <= fill
        m.d.comb += [
            self.scores.valid.eq(running & complete & ~parser.bad_lane),
            self.scores.payload.eq(parser.scores),
        ]
        consume = self.scores.valid & self.scores.ready
        # A word is placed above the current bits before the consumed chunk is shifted out, so
        # its shift runs in parallel with the chunk-length logic; only the decision to take it
        # waits for the length. ``merged`` has room for a word taken while a chunk leaves.
        fill_after = Signal.like(fill)
        m.d.comb += fill_after.eq(Mux(consume, fill - parser.length, fill))
        m.d.comb += self.inp.ready.eq(
            (words_left != 0) & (draining | (running & (fill_after <= capacity - width))))
        take = self.inp.valid & self.inp.ready
        with m.If(take):
            m.d.sync += words_left.eq(words_left - 1)
        merged = Signal(capacity + p.max_chunk_bits)
        merged_fill = Signal(range(capacity + p.max_chunk_bits + 1))
        # Drained words are dropped: the buffer only ever holds words of a tile being decoded.
        with m.If(take & running):
            m.d.comb += [merged.eq(buffer | (self.inp.payload << fill)),
                         merged_fill.eq(fill + width)]
        with m.Else():
            m.d.comb += [merged.eq(buffer), merged_fill.eq(fill)]
        with m.If(consume):
            m.d.sync += [buffer.eq(merged >> parser.length),
                         fill.eq(merged_fill - parser.length)]
        with m.Else():
            m.d.sync += [buffer.eq(merged), fill.eq(merged_fill)]

        m.d.comb += [
            ref_write.addr.eq(beat),
            ref_write.data.eq(parser.mask),
            ref_write.en.eq(consume & ((command.policy == Policy.CHAIN) | (patch_pos == 0))),
        ]
        last_beat = (keys_left <= lanes) & (rows_left == 1)
        with m.If(consume):
            with m.If(keys_left > lanes):
                m.d.sync += [keys_left.eq(keys_left - lanes), beat.eq(beat + 1)]
            with m.Else():
                m.d.sync += [keys_left.eq(command.n_keys), beat.eq(0),
                             rows_left.eq(rows_left - 1),
                             patch_pos.eq(Mux(patch_pos == self.patch_rows - 1, 0,
                                              patch_pos + 1))]

        m.d.comb += self.error.eq(self.error_code != ErrorCode.NONE)
        m.d.sync += self.done.eq(0)

        with m.FSM(name="state"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    c = self.cmd.payload
                    bad = ((c.n_rows == 0) | (c.n_rows > self.max_rows) | (c.n_keys == 0) |
                           (c.n_keys > self.max_keys))
                    m.d.sync += [command.eq(c), rows_left.eq(c.n_rows), keys_left.eq(c.n_keys),
                                 words_left.eq(c.words), beat.eq(0), patch_pos.eq(0),
                                 buffer.eq(0), fill.eq(0)]
                    with m.If(bad):
                        m.d.sync += self.error_code.eq(ErrorCode.COMMAND)
                        m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += self.error_code.eq(ErrorCode.NONE)
                        m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [running.eq(1), self.busy.eq(1)]
                with m.If(complete & parser.bad_lane):
                    m.d.sync += self.error_code.eq(ErrorCode.BAD_LANE)
                    m.next = "DRAIN"
                with m.Elif(~complete & (words_left == 0)):
                    m.d.sync += self.error_code.eq(ErrorCode.TRUNCATED)
                    m.next = "DRAIN"
                with m.Elif(consume & last_beat):
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                with m.If((words_left != 0) | (fill >= width)):
                    m.d.sync += self.error_code.eq(ErrorCode.LENGTH)
                with m.Elif(buffer != 0):
                    m.d.sync += self.error_code.eq(ErrorCode.PADDING)
                m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += [draining.eq(1), self.busy.eq(1)]
                with m.If((words_left == 0) | ((words_left == 1) & take)):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
        return m
