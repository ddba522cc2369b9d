import functools
import operator

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from .chunk import ChunkParser, popcount_onehot
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
    ``latency`` (3): a word taken at cycle ``t`` that brings the buffered bits to at least
    ``max_chunk_bits + lanes + 1`` (a longest chunk and the next chunk's header) lets the
    chunk at the head be consumed at ``t + 1``; it is in the chunk register at ``t + 2`` and
    its beat is valid on ``scores`` at ``t + 3``. Once all the tile's words are in and fewer
    bits are left, each chunk takes two cycles (its completeness is checked from registers), a
    few cycles per tile. One beat (``lanes`` scores) per cycle in steady state whenever the
    coded beats average at most ``data_width`` bits and ``scores`` is ready; otherwise the
    input bus is the limit. ``done`` comes after the last beat has left ``scores``.
    """

    latency = 3

    def __init__(self, config):
        super().__init__(config, lambda layouts, width: {
            "cmd": In(stream.Signature(layouts.decoder_command)),
            "inp": In(stream.Signature(width)),
            "scores": Out(stream.Signature(layouts.beat)),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, width, bits = self.lanes, self.data_width, self.score_bits
        p = self._config.pssa
        chunk_bits = p.max_chunk_bits
        header_bits = 1 + lanes
        # A word is taken only while ``fill <= room``, whatever the current chunk's length, so
        # that decision stays off the chunk loop. With ``room`` = two chunks and a header, the
        # chunk after a consumed one and the header after that are present even when no word
        # was taken, so the rule costs no cycle that the bus could have saved.
        room = 2 * chunk_bits + lanes
        capacity = room + width

        m.submodules.parser = parser = ChunkParser(self._config)
        ref_read, ref_write = self.reference_bitmap(m)

        command = Signal(self.layouts.decoder_command)
        rows_left = Signal.like(command.n_rows)
        keys_left = Signal.like(command.n_keys)
        words_left = Signal.like(command.words)
        all_taken = Signal(init=1)  # ``words_left == 0``, as a register
        beat = Signal(range(p.max_beats_per_row))
        patch_pos = Signal(range(self.patch_rows))
        running = Signal()
        draining = Signal()

        # The current beat's reference bitmap (zero in a patch's first row), its popcount
        # (one-hot) and its valid lanes are registers, loaded for the next beat as a chunk is
        # consumed: the chunk loop then starts from flip-flops only.
        reference = Signal(lanes)
        lane_mask = Signal(lanes)

        # A chunk is 1 + flag*lanes + popcount(mask)*score_bits bits: one of a few fixed
        # lengths, indexed here by (flag, count).
        lengths = {(f, c): 1 + f * lanes + c * bits for f in (0, 1) for c in range(lanes + 1)}
        shifts = sorted({0, *lengths.values()})

        # The unconsumed bits. ``buffer`` lags one chunk behind: it still starts with the
        # chunk consumed last, whose length ``lag`` (one-hot over ``shifts``) says. Shifting it
        # out happens in the next cycle from registers (``aligned``), off the chunk loop.
        # Bits of ``aligned`` at and above ``fill`` are zero.
        buffer = Signal(capacity)
        lag = Signal(len(shifts), init=1)
        fill = Signal(range(capacity + 1))
        # A copy of ``fill`` for the word's shifter, so that the comparisons of the loop do
        # not share its fan-out.
        insert_at = Signal.like(fill, attrs={"keep": 1})
        aligned = Signal(capacity)
        m.d.comb += aligned.eq(
            functools.reduce(operator.or_, (Mux(lag[k], buffer >> s, 0)
                                            for k, s in enumerate(shifts))))
        # The current chunk's header (flag and XOR bitmap) = ``aligned[:header_bits]``, kept
        # in its own register so that the chunk loop is: header -> popcount -> select the next
        # header among the candidate positions.
        header = Signal(header_bits)

        flag = header[0]
        xor = header[1:]
        mask = Signal(lanes)
        m.d.comb += mask.eq(Mux(flag, reference ^ xor, reference))
        # Kept lanes, one-hot: ``flagged_count`` when the flag is set, else the reference's
        # (a register). One-hot counts feed the one-hot length class without a binary
        # popcount and its comparisons on the loop.
        flagged_count = Signal(lanes + 1)
        reference_count = Signal(lanes + 1, init=1)
        count = Signal(lanes + 1)
        m.d.comb += [flagged_count.eq(popcount_onehot(reference ^ xor)),
                     count.eq(Mux(flag, flagged_count, reference_count))]
        bad_lane = flag & (xor & ~lane_mask).any()

        # The current chunk's length, one-hot over ``lengths`` values (``shifts[1:]``).
        length_class = Signal(len(shifts) - 1)
        for i, n in enumerate(shifts[1:]):
            m.d.comb += length_class[i].eq(functools.reduce(operator.or_, (
                (flag & flagged_count[c]) if f else (~flag & reference_count[c])
                for (f, c), length in lengths.items() if length == n)))

        def select(table):
            """``table[n]`` for the current chunk's length ``n``: an AND-OR over the one-hot
            class, whose entries come from registers only."""
            return functools.reduce(operator.or_, (
                Mux(length_class[i], table(n), 0) for i, n in enumerate(shifts[1:])))

        # Bits above ``fill`` are zero, so a chunk not yet fully received is longer than
        # ``fill``: ``complete`` is exact. Consuming a chunk also needs the header after it,
        # which the loop loads as the next header. Both tests are off the loop: ``plenty``
        # (registered) says that the longest chunk and a header are present, the steady
        # state; only when the tile's words are all in and fewer bits remain is ``complete``
        # used, registered, one cycle after the state settled (no consume, no take).
        complete = Signal()
        m.d.comb += complete.eq(select(lambda n: fill >= n))
        plenty = Signal()
        has_room = Signal(init=1)  # ``fill <= room``, as a register
        settled = Signal()
        settled_complete = Signal()
        ready_to_consume = plenty | (all_taken & settled & settled_complete)

        # Two registered stages after the loop: the chunk and its reference (``staged``), then
        # the parsed scores (``scores``). Each advances when the next one is free.
        staged_bits = Signal(chunk_bits)
        staged_reference = Signal(lanes)
        staged_valid = Signal()
        out_free = ~self.scores.valid | self.scores.ready
        advance = staged_valid & out_free
        consume = Signal()
        m.d.comb += consume.eq(running & ready_to_consume & ~bad_lane &
                               (~staged_valid | advance))

        m.d.comb += [
            parser.bits.eq(staged_bits),
            # Padding lanes were checked in the loop (``bad_lane``); the parser's own check is
            # not needed here.
            parser.valid_lanes.eq(lanes),
            parser.reference.eq(staged_reference),
        ]
        with m.If(advance):
            m.d.sync += [self.scores.payload.eq(parser.scores), self.scores.valid.eq(1)]
        with m.Elif(self.scores.ready):
            m.d.sync += self.scores.valid.eq(0)
        # The stage loads whenever it is free and only its valid bit waits for ``consume``,
        # which keeps the loop's fan-out small.
        with m.If(~staged_valid | advance):
            m.d.sync += [staged_bits.eq(aligned[:chunk_bits]), staged_reference.eq(reference),
                         staged_valid.eq(consume)]

        m.d.comb += self.inp.ready.eq(
            ~all_taken & (draining | (running & has_room)))
        take = self.inp.valid & self.inp.ready
        with m.If(take):
            m.d.sync += [words_left.eq(words_left - 1), all_taken.eq(words_left == 1)]
        # The word goes above the current bits: a shift by a register (``insert_at``), in
        # parallel with the chunk loop. Drained words are dropped. ``fill`` and the flags
        # derived from it are selected among candidates computed from registers.
        insert = take & running
        merged = Signal(capacity)
        m.d.comb += merged.eq(Mux(insert, aligned | (self.inp.payload << insert_at), aligned))
        m.d.sync += buffer.eq(merged)
        m.d.sync += [settled.eq(running & ~consume & ~take), settled_complete.eq(complete)]
        enough = chunk_bits + header_bits
        with m.If(consume):
            m.d.sync += [
                lag.eq(Cat(0, length_class)),
                plenty.eq(select(lambda n: Mux(insert, fill >= enough + n - width,
                                               fill >= enough + n))),
                has_room.eq(select(lambda n: Mux(insert, fill <= room + n - width,
                                                 fill <= room + n))),
                fill.eq(select(lambda n: Mux(insert, fill - n + width, fill - n))),
                insert_at.eq(select(lambda n: Mux(insert, fill - n + width, fill - n))),
                # The next header lies in ``aligned``: ``ready_to_consume`` waited for it.
                header.eq(select(lambda n: aligned[n:n + header_bits])),
            ]
        with m.Else():
            m.d.sync += [lag.eq(1), fill.eq(Mux(insert, fill + width, fill)),
                         plenty.eq(Mux(insert, fill >= enough - width, fill >= enough)),
                         has_room.eq(Mux(insert, fill <= room - width, fill <= room)),
                         insert_at.eq(Mux(insert, fill + width, fill)),
                         header.eq(merged[:header_bits])]

        m.d.comb += [
            ref_write.addr.eq(beat),
            ref_write.data.eq(mask),
            ref_write.en.eq(consume & ((command.policy == Policy.CHAIN) | (patch_pos == 0))),
        ]
        # Row bookkeeping for the next beat, from registers only (``row_end``: the current
        # beat is its row's last).
        row_end = Signal()
        next_row_end = Mux(row_end, command.n_keys <= lanes, keys_left <= 2 * lanes)
        first_mask = Cat(command.n_keys > i for i in range(lanes))
        # ``next_beat`` is a register too: it addresses the reference memory.
        next_beat = Signal.like(beat)
        next_patch_start = Mux(row_end, patch_pos == self.patch_rows - 1, patch_pos == 0)
        # The next beat's reference is read one beat ahead; when it is the beat being written
        # (rows of one beat), it is the bitmap being consumed, whose popcount the loop has.
        m.d.comb += ref_read.addr.eq(next_beat)
        bypass = ((command.policy == Policy.CHAIN) | (patch_pos == 0)) & row_end & (beat == 0)
        last_beat = row_end & (rows_left == 1)
        with m.If(consume):
            m.d.sync += [reference.eq(Mux(next_patch_start, 0,
                                          Mux(bypass, mask, ref_read.data))),
                         reference_count.eq(Mux(next_patch_start, 1,
                                                Mux(bypass, count,
                                                    popcount_onehot(ref_read.data)))),
                         row_end.eq(next_row_end),
                         lane_mask.eq(Mux(row_end, first_mask,
                                          Cat(keys_left > lanes + i for i in range(lanes))))]
            m.d.sync += next_beat.eq(Mux(next_row_end, 0, next_beat + 1))
            with m.If(row_end):
                m.d.sync += [keys_left.eq(command.n_keys), beat.eq(0),
                             rows_left.eq(rows_left - 1),
                             patch_pos.eq(Mux(patch_pos == self.patch_rows - 1, 0,
                                              patch_pos + 1))]
            with m.Else():
                m.d.sync += [keys_left.eq(keys_left - lanes), beat.eq(beat + 1)]

        # A malformed chunk stops the loop (no consume; with no words left, no take either), so
        # the condition holds in the next cycle too: it is registered, off the chunk loop.
        # The padding test is split over CHECK and PAD (the bits stay put in both): groups of
        # ``aligned`` are OR-reduced into registers, which PAD then reduces.
        leftover = Signal(-(-capacity // 16))
        m.d.sync += leftover.eq(Cat(aligned[i:i + 16].any() for i in range(0, capacity, 16)))
        stuck_bad_lane = Signal()
        stuck_truncated = Signal()
        m.d.sync += [stuck_bad_lane.eq(running & complete & bad_lane),
                     stuck_truncated.eq(running & ~complete & all_taken)]
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
                                 words_left.eq(c.words), all_taken.eq(c.words == 0),
                                 beat.eq(0), next_beat.eq(Mux(c.n_keys <= lanes, 0, 1)),
                                 patch_pos.eq(0),
                                 reference.eq(0), reference_count.eq(1),
                                 row_end.eq(c.n_keys <= lanes),
                                 lane_mask.eq(Cat(c.n_keys > i for i in range(lanes))),
                                 buffer.eq(0), lag.eq(1), fill.eq(0), insert_at.eq(0), plenty.eq(0),
                                 has_room.eq(1),
                                 header.eq(0)]
                    with m.If(bad):
                        m.d.sync += self.error_code.eq(ErrorCode.COMMAND)
                        m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += self.error_code.eq(ErrorCode.NONE)
                        m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [running.eq(1), self.busy.eq(1)]
                # A stuck tile consumes nothing: the error tests need not wait for ``consume``.
                with m.If(stuck_bad_lane):
                    m.d.sync += self.error_code.eq(ErrorCode.BAD_LANE)
                    m.next = "DRAIN"
                with m.Elif(stuck_truncated):
                    m.d.sync += self.error_code.eq(ErrorCode.TRUNCATED)
                    m.next = "DRAIN"
                with m.Elif(consume & last_beat):
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                with m.If(~all_taken | (fill >= width)):
                    m.d.sync += self.error_code.eq(ErrorCode.LENGTH)
                    m.next = "DRAIN"
                with m.Else():
                    m.next = "PAD"
            with m.State("PAD"):
                # The wide test of the remaining bits was registered in CHECK.
                m.d.comb += self.busy.eq(1)
                with m.If(leftover.any()):
                    m.d.sync += self.error_code.eq(ErrorCode.PADDING)
                m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += [draining.eq(1), self.busy.eq(1)]
                # ``done`` also waits for the beats still in the output stages.
                with m.If((all_taken | ((words_left == 1) & take)) &
                          ~staged_valid & ~self.scores.valid):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
        return m
