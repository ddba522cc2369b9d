from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common import SkidBuffer, StreamFIFO

from .align import ReadAligner, WriteAligner, track_fields, track_layout, write_beat_layout
from .axi import AXI4Signature, AXIBurst, AXIResp
from .layouts import (COUNTER_KINDS, Direction, Status, TrafficClass, burst_layout,
                      counters_layout, descriptor_layout, status_layout, window_layout)
from .planner import BurstPlanner, CodedBurstPlanner

__all__ = ["EMAController"]

# Normal non-cacheable bufferable memory (AxCACHE), unprivileged secure data (AxPROT):
# what a DMA engine moving tensors asks for.
AXCACHE = 0b0011
AXPROT = 0b000

# Multiplier bits the window check consumes per cycle: two chained adds per step keep the
# check off the critical path without stretching it over one cycle per bit.
MUL_DIGIT_BITS = 2


class EMAController(wiring.Component):
    """AXI4 DMA engine of the processor: 2-D descriptors, per-class address windows, traffic
    counters and, in builds with ``ema.sas_codec``, the compressed path of the SAS class.

    Descriptors run one at a time. Each one is checked against its class's window, split into
    INCR bursts (:class:`BurstPlanner`) and moved between the AXI bus and the on-chip streams
    by :class:`ReadAligner` or :class:`WriteAligner`; one status entry reports its outcome.
    All bursts use ID 0, so read data returns in order.

    The on-chip side always moves exactly ``rows * ceil(row_bytes / B)`` beats
    (``B = data_width / 8``) per descriptor, whatever happens on the bus: a descriptor refused
    by its window issues no bus transaction and moves zeros (read) or discards its input
    (write); after an error response the remaining bursts are not issued, the remaining read
    beats are zeros and the remaining write input is discarded. Empty descriptors
    (``rows == 0`` or ``row_bytes == 0``) move nothing and report ``EMPTY``.

    With the codec, a SAS descriptor is one score tile: ``rows`` query rows of ``row_bytes``
    keys (scores, not bytes), at a beat-aligned ``addr``. A write takes the dense tile from
    ``sas_scores_in``, passes it through the PSSA encoder (threshold ``sas_threshold``,
    reference ``sas_policy``) and writes the coded words contiguously; its window must hold
    :func:`sw.golden.ema.sas_reserved_words` words and its status reports the coded length in
    ``words``. A read takes that length in ``stride``, fetches the words and returns the
    decoded (pruned) tile on ``sas_scores_out``. A refused SAS read moves nothing; after a bus
    or decoding error the decoder stops early, so ``sas_scores_out`` may carry fewer beats.

    Parameters
    ----------
    config : :class:`sw.config.ProcessorConfig`
        ``config.ema``; ``config.pssa`` too when ``ema.sas_codec`` is set.

    Members
    -------
    desc : ``In(stream.Signature(descriptor_layout(ema)))``
        Descriptors (``direction``, ``tclass``, ``addr``, ``rows``, ``row_bytes``, ``stride``).
    status : ``Out(stream.Signature(status_layout(words_bits)))``
        One entry per descriptor, in order: ``code`` (:class:`Status`), ``direction``,
        ``tclass`` (and ``words`` with the codec). Reported only after the last on-chip read
        beat was taken (and decoded), or the last write response was received.
    wr_data : ``In(stream.Signature(data_width))``
        On-chip beats to write to DRAM; each row starts on a fresh beat.
    rd_data : ``Out(stream.Signature(data_width))``
        On-chip beats read from DRAM, rows zero-padded to whole beats.
    m_axi : ``Out(AXI4Signature(addr_width, data_width, id_width))``
        The AXI4 manager port.
    window_base, window_limit : ``In(window_layout(ema))``
        Per class, the lowest and highest byte address a descriptor may touch (inclusive).
        Sampled when a descriptor is checked.
    counters : ``Out(counters_layout(ema))``
        ``counters[tclass][direction]``: ``bytes`` (row bytes moved on the bus), ``beats`` (data
        beats), ``bursts`` (address handshakes), ``stalls`` (cycles with a descriptor running
        and no data beat). ``counter_bits`` wide, wrapping. An event shows ``counter_latency``
        cycles after the cycle it happens in; from the cycle after a status handshake, the
        counters include all of that descriptor's traffic.
    counters_clear : ``In(1)``
        Zero every counter. Like an event, a clear shows ``counter_latency`` cycles after its
        cycle: the counters then read zero and go on with the events from the cycle after the
        clear (those of its cycle and before are dropped). A reset zeroes them the same way
        (the counters have no reset of their own).
    busy : ``Out(1)``
        A descriptor is past its window check and not yet reported (the cycles ``stalls``
        counts from).
    sas_scores_in, sas_scores_out : ``In``/``Out(stream.Signature(PSSALayouts(config).beat))``
        Dense score beats of SAS tile writes, pruned score beats of SAS tile reads (codec
        builds only).
    sas_threshold : ``In(PSSALayouts(config).score)``; sas_policy : ``In(Policy)``
        Pruning threshold and XOR reference of SAS tiles, sampled when a tile starts.

    Latency and throughput
    ----------------------
    ``issue_latency`` cycles from a descriptor handshake (counting its cycle) to its first
    ``AxVALID``: ``6 + check_cycles``, where ``check_cycles = ceil(rows_bits / 2) + 3`` (11 with
    the default 16-bit ``rows``, so 17 in all) is the window check's multiply-and-compare
    pipeline, and ``CHECK``, ``LAUNCH`` and ``BurstPlanner.latency`` (3) are in the 6. Up to
    ``outstanding`` bursts per direction in flight, one data beat per cycle; address issue
    overlaps the data of earlier bursts. ``read_latency`` (2) cycles from an R beat to the
    ``rd_data`` beat it completes (read aligner, then a skid buffer); a W beat leaves two
    cycles after the ``wr_data`` beat that starts it (write aligner, then a skid buffer; the
    address channel has one too, in place of the address register). A new descriptor is
    accepted in the cycle after the previous status handshake. ``counter_latency`` (2) cycles
    from a bus event to the counters.
    """

    def __init__(self, config):
        self._config = config
        self._ema = ema = config.ema
        members = {
            "desc": In(stream.Signature(descriptor_layout(ema))),
            "wr_data": In(stream.Signature(ema.data_width)),
            "rd_data": Out(stream.Signature(ema.data_width)),
            "m_axi": Out(AXI4Signature(addr_width=ema.addr_width, data_width=ema.data_width,
                                       id_width=ema.id_width)),
            "window_base": In(window_layout(ema)),
            "window_limit": In(window_layout(ema)),
            "counters": Out(counters_layout(ema)),
            "counters_clear": In(1),
            "busy": Out(1),
        }
        self.sas_codec = ema.sas_codec
        if self.sas_codec:
            from hw.pssa import Policy, PSSALayouts
            self.pssa_layouts = layouts = PSSALayouts(config)
            self.words_bits = layouts.metadata.members["words"].width
            self.max_words = -(-config.pssa.max_tile_bits // ema.data_width)
            members.update({
                "sas_scores_in": In(stream.Signature(layouts.beat)),
                "sas_scores_out": Out(stream.Signature(layouts.beat)),
                "sas_threshold": In(layouts.score),
                "sas_policy": In(Policy),
            })
        else:
            self.words_bits = 0
        members["status"] = Out(stream.Signature(status_layout(self.words_bits)))
        super().__init__(members)
        #: Cycles of the ``MEASURE`` state: one that registers the factors, the shift-add
        #: steps, then the window end, then the window comparison.
        self.check_cycles = -(-ema.rows_bits // MUL_DIGIT_BITS) + 3
        #: Handshake -> MEASURE -> CHECK -> LAUNCH -> planner (stores, sets up the row,
        #: plans) -> address register.
        self.issue_latency = 1 + self.check_cycles + 1 + BurstPlanner.latency + 1
        #: Cycles from an R beat to the ``rd_data`` beat it completes: the read aligner, then
        #: the skid buffer that registers ``rd_data.ready`` for it.
        self.read_latency = ReadAligner.latency + SkidBuffer.latency
        #: Cycles from an event (or a clear) to the ``counters`` it changes: the increments
        #: (and the clear) are registered before the adds.
        self.counter_latency = 2

    def elaborate(self, platform):
        m = Module()
        ema = self._ema
        axi = self.m_axi
        shift = ema.beat_shift

        m.submodules.planner = planner = BurstPlanner(ema)
        m.submodules.read_aligner = reader = ReadAligner(ema)
        m.submodules.write_aligner = writer = WriteAligner(ema)
        # The on-chip read beats leave through a skid buffer: its registered ``ready`` keeps
        # the consumer's handshake (the PSSA decoder's chunk loop, or whatever drives
        # ``rd_data.ready`` in the processor) out of the read aligner's beat decision, which
        # enables the row cursor, the track FIFO and the output register.
        m.submodules.read_skid = read_skid = SkidBuffer(ema.data_width)
        wiring.connect(m, reader.o, read_skid.i)
        # Holds the bursts between address issue and their data; ``inflight`` below limits the
        # real ones to ``outstanding``, the extra entry keeps phantom bursts flowing meanwhile.
        m.submodules.tracks = tracks = StreamFIFO(track_layout(ema), max(2, ema.outstanding + 1))

        desc = Signal(descriptor_layout(ema))
        error = Signal(Status)
        is_write = desc.direction == Direction.WRITE
        writing = Signal(attrs={"keep": 1})
        reading = Signal(attrs={"keep": 1})
        # ``error != OK`` as a flip-flop, set wherever ``error`` is: it gates the dispatch,
        # the in-flight count and the read data.
        failed = Signal()
        # The running descriptor goes through the PSSA codec: a flip-flop, since it selects
        # between the plain and the coded streams in front of the aligners' handshakes.
        sas = Signal()

        # The address channel, shared by AR and AW (one descriptor runs at a time), and the W
        # channel leave through skid buffers: the interconnect's ``AxREADY``/``WREADY`` then
        # enable only these output registers, and the dispatch and the write aligner decide
        # from registered ``ready``s, wherever the placer puts the bus pins.
        m.submodules.ax_skid = ax_skid = SkidBuffer(data.StructLayout(
            {"addr": unsigned(ema.addr_width), "len": unsigned(8)}))
        m.submodules.w_skid = w_skid = SkidBuffer(write_beat_layout(ema))
        ax = ax_skid.o.payload
        ax_valid = ax_skid.o.valid
        ax_ready = Mux(is_write, axi.awready, axi.arready)
        m.d.comb += ax_skid.o.ready.eq(ax_ready)
        for ch in ("aw", "ar"):
            m.d.comb += [
                getattr(axi, f"{ch}id").eq(0),
                getattr(axi, f"{ch}addr").eq(ax.addr),
                getattr(axi, f"{ch}len").eq(ax.len),
                getattr(axi, f"{ch}size").eq(shift),
                getattr(axi, f"{ch}burst").eq(AXIBurst.INCR),
                getattr(axi, f"{ch}lock").eq(0),
                getattr(axi, f"{ch}cache").eq(AXCACHE),
                getattr(axi, f"{ch}prot").eq(AXPROT),
            ]
        m.d.comb += [axi.awvalid.eq(ax_valid & is_write), axi.arvalid.eq(ax_valid & ~is_write)]

        inflight = Signal(range(ema.outstanding + 1))
        # The aligners have produced their descriptor's last beat / the decoder is done.
        aligned = Signal()
        # An aligner's last beat, registered: it comes out of the beat decision and the row
        # cursor, and the status waits at least as long for the skid buffer or the responses.
        desc_finished = Signal()
        m.d.sync += desc_finished.eq(reader.desc_done | writer.desc_done)
        decoded = Signal()
        coded_words = Signal(max(1, self.words_bits))

        # The class's window is selected a cycle before it is compared, which leaves one wide
        # compare per path; it is sampled in the last cycles of ``MEASURE``.
        tclass = desc.tclass.as_value()
        base = Signal(ema.addr_width)
        limit = Signal(ema.addr_width)
        m.d.sync += [base.eq(self.window_base[tclass]), limit.eq(self.window_limit[tclass])]
        empty = (desc.rows == 0) | (desc.row_bytes == 0)

        # The window check's products are computed over the MEASURE state, MSB-first, a
        # digit of ``rows - 1`` per cycle: done in one cycle they were the longest path of the
        # processor. ``span`` is ``(rows - 1) * stride``.
        steps = -(-ema.rows_bits // MUL_DIGIT_BITS)
        multiplier = Signal(steps * MUL_DIGIT_BITS)
        digit = multiplier[-MUL_DIGIT_BITS:]
        measure = Signal(range(self.check_cycles + 1))
        span = Signal(ema.rows_bits + ema.addr_width)
        products = [(span, desc.stride)]
        # Wide enough that no descriptor wraps around the address space unnoticed.
        last_byte = Signal(ema.rows_bits + ema.addr_width + 2)
        # ``addr - 1`` and ``addr + row_bytes - 1`` depend on the descriptor only; registering
        # them leaves one add between ``span`` and ``last_byte``. ``row_end`` is added to the
        # registered ``addr - 1`` (one carry chain, not two), so it settles a cycle later,
        # still well before ``span`` (``MEASURE`` lasts at least four cycles).
        row_end = Signal.like(last_byte)
        addr_m1 = Signal(signed(ema.addr_width + 1))
        m.d.sync += [addr_m1.eq(desc.addr - 1), row_end.eq(addr_m1 + desc.row_bytes)]
        next_last_byte = row_end + span
        misshaped = Const(0)
        if self.sas_codec:
            codec = self._sas_codec(m, desc, is_write, coded_words, products)
            empty |= sas & ~is_write & (desc.stride == 0)
            misshaped = sas & codec["misshaped"]
            next_last_byte = Mux(sas, addr_m1 + (codec["reserved_words"] << shift),
                                 next_last_byte)
        # The checks are registered, each bound of the window apart, so that ``CHECK`` decides
        # from flip-flops; the descriptor is stable over ``MEASURE``.
        below = Signal()
        wrapped = Signal()
        above = Signal()
        refused_empty = Signal()
        refused_shape = Signal()
        m.d.sync += [
            last_byte.eq(next_last_byte),
            below.eq(desc.addr < base),
            wrapped.eq(last_byte[ema.addr_width:].any()),
            above.eq(last_byte[:ema.addr_width] > limit),
            refused_empty.eq(empty),
            refused_shape.eq(misshaped),
        ]
        outside = below | wrapped | above
        # ``CHECK`` registers which of the planners, the encoder and the decoder start; they
        # take their command in ``LAUNCH`` from these flip-flops.
        launch_plain = Signal()
        launch_coded = Signal()
        launch_encode = Signal()
        launch_decode = Signal()
        launches = [launch_plain, launch_coded, launch_encode, launch_decode]

        with m.FSM(name="fsm"):
            with m.State("IDLE"):
                m.d.comb += self.desc.ready.eq(1)
                with m.If(self.desc.valid):
                    is_write_next = self.desc.payload.direction == Direction.WRITE
                    m.d.sync += [
                        desc.eq(self.desc.payload),
                        writing.eq(is_write_next),
                        reading.eq(~is_write_next),
                        multiplier.eq(self.desc.payload.rows - 1),
                        measure.eq(self.check_cycles),
                    ]
                    if self.sas_codec:
                        m.d.sync += sas.eq(self.desc.payload.tclass == TrafficClass.SAS)
                    m.d.sync += [product.eq(0) for product, _ in products]
                    m.next = "MEASURE"
            with m.State("MEASURE"):
                # A cycle for the registered factors, ``steps`` shift-add steps, then
                # ``last_byte``, then ``outside`` settle.
                m.d.sync += measure.eq(measure - 1)
                with m.If((measure > 2) & (measure < self.check_cycles)):
                    m.d.sync += multiplier.eq(multiplier << MUL_DIGIT_BITS)
                    for product, factor in products:
                        m.d.sync += product.eq((product << MUL_DIGIT_BITS) + sum(
                            Mux(digit[k], factor << k, 0) for k in range(MUL_DIGIT_BITS)))
                with m.If(measure == 1):
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.sync += [coded_words.eq(0), failed.eq(1)]
                with m.If(refused_empty):
                    m.d.sync += error.eq(Status.EMPTY)
                    m.next = "REPORT"
                with m.Elif(refused_shape):
                    m.d.sync += error.eq(Status.SHAPE)
                    m.next = "REPORT"
                with m.Elif(sas & ~is_write & outside):
                    # A refused SAS read has nothing to decode: it moves no beats at all.
                    m.d.sync += error.eq(Status.WINDOW)
                    m.next = "REPORT"
                with m.Else():
                    m.d.sync += [
                        error.eq(Mux(outside, Status.WINDOW, Status.OK)),
                        failed.eq(outside),
                        launch_plain.eq(~sas),
                        launch_coded.eq(sas),
                        launch_encode.eq(sas & is_write),
                        launch_decode.eq(sas & ~is_write),
                    ]
                    m.next = "LAUNCH"
            with m.State("LAUNCH"):
                # Planner, encoder and decoder are idle here: the previous descriptor
                # finished with all of them.
                m.d.sync += [launch.eq(0) for launch in launches]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.busy.eq(1)
                with m.If(desc_finished):
                    m.d.sync += aligned.eq(1)
                # The status waits until the last read beat has left (and was decoded), or
                # until every write response is back.
                read_done = (aligned & ~reader.o.valid & read_skid.i.ready & ~read_skid.o.valid &
                             (decoded | ~sas))
                write_done = (aligned & ~writer.w.valid & w_skid.i.ready & ~w_skid.o.valid &
                              ax_skid.i.ready & ~ax_valid & (inflight == 0))
                with m.If(Mux(is_write, write_done, read_done)):
                    m.d.sync += [aligned.eq(0), decoded.eq(0)]
                    m.next = "REPORT"
            with m.State("REPORT"):
                m.d.comb += [
                    self.status.valid.eq(1),
                    self.status.payload.code.eq(error),
                    self.status.payload.direction.eq(desc.direction),
                    self.status.payload.tclass.eq(desc.tclass),
                ]
                if self.sas_codec:
                    m.d.comb += self.status.payload.words.eq(coded_words)
                with m.If(self.status.ready):
                    m.next = "IDLE"
        m.d.comb += [planner.cmd.payload.eq(desc), planner.cmd.valid.eq(launch_plain)]
        if self.sas_codec:
            m.d.comb += [
                codec["plan"].valid.eq(launch_coded),
                codec["encode"].valid.eq(launch_encode),
                codec["decode"].valid.eq(launch_decode),
            ]

        # Dispatch: every planned burst gets a track entry; only real ones reach the bus.
        planned = planner.burst
        if self.sas_codec:
            planned = stream.Signature(burst_layout(ema)).create()
            coded = codec["planner"]
            m.d.comb += [
                planned.valid.eq(Mux(sas, coded.burst.valid, planner.burst.valid)),
                planned.payload.eq(Mux(sas, coded.burst.payload, planner.burst.payload)),
                coded.burst.ready.eq(sas & planned.ready),
                planner.burst.ready.eq(~sas & planned.ready),
            ]
        # A planned burst the dispatch does not take at once waits in ``held``, so that the
        # planners see a registered ``ready`` instead of the issue conditions (window failure,
        # AxREADY, bursts in flight, track space) in front of all their register enables.
        # An empty ``held`` passes bursts straight through: no cycle is added.
        burst = stream.Signature(burst_layout(ema)).create()
        held = Signal(burst_layout(ema))
        holding = Signal()
        m.d.comb += [
            planned.ready.eq(~holding),
            burst.valid.eq(holding | planned.valid),
            burst.payload.eq(Mux(holding, held, planned.payload)),
        ]
        with m.If(holding):
            with m.If(burst.ready):
                m.d.sync += holding.eq(0)
        with m.Elif(planned.valid & ~burst.ready):
            m.d.sync += [held.eq(planned.payload), holding.eq(1)]
        can_issue = ax_skid.i.ready & (inflight < ema.outstanding)
        accept = failed | can_issue
        issue = burst.valid & tracks.i.ready & accept & ~failed
        m.d.comb += [
            burst.ready.eq(tracks.i.ready & accept),
            tracks.i.valid.eq(burst.valid & accept),
        ]
        # A coded SAS run is planned one burst per row: its row is the burst, whole beats. A
        # descriptor's row length is compared with a beat while it runs, from registers.
        row_whole = Signal()
        row_more = Signal()
        m.d.sync += [row_whole.eq(desc.row_bytes >= ema.data_bytes),
                     row_more.eq(desc.row_bytes > ema.data_bytes)]
        m.d.comb += track_fields(
            tracks.i.payload, burst.payload,
            Mux(sas, (burst.payload.len + 1) << shift, desc.row_bytes),
            sas | row_whole, Mux(sas, burst.payload.len != 0, row_more), failed)
        m.d.comb += [ax_skid.i.valid.eq(issue), ax_skid.i.payload.addr.eq(burst.payload.addr),
                     ax_skid.i.payload.len.eq(burst.payload.len)]

        # Tracks go to the aligner of the running direction. Each aligner gates its
        # handshakes with its own copy of the direction, so that the descriptor register does
        # not pull both aligners and the bus logic towards one place.
        track = tracks.o.payload
        m.d.comb += [
            reader.info.payload.eq(track),
            writer.info.payload.eq(track),
            reader.info.valid.eq(tracks.o.valid & reading),
            writer.info.valid.eq(tracks.o.valid & writing),
            tracks.o.ready.eq((writing & writer.info.ready) | (reading & reader.info.ready)),
            reader.zero.eq(failed),
        ]

        r_fire = axi.rvalid & axi.rready
        m.d.comb += [
            reader.beat.valid.eq(axi.rvalid & reading),
            reader.beat.payload.data.eq(axi.rdata),
            reader.beat.payload.error.eq(axi.rresp != AXIResp.OKAY),
            axi.rready.eq(reader.beat.ready & reading),
        ]
        if self.sas_codec:
            # The decoder's words come through a skid buffer of their own, placed by the
            # decoder: ``read_skid``'s outputs also reach the processor's buffers, and the
            # word's shift into the decoder's bit buffer, started straight from them, was the
            # processor's longest routed path.
            m.submodules.coded_skid = coded_skid = SkidBuffer(ema.data_width)
            wiring.connect(m, coded_skid.o, codec["coded_in"])
            m.d.comb += [
                self.rd_data.payload.eq(read_skid.o.payload),
                self.rd_data.valid.eq(read_skid.o.valid & ~sas),
                coded_skid.i.payload.eq(read_skid.o.payload),
                coded_skid.i.valid.eq(read_skid.o.valid & sas),
                read_skid.o.ready.eq(Mux(sas, coded_skid.i.ready, self.rd_data.ready)),
                writer.i.payload.eq(Mux(sas, codec["coded_out"].payload, self.wr_data.payload)),
                writer.i.valid.eq(Mux(sas, codec["coded_out"].valid, self.wr_data.valid)),
                codec["coded_out"].ready.eq(sas & writer.i.ready),
                self.wr_data.ready.eq(~sas & writer.i.ready),
            ]
            with m.If(codec["decoder"].done):
                m.d.sync += decoded.eq(1)
                with m.If(codec["decoder"].error & ~failed):
                    m.d.sync += [error.eq(Status.CODEC), failed.eq(1)]
        else:
            wiring.connect(m, read_skid.o, wiring.flipped(self.rd_data))
            wiring.connect(m, wiring.flipped(self.wr_data), writer.i)
        w_fire = axi.wvalid & axi.wready
        wiring.connect(m, writer.w, w_skid.i)
        m.d.comb += [
            axi.wdata.eq(w_skid.o.payload.data),
            axi.wstrb.eq(w_skid.o.payload.strb),
            axi.wlast.eq(w_skid.o.payload.last),
            axi.wvalid.eq(w_skid.o.valid),
            w_skid.o.ready.eq(axi.wready),
            axi.bready.eq(1),
        ]

        # The first failing response decides the status; later ones change nothing.
        with m.If(r_fire & (axi.rresp != AXIResp.OKAY) & ~failed):
            m.d.sync += [error.eq(axi.rresp.as_value()), failed.eq(1)]
        with m.If(axi.bvalid & (axi.bresp != AXIResp.OKAY) & ~failed):
            m.d.sync += [error.eq(axi.bresp.as_value()), failed.eq(1)]

        retire = Mux(is_write, axi.bvalid, reader.burst_done)
        with m.If(issue & ~retire):
            m.d.sync += inflight.eq(inflight + 1)
        with m.Elif(retire & ~issue & (inflight != 0)):
            m.d.sync += inflight.eq(inflight - 1)

        self._count(m, desc, ax_valid & ax_ready, r_fire, w_fire, reader.bus_bytes)
        return m

    def _sas_codec(self, m, desc, is_write, coded_words, products):
        """The PSSA encoder on the write side, the decoder on the read side, and the planner
        of their coded runs. For SAS descriptors ``rows`` is the tile's query rows,
        ``row_bytes`` its keys and, for reads, ``stride`` its coded length in words.
        Appends to ``products`` the ``(register, factor)`` pair whose product with
        ``rows - 1`` the window bound needs."""
        from hw.pssa import PSSADecoder, PSSAEncoder

        ema, pssa = self._ema, self._config.pssa
        m.submodules.sas_encoder = encoder = PSSAEncoder(self._config)
        m.submodules.sas_decoder = decoder = PSSADecoder(self._config)
        m.submodules.sas_planner = coded = CodedBurstPlanner(ema, self.words_bits)
        # The planner holds a burst until one more word exists after it: twice a burst plus
        # one keeps the encoder streaming while the previous burst drains.
        m.submodules.sas_words = words = StreamFIFO(ema.data_width, 2 * ema.max_burst + 2)

        wiring.connect(m, wiring.flipped(self.sas_scores_in), encoder.scores)
        wiring.connect(m, encoder.out, words.i)
        wiring.connect(m, decoder.scores, wiring.flipped(self.sas_scores_out))
        m.d.comb += [
            encoder.cmd.payload.n_rows.eq(desc.rows),
            encoder.cmd.payload.n_keys.eq(desc.row_bytes),
            encoder.cmd.payload.threshold.eq(self.sas_threshold),
            encoder.cmd.payload.policy.eq(self.sas_policy),
            decoder.cmd.payload.n_rows.eq(desc.rows),
            decoder.cmd.payload.n_keys.eq(desc.row_bytes),
            decoder.cmd.payload.policy.eq(self.sas_policy),
            decoder.cmd.payload.words.eq(desc.stride),
            coded.cmd.payload.addr.eq(desc.addr),
            coded.cmd.payload.words.eq(Mux(is_write, 0, desc.stride)),
            coded.cmd.payload.finished.eq(~is_write),
            coded.produced.eq(words.i.valid & words.i.ready),
            encoder.meta.ready.eq(1),
            coded.finished.eq(encoder.meta.valid),
        ]
        with m.If(encoder.meta.valid):
            m.d.sync += coded_words.eq(encoder.meta.payload.words)

        # The window a SAS write reserves is a bound on its coded length that needs no
        # division: a row of k keys in ceil(k / lanes) beats codes to at most
        # k * (score_bits + 2) + lanes bits (flag and XOR bits plus every value kept).
        # ``rows * row_bits`` is ``(rows - 1) * row_bits`` from the controller's multiplier
        # plus one more row; ``row_bits`` and the rounding term are registered because they
        # depend on the descriptor only.
        row_bits = Signal(ema.row_bytes_bits + (pssa.score_bits + 2).bit_length() + 1)
        rounding = Signal.like(row_bits)
        m.d.sync += [
            row_bits.eq(desc.row_bytes * (pssa.score_bits + 2) + pssa.lanes),
            rounding.eq(row_bits + ema.data_width - 1),
        ]
        tile_bits = Signal(ema.rows_bits + len(row_bits))
        products.append((tile_bits, row_bits))
        write_words = (tile_bits + rounding) >> (ema.data_width.bit_length() - 1)
        return {
            "misshaped": ((desc.rows > pssa.max_rows) | (desc.row_bytes > pssa.max_keys) |
                          (desc.addr[:ema.beat_shift] != 0) |
                          (~is_write & (desc.stride > self.max_words))),
            "reserved_words": Mux(is_write, write_words, desc.stride),
            "plan": coded.cmd, "encode": encoder.cmd, "decode": decoder.cmd,
            "planner": coded, "decoder": decoder,
            "coded_in": decoder.inp, "coded_out": words.o,
        }

    def _count(self, m, desc, burst_fire, r_fire, w_fire, read_bytes):
        # Each cycle's increments and the running descriptor's (class, direction) are
        # registered before the adds: the read aligner's byte count comes from its row cursor,
        # and feeding it straight into 32 counter adds was the longest path of the processor.
        # A cleared cycle registers no increment, and the counters zero a cycle later, so a
        # clear has an event's latency. The counters and the staged increments have no reset:
        # each takes its clear from a single register (the counters from ``clearing``, which
        # the block reset sets), not from a LUT joining the chip-wide reset to the clear, which
        # was the top's longest path.
        lanes = self._ema.data_bytes
        is_write = desc.direction == Direction.WRITE
        beat = Mux(is_write, w_fire, r_fire)
        write_bytes = sum(self.m_axi.wstrb[k] for k in range(lanes))
        moved = Mux(beat, Mux(is_write, write_bytes, read_bytes), 0)
        increments = {"bytes": moved, "beats": beat, "bursts": burst_fire,
                      "stalls": self.busy & ~beat}
        assert tuple(increments) == COUNTER_KINDS
        staged = {kind: Signal(range(lanes + 1) if kind == "bytes" else 1, name=f"count_{kind}",
                               reset_less=True)
                  for kind in COUNTER_KINDS}
        clearing = Signal(init=1)
        m.d.sync += clearing.eq(self.counters_clear)
        totals = Signal(counters_layout(self._ema), reset_less=True)
        m.d.comb += self.counters.eq(totals)
        target = Signal(len(TrafficClass) * len(Direction))
        m.d.sync += target.eq(Const(1) << Cat(desc.direction, desc.tclass))
        with m.If(self.counters_clear):
            m.d.sync += [value.eq(0) for value in staged.values()]
        with m.Else():
            m.d.sync += [staged[kind].eq(increment) for kind, increment in increments.items()]
        for tclass in TrafficClass:
            for direction in Direction:
                counters = totals[tclass.value][direction.value]
                selected = target[tclass.value * len(Direction) + direction.value]
                for kind in COUNTER_KINDS:
                    counter = getattr(counters, kind)
                    with m.If(clearing):
                        m.d.sync += counter.eq(0)
                    with m.Elif(selected):
                        m.d.sync += counter.eq(counter + staged[kind])
