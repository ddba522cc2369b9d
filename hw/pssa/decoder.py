import functools
import operator

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from .chunk import ChunkParser, popcount_onehot
from .layouts import ErrorCode, Policy
from .side import CodecSide

__all__ = ["PSSADecoder"]


def _at_least(value, k):
    """``value >= k`` for a constant ``k``, built bit by bit from the least significant end
    as ANDs and ORs: mapped to a few LUTs, where a comparison operator would become a carry
    chain, whose entry and exit routing costs more than the LUTs at these widths."""
    if k <= 0:
        return Const(1)
    if k >= 1 << len(value):
        return Const(0)
    result = Const(1)
    for i in range(len(value)):
        result = (value[i] & result) if k >> i & 1 else (value[i] | result)
    return result


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
    ``latency`` (3): the stream carries each beat's header one beat ahead of its payload
    (``docs/formats/pssa.md``); a step consumes the header of beat ``i + 1`` and the payload of
    beat ``i``, after a first step that consumes the tile's first header alone (it waits only
    for two headers' bits). A word taken at cycle ``t`` that brings the buffered bits to at
    least ``max_chunk_bits + lanes + 1`` (a longest step and the header after it) lets the
    step at the head be consumed at ``t + 1``; its payload is in the payload register at
    ``t + 2`` and its beat is valid on ``scores`` at ``t + 3``. Once all the tile's words are
    in and fewer bits are left, each step takes two cycles (its completeness is checked from
    registers), a few cycles per tile. One beat (``lanes`` scores) per cycle in steady state
    whenever the coded beats average at most ``data_width`` bits and ``scores`` is ready;
    otherwise the input bus is the limit. ``done`` comes after the last beat has left
    ``scores``.
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
        header_bits = 1 + lanes
        payload_bits = lanes * bits
        # A step consumes one header and one payload: at most ``max_chunk_bits``.
        step_bits = p.max_chunk_bits
        # A word is taken only while ``fill <= room``, whatever the current step's length, so
        # that decision stays off the loop. With ``room`` = two steps and a header, the step
        # after a consumed one and the header after that are present even when no word was
        # taken, so the rule costs no cycle that the bus could have saved.
        room = 2 * step_bits + lanes
        capacity = room + width

        m.submodules.parser = parser = ChunkParser(self._config)
        ref_read, ref_write = self.reference_bitmap(m)

        command = Signal(self.layouts.decoder_command)
        rows_left = Signal.like(command.n_rows)
        keys_left = Signal.like(command.n_keys)
        words_left = Signal.like(command.words)
        all_taken = Signal(init=1)  # ``words_left == 0``, as a register
        # The row bookkeeping follows the beat whose header is at the head of the stream.
        beat = Signal(range(p.max_beats_per_row))
        patch_pos = Signal(range(self.patch_rows))
        # The RUN and DRAIN states as registers of their own: they gate the word input and
        # every step, so they must not wait for a decode of the state.
        running = Signal()
        draining = Signal()

        # Step ``i`` consumes ``H(i+1)`` and ``P(i)``. The tile's first step consumes ``H0``
        # alone (``opening``: no payload), its last one ``P(n-1)`` alone (``final``: no
        # header).
        opening = Signal()
        final = Signal()
        # The header's beat: its reference bitmap (zero in a patch's first row) and valid lanes
        # are registers, loaded for the next beat as a step is consumed, the reference read one
        # beat ahead.
        reference = Signal(lanes)
        lane_mask = Signal(lanes)
        # The payload's beat: its kept count (one-hot) and bitmap, computed from its header in
        # the previous step. The payload's length is therefore known from a register.
        payload_count = Signal(lanes + 1, init=1)
        payload_mask = Signal(lanes)

        # A step with a header is ``1 + flag * lanes + count * score_bits`` bits: one of a
        # few fixed lengths, indexed by (flag, count). The final step, ``count * score_bits``
        # bits, is not shifted out: the end-of-tile checks account for it instead.
        lengths = {(f, c): 1 + f * lanes + c * bits for f in (0, 1) for c in range(lanes + 1)}
        steps = sorted(set(lengths.values()))
        shifts = [0, *steps]

        # The unconsumed bits. ``buffer`` lags one step behind: it still starts with the step
        # consumed last, whose length ``lag`` (one-hot over ``shifts``) says. Shifting it out
        # happens in the next cycle from registers (``aligned``), off the loop. Bits of
        # ``aligned`` at and above ``fill`` are zero.
        # Every command clears ``buffer``, so it needs no reset of its own.
        buffer = Signal(capacity, reset_less=True)
        lag = Signal(len(shifts), init=1)
        fill = Signal(range(capacity + 1))
        # A copy of ``fill`` for the word's shifter, so that the comparisons do not share its
        # fan-out. Both are loaded by every command; a reset value that differs in every bit
        # keeps Yosys from merging the two registers.
        insert_at = Signal(len(fill), init=(1 << len(fill)) - 1)
        aligned = Signal(capacity)
        m.d.comb += aligned.eq(
            functools.reduce(operator.or_, (Mux(lag[k], buffer >> s, 0)
                                            for k, s in enumerate(shifts))))
        # The header at the head (``aligned[:header_bits]``; past a clear flag, the bits are
        # the payload's) in its own register, so that the loop is: the flag and the payload's
        # count (registers) select the next header among the candidate positions.
        header = Signal(header_bits)

        flag = header[0]
        xor = Mux(flag, header[1:], 0)
        # The header's beat's kept bitmap and count: off the loop, into registers for the
        # next step.
        mask = Signal(lanes)
        m.d.comb += mask.eq(reference ^ xor)
        bad_lane = ~final & (xor & ~lane_mask).any()

        # The step's length, one-hot over ``steps``; every select line is a register.
        step_class = Signal(len(steps))
        for i, n in enumerate(steps):
            m.d.comb += step_class[i].eq(functools.reduce(operator.or_, (
                (flag if f else ~flag) & payload_count[c]
                for (f, c), length in lengths.items() if length == n)))

        def by_count(table):
            """``table[c]`` for the payload's count ``c`` (the final step's length is
            ``c * score_bits``)."""
            return functools.reduce(operator.or_, (
                payload_count[c] & table(c * bits) for c in range(lanes + 1)))

        def select(table):
            """``table[n]`` for the current step's length ``n``: an AND-OR over the one-hot
            class, whose entries come from registers only."""
            return functools.reduce(operator.or_, (
                Mux(step_class[i], table(n), 0) for i, n in enumerate(steps)))

        # Bits above ``fill`` are zero, so a step not yet fully received is longer than
        # ``fill`` (even with its header incomplete: the header's length follows from its
        # first bit): ``complete`` is exact. Consuming a step also needs the header after it,
        # which the loop loads as the next header. Both tests are off the loop: ``plenty``
        # (registered) says that the longest step and a header are present, the steady state
        # (two headers for the opening step); only when the tile's words are all in and fewer
        # bits remain is ``complete`` used, registered, one cycle after the state settled (no
        # consume, no take).
        complete = Signal()
        m.d.comb += complete.eq(Mux(final, by_count(lambda n: _at_least(fill, n)),
                                    select(lambda n: _at_least(fill, n))))
        plenty = Signal()
        has_room = Signal(init=1)  # ``fill <= room``, as a register
        settled = Signal()
        settled_complete = Signal()
        ready_to_consume = plenty | (all_taken & settled & settled_complete)

        # Two registered stages after the loop: the payload and its bitmap (``staged``), then
        # the unpacked scores (``scores``). Each advances when the next one is free.
        staged_payload = Signal(payload_bits, reset_less=True)
        staged_mask = Signal(lanes)
        staged_valid = Signal()
        out_free = ~self.scores.valid | self.scores.ready
        advance = staged_valid & out_free
        consume = Signal()
        m.d.comb += consume.eq(running & ready_to_consume & (~staged_valid | advance))
        # A malformed header does not hold ``consume`` back (that would put its test in front
        # of every enable): the step goes, its payload is not delivered, and the registered
        # error stops the tile in the next cycle, whose step is not delivered either.
        stuck_bad_lane = Signal()

        m.d.comb += [parser.payload.eq(staged_payload), parser.mask.eq(staged_mask)]
        with m.If(advance):
            m.d.sync += [self.scores.payload.eq(parser.scores), self.scores.valid.eq(1)]
        with m.Elif(self.scores.ready):
            m.d.sync += self.scores.valid.eq(0)
        # The stage loads whenever it is free and only its valid bit waits for ``consume``,
        # which keeps the loop's fan-out small.
        payload_at = Mux(final, aligned[:payload_bits],
                         Mux(flag, aligned[header_bits:header_bits + payload_bits],
                             aligned[1:1 + payload_bits]))
        with m.If(~staged_valid | advance):
            m.d.sync += [staged_payload.eq(payload_at), staged_mask.eq(payload_mask),
                         staged_valid.eq(consume & ~opening & ~bad_lane & ~stuck_bad_lane)]

        m.d.comb += self.inp.ready.eq(
            ~all_taken & (draining | (running & has_room)))
        take = self.inp.valid & self.inp.ready
        with m.If(take):
            m.d.sync += [words_left.eq(words_left - 1), all_taken.eq(words_left == 1)]
        # The word goes above the current bits: a shift by a register (``insert_at``), in
        # parallel with the loop. Drained words are dropped. ``fill`` and the flags derived
        # from it are selected among candidates computed from registers.
        insert = take & running
        merged = Signal(capacity)
        m.d.comb += merged.eq(Mux(insert, aligned | (self.inp.payload << insert_at), aligned))
        m.d.sync += buffer.eq(merged)
        m.d.sync += [settled.eq(running & ~consume & ~take), settled_complete.eq(complete)]
        enough = step_bits + header_bits
        last_beat = Signal()
        # The final step leaves the loop's registers as they are (CHECK and PAD account for
        # its payload); every other step moves them on. The next header starts after the
        # current one (1 or ``1 + lanes`` bits) and the payload: a select among
        # ``2 * (lanes + 1)`` candidates whose select lines are the flag and
        # ``payload_count``.
        with m.If(consume & ~final):
            m.d.sync += [
                lag.eq(Cat(0, step_class)),
                plenty.eq(select(lambda n: Mux(insert, _at_least(fill, enough + n - width),
                                               _at_least(fill, enough + n)))),
                has_room.eq(select(lambda n: ~Mux(insert, _at_least(fill, room + n - width + 1),
                                                  _at_least(fill, room + n + 1)))),
                fill.eq(select(lambda n: Mux(insert, fill - n + width, fill - n))),
                insert_at.eq(select(lambda n: Mux(insert, fill - n + width, fill - n))),
                # The next header lies in ``aligned``: ``ready_to_consume`` waited for it.
                header.eq(select(lambda n: aligned[n:n + header_bits])),
                payload_count.eq(popcount_onehot(mask)),
                payload_mask.eq(mask),
                opening.eq(0),
                final.eq(last_beat),
            ]
        with m.Else():
            # The opening step needs only its header and the next one.
            m.d.sync += [lag.eq(1), fill.eq(Mux(insert, fill + width, fill)),
                         plenty.eq(Mux(opening,
                                       Mux(insert, _at_least(fill, 2 * header_bits - width),
                                           _at_least(fill, 2 * header_bits)),
                                       Mux(insert, _at_least(fill, enough - width),
                                           _at_least(fill, enough)))),
                         has_room.eq(~Mux(insert, _at_least(fill, room - width + 1),
                                          _at_least(fill, room + 1))),
                         insert_at.eq(Mux(insert, fill + width, fill)),
                         header.eq(merged[:header_bits])]

        m.d.comb += [
            ref_write.addr.eq(beat),
            ref_write.data.eq(mask),
            ref_write.en.eq(consume & ((command.policy == Policy.CHAIN) | (patch_pos == 0))),
        ]
        # Row bookkeeping for the next beat, from registers only (``row_end``: the header's
        # beat is its row's last).
        row_end = Signal()
        next_row_end = Mux(row_end, command.n_keys <= lanes, keys_left <= 2 * lanes)
        first_mask = Cat(command.n_keys > i for i in range(lanes))
        # ``next_beat`` is a register too: it addresses the reference memory.
        next_beat = Signal.like(beat)
        next_patch_start = Mux(row_end, patch_pos == self.patch_rows - 1, patch_pos == 0)
        # The next beat's reference is read one beat ahead; when it is the beat being written
        # (rows of one beat), it is the bitmap of the header being consumed.
        m.d.comb += ref_read.addr.eq(next_beat)
        bypass = ((command.policy == Policy.CHAIN) | (patch_pos == 0)) & row_end & (beat == 0)
        m.d.comb += last_beat.eq(row_end & (rows_left == 1))
        with m.If(consume):
            m.d.sync += [reference.eq(Mux(next_patch_start, 0,
                                          Mux(bypass, mask, ref_read.data))),
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

        # Malformed-tile conditions are registered, off the loop. A step short of bits stops
        # the loop (no consume; with no words left, no take either), so that condition holds
        # in the next cycle too. A complete header with a padding lane is an error whether or
        # not its step is complete (it comes first in the stream).
        # The padding test is split over CHECK and PAD (the bits stay put in both): groups of
        # the buffer are OR-reduced into registers, which PAD then reduces.
        # After the final step ``lag`` is zero and ``buffer`` starts with the last payload:
        # bits past its ``count * score_bits`` must be zero.
        beyond = Cat(functools.reduce(operator.or_, (
            payload_count[c] for c in range(lanes + 1) if c * bits <= i))
            for i in range(payload_bits))
        padding = Cat(buffer[:payload_bits] & beyond, buffer[payload_bits:])
        leftover = Signal(-(-capacity // 16))
        m.d.sync += leftover.eq(Cat(padding[i:i + 16].any() for i in range(0, capacity, 16)))
        stuck_truncated = Signal()
        m.d.sync += [stuck_bad_lane.eq(running & bad_lane & _at_least(fill, header_bits)),
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
                                 patch_pos.eq(0), reference.eq(0),
                                 row_end.eq(c.n_keys <= lanes),
                                 lane_mask.eq(Cat(c.n_keys > i for i in range(lanes))),
                                 opening.eq(1), final.eq(0), payload_count.eq(1),
                                 payload_mask.eq(0),
                                 buffer.eq(0), lag.eq(1), fill.eq(0), insert_at.eq(0),
                                 plenty.eq(0), has_room.eq(1), header.eq(0)]
                    with m.If(bad):
                        m.d.sync += [self.error_code.eq(ErrorCode.COMMAND), draining.eq(1)]
                        m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += [self.error_code.eq(ErrorCode.NONE), running.eq(1)]
                        m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.busy.eq(1)
                # A stuck tile consumes nothing: the error tests need not wait for ``consume``.
                # A bad header comes before the payload that would make its step complete.
                with m.If(stuck_bad_lane):
                    m.d.sync += [self.error_code.eq(ErrorCode.BAD_LANE), running.eq(0),
                                 draining.eq(1)]
                    m.next = "DRAIN"
                with m.Elif(stuck_truncated):
                    m.d.sync += [self.error_code.eq(ErrorCode.TRUNCATED), running.eq(0),
                                 draining.eq(1)]
                    m.next = "DRAIN"
                with m.Elif(consume & final):
                    m.d.sync += running.eq(0)
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                with m.If(~all_taken | by_count(lambda n: _at_least(fill, n + width))):
                    m.d.sync += [self.error_code.eq(ErrorCode.LENGTH), draining.eq(1)]
                    m.next = "DRAIN"
                with m.Else():
                    m.next = "PAD"
            with m.State("PAD"):
                # The wide test of the remaining bits was registered in CHECK.
                m.d.comb += self.busy.eq(1)
                with m.If(leftover.any()):
                    m.d.sync += self.error_code.eq(ErrorCode.PADDING)
                m.d.sync += draining.eq(1)
                m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                # ``done`` also waits for the beats still in the output stages.
                with m.If((all_taken | ((words_left == 1) & take)) &
                          ~staged_valid & ~self.scores.valid):
                    m.d.sync += [self.done.eq(1), draining.eq(0)]
                    m.next = "IDLE"
        return m
