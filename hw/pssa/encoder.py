from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from .chunk import ChunkCoder
from .layouts import ErrorCode, Policy
from .side import CodecSide

__all__ = ["PSSAEncoder"]


class PSSAEncoder(CodecSide):
    """Prunes, patch-XORs and codes one tile of attention scores into bus words.

    A tile is ``n_rows`` score rows of ``n_keys`` keys, rows in visit order (consecutive runs of
    ``patch_rows`` rows are patches; software or the EMA's 2-D descriptors supply that order,
    see ``docs/formats/pssa.md``). Each row arrives as ``ceil(n_keys / lanes)`` beats, the last
    one padded. The word stream and metadata are specified in ``docs/formats/pssa.md`` and
    match :func:`sw.golden.pssa.encode` bit for bit.

    Parameters
    ----------
    config : ProcessorConfig
        Uses ``pssa.*`` and ``ema.data_width``.

    Members
    -------
    cmd : ``In(stream.Signature(encoder_command))``
        One command per tile: ``n_rows``, ``n_keys``, ``threshold``, ``policy``.
    scores : ``In(stream.Signature(beat))``
        ``lanes`` scores per beat.
    out : ``Out(stream.Signature(data_width))``
        Coded words; the tile's last word is zero-padded.
    meta : ``Out(stream.Signature(metadata))``
        One beat per tile, after its last word: ``words``, ``bits``, ``kept``.
    busy : ``Out(1)``
        A tile is in progress (from command to metadata).
    done : ``Out(1)``
        One-cycle pulse in the cycle after the metadata is taken.
    error : ``Out(1)``
        The last tile's command was rejected (it then produces no words, zero metadata and
        consumes no scores). Holds until the next command.
    error_code : ``Out(ErrorCode)``

    Latency and throughput
    ----------------------
    ``latency`` (4): a beat taken at cycle ``t`` is pruned into a register at ``t + 1`` and
    coded at ``t + 2``, when its header enters the coded-beat register together with the
    previous beat's payload; its own payload waits for the next beat's header (or, for the
    tile's last beat, goes alone), so it is in the output buffer at ``t + 4`` when the next
    beat was taken at ``t + 1`` or when it is the tile's last, and a word completed by it is
    valid then. One beat (``lanes`` scores) per cycle whenever the coded beats average at most
    ``data_width`` bits and ``out`` is ready; otherwise the output bus is the limit
    (``data_width`` coded bits per cycle). A tile ends with one extra packer cycle (its last
    payload). ``scores.ready`` comes from flip-flops only (a skid entry in front of the prune
    stage catches the beat that arrives as the pipeline stalls), so no combinational path
    runs from ``out.ready`` to ``scores.ready``.
    """

    latency = 4

    def __init__(self, config):
        super().__init__(config, lambda layouts, width: {
            "cmd": In(stream.Signature(layouts.encoder_command)),
            "scores": In(stream.Signature(layouts.beat)),
            "out": Out(stream.Signature(width)),
            "meta": Out(stream.Signature(layouts.metadata)),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, width = self.lanes, self.data_width
        p = self._config.pssa
        capacity = width + p.max_chunk_bits

        m.submodules.coder = coder = ChunkCoder(self._config)
        ref_read, ref_write = self.reference_bitmap(m)

        command = Signal(self.layouts.encoder_command)
        rows_left = Signal.like(command.n_rows)
        # ``rows_left == 1`` as a register: the tile's end is decided by ``take``, which must
        # not wait on a compare.
        last_row = Signal()
        keys_left = Signal.like(command.n_keys)
        beat = Signal(range(p.max_beats_per_row))
        patch_pos = Signal(range(self.patch_rows))
        # The current beat is its row's last (``row_end``); its valid lanes (``lane_mask``).
        # Both are registers, loaded for the next beat as a beat is taken, so pruning starts
        # from flip-flops.
        row_end = Signal()
        lane_mask = Signal(lanes)
        words = Signal.like(self.meta.payload.words)
        bits = Signal.like(self.meta.payload.bits)
        kept = Signal.like(self.meta.payload.kept)
        buffer = Signal(capacity)
        fill = Signal(range(capacity + 1))
        flushing = Signal()
        running = Signal()

        # Three stages: prune (``pruned``), code (``staged``), pack (``buffer``). The
        # threshold comparison, the compaction of the kept values and the packer's shifter
        # are each in their own cycle. The code stage stages beat j's header with beat j-1's
        # payload (``held``, from the previous code step): the header-ahead order. Both come
        # from the coder's output and a register, so the pairing adds no logic depth to the
        # compaction; a longest pair is a header and a full payload, ``max_chunk_bits``.
        # The data registers of the prune and code stages carry no reset: their valid flags do.
        pruned_scores = Signal.like(self.scores.payload, reset_less=True)
        pruned_mask = Signal(lanes)
        pruned_reference = Signal(lanes)
        pruned_valid = Signal()
        m.d.comb += [
            coder.scores.eq(pruned_scores),
            coder.mask.eq(pruned_mask),
            coder.reference.eq(pruned_reference),
        ]
        staged_chunk = Signal(p.max_chunk_bits, reset_less=True)
        staged_length = Signal(range(p.max_chunk_bits + 1))
        staged_kept = Signal.like(coder.kept)
        staged_valid = Signal()
        held_payload = Signal.like(coder.payload)
        held_length = Signal(range(len(coder.payload) + 1))
        # The tile's last payload is still held: it leaves alone, after the last header.
        tail = Signal()

        # Bit packer: words leave from the bottom of the buffer, chunks enter above ``fill``.
        m.d.comb += [
            self.out.valid.eq((fill >= width) |
                              (flushing & ~pruned_valid & ~staged_valid & ~tail &
                               (fill != 0))),
            self.out.payload.eq(buffer[:width]),
        ]
        pop = self.out.valid & self.out.ready
        fill_after_pop = Signal.like(fill)
        buffer_after_pop = Signal.like(buffer)
        m.d.comb += [
            fill_after_pop.eq(Mux(pop, Mux(fill >= width, fill - width, 0), fill)),
            buffer_after_pop.eq(Mux(pop, buffer >> width, buffer)),
        ]
        # Packing a chunk only while less than a word is pending bounds the buffer by one word
        # plus one chunk, and still lets one word out and one chunk in every cycle. Both the
        # decision and the position follow from ``fill`` and ``out.ready`` directly, not
        # through ``out.valid`` (a flushed word only leaves when no chunk is waiting), so
        # that the ready chain back to ``scores`` stays short.
        pack = staged_valid & ((fill < width) | (self.out.ready & (fill < 2 * width)))
        position = Signal(range(width))
        m.d.comb += position.eq(Mux(fill >= width, fill - width, fill))
        with m.If(pack):
            m.d.sync += [
                buffer.eq(buffer_after_pop | (staged_chunk << position)),
                fill.eq(fill_after_pop + staged_length),
                bits.eq(bits + staged_length),
                kept.eq(kept + staged_kept),
            ]
        with m.Else():
            m.d.sync += [buffer.eq(buffer_after_pop), fill.eq(fill_after_pop)]

        code = pruned_valid & (~staged_valid | pack)
        flag = coder.header[0]
        with m.If(code):
            m.d.sync += [
                staged_chunk.eq(Mux(flag, Cat(coder.header, held_payload),
                                    Cat(0, held_payload))),
                staged_length.eq(Mux(flag, 1 + lanes, 1) + held_length),
                staged_kept.eq(coder.kept), staged_valid.eq(1),
                held_payload.eq(coder.payload), held_length.eq(coder.kept * p.score_bits),
            ]
        with m.Elif(tail & ~pruned_valid & (~staged_valid | pack)):
            m.d.sync += [staged_chunk.eq(held_payload), staged_length.eq(held_length),
                         staged_kept.eq(0), staged_valid.eq(1), tail.eq(0)]
        with m.Elif(pack):
            m.d.sync += staged_valid.eq(0)

        # The prune stage has a skid entry, so that ``scores.ready`` is a flip-flop: the packer's
        # decision (``pack``, from ``fill`` and ``out.ready``) then only moves beats between
        # the encoder's own registers, and ``take``, which enables the row counters and the
        # producer's pointers, is an AND of flip-flops. A beat in the skid entry implies one in
        # the prune stage, so every "stage empty" test below still reads ``pruned_valid``.
        skid_scores = Signal.like(self.scores.payload, reset_less=True)
        skid_mask = Signal(lanes, reset_less=True)
        skid_reference = Signal(lanes, reset_less=True)
        skid_valid = Signal()
        m.d.comb += self.scores.ready.eq(running & ~skid_valid)
        take = self.scores.valid & self.scores.ready
        mask = Signal(lanes)
        reference = Signal(lanes)
        m.d.comb += [
            mask.eq(Cat(self.scores.payload[i] >= command.threshold for i in range(lanes)) &
                    lane_mask),
            reference.eq(Mux(patch_pos == 0, 0, ref_read.data)),
            ref_read.addr.eq(beat),
        ]
        with m.If(~pruned_valid | code):
            with m.If(skid_valid):
                m.d.sync += [pruned_scores.eq(skid_scores), pruned_mask.eq(skid_mask),
                             pruned_reference.eq(skid_reference), pruned_valid.eq(1),
                             skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [pruned_scores.eq(self.scores.payload), pruned_mask.eq(mask),
                             pruned_reference.eq(reference), pruned_valid.eq(take)]
        with m.Elif(take):
            m.d.sync += [skid_scores.eq(self.scores.payload), skid_mask.eq(mask),
                         skid_reference.eq(reference), skid_valid.eq(1)]
        with m.If(pop):
            m.d.sync += words.eq(words + 1)

        m.d.comb += [
            ref_write.addr.eq(beat),
            ref_write.data.eq(mask),
            ref_write.en.eq(take & ((command.policy == Policy.CHAIN) | (patch_pos == 0))),
        ]
        first_mask = Cat(command.n_keys > i for i in range(lanes))
        with m.If(take):
            with m.If(row_end):
                m.d.sync += [keys_left.eq(command.n_keys), beat.eq(0),
                             row_end.eq(command.n_keys <= lanes), lane_mask.eq(first_mask),
                             rows_left.eq(rows_left - 1), last_row.eq(rows_left == 2),
                             patch_pos.eq(Mux(patch_pos == self.patch_rows - 1, 0,
                                              patch_pos + 1))]
            with m.Else():
                m.d.sync += [keys_left.eq(keys_left - lanes), beat.eq(beat + 1),
                             row_end.eq(keys_left <= 2 * lanes),
                             lane_mask.eq(Cat(keys_left > lanes + i for i in range(lanes)))]

        m.d.comb += [
            self.meta.payload.words.eq(words),
            self.meta.payload.bits.eq(bits),
            self.meta.payload.kept.eq(kept),
            self.error.eq(self.error_code != ErrorCode.NONE),
        ]
        m.d.sync += self.done.eq(0)

        with m.FSM(name="state"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    c = self.cmd.payload
                    bad = ((c.n_rows == 0) | (c.n_rows > self.max_rows) | (c.n_keys == 0) |
                           (c.n_keys > self.max_keys))
                    m.d.sync += [command.eq(c), rows_left.eq(c.n_rows), keys_left.eq(c.n_keys),
                                 last_row.eq(c.n_rows == 1),
                                 row_end.eq(c.n_keys <= lanes),
                                 lane_mask.eq(Cat(c.n_keys > i for i in range(lanes))),
                                 beat.eq(0), patch_pos.eq(0), words.eq(0), bits.eq(0),
                                 kept.eq(0), held_payload.eq(0), held_length.eq(0)]
                    with m.If(bad):
                        m.d.sync += self.error_code.eq(ErrorCode.COMMAND)
                        m.next = "META"
                    with m.Else():
                        m.d.sync += self.error_code.eq(ErrorCode.NONE)
                        m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [running.eq(1), self.busy.eq(1)]
                with m.If(take & row_end & last_row):
                    m.d.sync += tail.eq(1)
                    m.next = "FLUSH"
            with m.State("FLUSH"):
                m.d.comb += [flushing.eq(1), self.busy.eq(1)]
                with m.If(~pruned_valid & ~staged_valid & ~tail &
                          ((fill == 0) | (pop & (fill <= width)))):
                    m.next = "META"
            with m.State("META"):
                m.d.comb += [self.meta.valid.eq(1), self.busy.eq(1)]
                with m.If(self.meta.ready):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
        return m
