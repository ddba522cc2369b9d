"""The processor top level: CSR bank, command queue, sequencer, on-chip buffers, the DBSC array
and the EMA controller (docs/top.md)."""

from amaranth import Cat, Const, Module, Mux, ResetInserter, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.common import Requantizer, SkidBuffer, StreamFIFO
from hw.dbsc import DBSCArray, Mode, Precision
from hw.ema import EMAController, Status, TrafficClass
from hw.ema.axi import AXI4LiteSignature, AXI4Signature
from hw.ema.layouts import COUNTER_KINDS, Direction
from hw.tips import TIPS

from .csr import CSR, CSRBank
from .gearbox import BufferReader, BufferWriter, RowMajorReader, item_packing
from .isa import (ADDR_BITS, COMMAND_BITS, Buffer, ErrorCause, Gemm, LoadStore,
                  MalformedDetail, Opcode, OutFormat, SasTransfer, Tips, row_major_scores)

__all__ = ["SDProcessor", "csr_registers", "register_map", "buffer_words", "item_bits",
           "CSR_ADDR_WIDTH", "ID_VALUE"]

#: Byte address width of the CSR port.
CSR_ADDR_WIDTH = 12
#: What the ``ID`` register reads ("SD" and ISA version 1).
ID_VALUE = 0x5D00_0001

_CLASSES = ("weight", "activation", "sas", "other")
#: Bits of the multiplier operand per partial product of the sequencer's size computation.
_DIGIT = 4
#: Buffer ranges one command uses at most (a GEMM's ACT or SAS, WEIGHT, BITMAP, OUT).
_SLOTS = 4


def buffer_words(config):
    """Depth in words of each buffer, in :class:`Buffer` order."""
    return [config.top.buffer_bytes(name) // config.ema.data_bytes
            for name in config.top.BUFFERS]


def item_bits(config):
    """Bits of each stream item kept in a buffer: ``act``, ``weight``, ``bitmap`` beats and
    result rows per :class:`OutFormat`."""
    d = config.dbsc
    return {"act": d.rows * d.act_bits_high, "weight": d.cols * d.weight_bits,
            "bitmap": d.rows, OutFormat.INT: d.cols * d.act_bits_high,
            OutFormat.UINT: d.cols * config.pssa.score_bits,
            OutFormat.RAW: d.cols * d.acc_bits,
            "probs": config.tips.lanes * config.tips.prob_bits,
            "tips_bitmap": config.tips.lanes,
            "sas": config.pssa.lanes * config.pssa.score_bits}


def csr_registers(config):
    """The CSR bank's registers; register ``i`` sits at byte offset ``4 * i``
    (docs/top.md, register map)."""
    wide_addr = config.ema.addr_width > 32
    regs = [
        CSR("ID", "ro", doc="reads ID_VALUE"),
        CSR("CTRL", "pulse", 2, doc="bit 0: clear the error and leave the halt; "
                                    "bit 1: zero every performance counter"),
        CSR("STATUS", "ro", doc="bit 0 busy, 1 halted, 2 queue empty, 3 queue full, "
                                "31:16 queue level"),
        CSR("ERROR", "ro", doc="3:0 cause, 7:4 detail, 31:8 index of the failing command"),
        CSR("IRQ_PENDING", "w1c", 3, doc="IRQ bits (DONE, ERROR, FENCE)"),
        CSR("IRQ_ENABLE", "rw", 3, doc="irq = |(IRQ_PENDING & IRQ_ENABLE)"),
    ]
    regs += [CSR(f"CMD{i}", "rw", doc=f"command bits {32 * i + 31}:{32 * i}") for i in range(4)]
    regs += [
        CSR("CMD_PUSH", "pulse", 1, doc="write: push CMD3..CMD0 into the command queue"),
        CSR("COMMANDS_DONE", "ro", doc="commands completed since reset or CTRL bit 0"),
        CSR("ADDR_HI", "rw", doc="DRAM address bits 63:32 of LOAD/STORE (64-bit builds)"),
        CSR("SAS_THRESHOLD", "rw", config.pssa.score_bits, doc="PSSA pruning threshold"),
        CSR("SAS_POLICY", "rw", 1, doc="PSSA XOR reference: 0 chain, 1 anchor"),
    ]
    for name in ("BUSY_CYCLES", "MACS_HIGH", "MACS_LOW"):
        regs += [CSR(f"{name}_LO", "ro"), CSR(f"{name}_HI", "ro")]
    for c, cls in enumerate(_CLASSES):
        for kind, init in (("BASE", 0), ("LIMIT", 0xFFFF_FFFF)):
            regs.append(CSR(f"WINDOW_{kind}_LO_{c}", "rw", init=init,
                            doc=f"{cls} window {kind.lower()}, bits 31:0"))
            regs.append(CSR(f"WINDOW_{kind}_HI_{c}", "rw", init=init if wide_addr else 0,
                            doc=f"{cls} window {kind.lower()}, bits 63:32"))
    for c, cls in enumerate(_CLASSES):
        for d in Direction:
            for kind in COUNTER_KINDS:
                name = f"EMA_{cls.upper()}_{d.name}_{kind.upper()}"
                regs += [CSR(f"{name}_LO", "ro"), CSR(f"{name}_HI", "ro")]
    regs += [CSR(f"TOKEN_MASK_{i}", "rw", doc=f"TIPS token mask bits {32 * i + 31}:{32 * i}")
             for i in range(-(-config.tips.tokens // 32))]
    regs += [
        CSR("TIPS_HIGH", "ro", doc="high-precision pixels of the last TIPS tile"),
        CSR("SAS_WORDS", "ro", doc="coded words of the last SAS_STORE"),
    ]
    return regs


def register_map(config):
    """``{name: byte offset}`` of every CSR."""
    return {reg.name: 4 * i for i, reg in enumerate(csr_registers(config))}


def _ceil_div(value, divisor):
    if divisor & (divisor - 1) == 0:
        return (value + divisor - 1) >> (divisor.bit_length() - 1)
    return (value + divisor - 1) // divisor


def _words_of(items, per_word, per_item):
    """Buffer words holding ``items`` items in the packed item layout."""
    return items * per_item if per_item > 1 else _ceil_div(items, per_word)


class SDProcessor(wiring.Component):
    """The Stable Diffusion processor: commands from an AXI4-Lite CSR port run the DBSC array
    and the TIPS selector on operands that the EMA controller (with its PSSA codec) moves
    between DRAM and on-chip buffers.

    Software writes 128-bit commands (docs/isa.md) into ``CMD0..CMD3`` and pushes them with
    ``CMD_PUSH`` into a ``top.command_queue_depth`` FIFO. The sequencer runs them one at a
    time, in order: ``LOAD``/``STORE`` pass one EMA descriptor between DRAM and a buffer
    range; ``GEMM`` streams operands from the buffers through width converters into the array
    (activations from ACT, or row-major from a decoded score tile in SAS) and its result rows
    through a requantizer into the OUT buffer; ``TIPS`` turns cross-attention probabilities
    (ACT) into the precision bitmap (BITMAP) that a GEMM reads; ``SAS_STORE``/``SAS_LOAD``
    move a score tile (SAS) through the PSSA encoder to DRAM and back through the decoder;
    ``FENCE`` raises an interrupt. Every command is checked before it starts (opcode,
    reserved bits, field values, buffer ranges); a bad one, an EMA error status or an overflowing push halts the sequencer:
    ``ERROR`` says which command and why, the queue is emptied, ``IRQ.ERROR`` is raised, and
    ``CTRL`` bit 0 resumes. A command already running when an error is found finishes first,
    so nothing is left half-transferred on the bus or in the array.

    Buffers (``amaranth.lib.memory.Memory`` of ``ema.data_width``-bit words, sizes from
    ``config.top``): WEIGHT, ACT, OUT, BITMAP, SAS.

    Parameters
    ----------
    config : :class:`sw.config.ProcessorConfig`

    Members
    -------
    csr : ``In(AXI4LiteSignature(addr_width=12, data_width=32))``
        Register map: :func:`register_map` (docs/top.md).
    m_axi : ``Out(AXI4Signature(...))``
        The EMA controller's AXI4 manager port.
    irq : ``Out(1)``
        Level interrupt, ``|(IRQ_PENDING & IRQ_ENABLE)``.

    Latency and throughput
    ----------------------
    ``dispatch_latency`` (8) cycles from a command leaving the queue to its first action
    (descriptor or array command valid): DECODE, SIZE, MULTIPLY, SUM, PRODUCT, WORDS, CHECK
    and DISPATCH, one registered step each. Commands do not overlap: a LOAD/STORE takes the
    EMA's transfer time, a GEMM the array's tile time (``DBSCArray.ideal_cycles``) plus the
    converters' fill (``BufferReader.latency`` + 2 ``SkidBuffer.latency``: one skid buffer by
    the converter, one at the array's port), the result path (``SkidBuffer.latency``, the
    array's own result buffer being its output register, + ``Requantizer.latency`` +
    ``BufferWriter.latency``) and :meth:`account_cycles` to add up its MACs. A STORE's data, TIPS's command, probabilities and bitmap, and a SAS_STORE's
    scores pass one ``SkidBuffer`` each.
    """

    dispatch_latency = 8

    @staticmethod
    def account_cycles(m, high):
        """Cycles of a GEMM's MAC accounting (after its last result row is written) for
        ``m`` tokens of which ``high`` at high precision: one per bit of the larger count."""
        return max(1, max(high, m - high).bit_length())

    def __init__(self, config):
        # TopConfig caps every buffer at 1 MiB, i.e. at most 2^18 words of the narrowest bus:
        # the ISA's 18-bit word addresses reach every word of every build.
        self.config = config
        ema = config.ema
        super().__init__({
            "csr": In(AXI4LiteSignature(addr_width=CSR_ADDR_WIDTH, data_width=32)),
            "m_axi": Out(AXI4Signature(addr_width=ema.addr_width, data_width=ema.data_width,
                                       id_width=ema.id_width)),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        d, ema = cfg.dbsc, cfg.ema
        W = ema.data_width
        depths = buffer_words(cfg)
        bits = item_bits(cfg)

        m.submodules.csr = csr = CSRBank(csr_registers(cfg), addr_width=CSR_ADDR_WIDTH)
        wiring.connect(m, wiring.flipped(self.csr), csr.bus)
        m.submodules.ema = dma = EMAController(cfg)
        wiring.connect(m, wiring.flipped(self.m_axi), dma.m_axi)
        m.submodules.dbsc = array = DBSCArray(d)

        # Command queue; emptied while the sequencer is stopped, so that it is empty by the time
        # STATUS says halted.
        flush = Signal()
        queue = StreamFIFO(COMMAND_BITS, cfg.top.command_queue_depth)
        m.submodules.queue = ResetInserter(flush)(queue)

        # Buffers ---------------------------------------------------------------------------
        rports, wports = [], []
        for buf, depth in zip(Buffer, depths):
            mem = Memory(shape=unsigned(W), depth=depth, init=[])
            m.submodules[f"buf_{buf.name.lower()}"] = mem
            rports.append(mem.read_port())
            wports.append(mem.write_port())
        addr_bits = ADDR_BITS + 1  # one more than the ISA field: sums never wrap

        # Converters ------------------------------------------------------------------------
        count_bits = 32
        m.submodules.act_reader = act_reader = BufferReader(bits["act"], W, ADDR_BITS, count_bits)
        m.submodules.weight_reader = weight_reader = BufferReader(bits["weight"], W, ADDR_BITS,
                                                                  count_bits)
        m.submodules.bitmap_reader = bitmap_reader = BufferReader(bits["bitmap"], W, ADDR_BITS,
                                                                  count_bits)
        m.submodules.store_reader = store_reader = BufferReader(W, W, ADDR_BITS, count_bits)
        m.submodules.probs_reader = probs_reader = BufferReader(bits["probs"], W, ADDR_BITS,
                                                                count_bits)
        m.submodules.tips_writer = tips_writer = BufferWriter(bits["tips_bitmap"], W, ADDR_BITS,
                                                              count_bits)
        m.d.comb += tips_writer.limit.eq(depths[Buffer.BITMAP.value])
        m.submodules.tips = tips = TIPS(cfg)
        m.d.comb += [
            tips.status.ready.eq(1),
            tips.token_mask.eq(Cat(getattr(csr, f"TOKEN_MASK_{i}")
                                   for i in range(-(-cfg.tips.tokens // 32)))),
            csr.TIPS_HIGH.eq(tips.high_count),
        ]
        if ema.sas_codec:
            m.submodules.sas_reader = sas_reader = BufferReader(bits["sas"], W, ADDR_BITS,
                                                                count_bits)
            m.submodules.sas_writer = sas_writer = BufferWriter(bits["sas"], W, ADDR_BITS,
                                                                count_bits)
            m.d.comb += sas_writer.limit.eq(depths[Buffer.SAS.value])
        writers = {}
        for fmt in OutFormat:
            writers[fmt] = BufferWriter(bits[fmt], W, ADDR_BITS, count_bits)
            m.submodules[f"out_writer_{fmt.name.lower()}"] = writers[fmt]
            m.d.comb += writers[fmt].limit.eq(depths[Buffer.OUT.value])
        m.submodules.requant_int = requant_int = Requantizer(d.acc_bits, d.act_bits_high, d.cols,
                                                             out_signed=True)
        m.submodules.requant_uint = requant_uint = Requantizer(
            d.acc_bits, cfg.pssa.score_bits, d.cols, out_signed=False)

        # Skid buffers (registered ``ready``) on every stream between a converter and the array
        # or the EMA: the array's stall reaches all its PEs, and a ``ready`` passed through
        # from the far side would chain the writers, requantizers, array and readers into one
        # path across the chip. Each is cleared with the converters it serves, so that a beat
        # left behind by an aborted command cannot reach the next one.
        # The sequencer's stop decisions are registered before they clear anything: their
        # clears reach the resets of every converter and skid buffer across the chip, and no
        # converter starts again sooner than four cycles after a stop (DECODE to DISPATCH, and
        # a failure halts the sequencer), so the cycle's delay costs nothing. A converter may
        # deliver one more beat meanwhile; its skid buffers are cleared in the same cycle as
        # the converter, so the beat goes nowhere.
        gemm_abort = Signal()
        store_stop = Signal()
        sas_stop = Signal()
        tips_stop = Signal()
        gemm_clear = Signal()
        store_clear = Signal()
        tips_clear = Signal()
        sas_clear = Signal()
        m.d.sync += [gemm_clear.eq(gemm_abort), store_clear.eq(store_stop),
                     tips_clear.eq(tips_stop), sas_clear.eq(sas_stop)]

        def skid(name, shape, clear, steered=False):
            buffer = SkidBuffer(shape, steered=steered)
            m.submodules[name] = ResetInserter(clear)(buffer)
            return buffer

        def port_skid(name, outer, sink, clear):
            """A steered skid buffer at the far end of a crossing, after ``outer``."""
            port = skid(name, outer.o.payload.shape(), clear, steered=True)
            wiring.connect(m, outer.o, port.i)
            wiring.connect(m, port.o, sink)

        act_skid = skid("act_skid", array.act.payload.shape(), gemm_clear, steered=True)
        wgt_skid = skid("wgt_skid", array.wgt.payload.shape(), gemm_clear, steered=True)
        prec_skid = skid("prec_skid", array.prec.payload.shape(), gemm_clear, steered=True)
        res_skid = skid("res_skid", array.res.payload.shape(), gemm_clear)
        store_skid = skid("store_skid", dma.wr_data.payload.shape(), store_clear,
                          steered=True)
        # A second skid buffer at each of the array's ports: the array's stall and issue logic
        # then meets only flip-flops that can sit next to it, while the first ones sit by the
        # converters and the block RAMs; no net between the two ends lies inside one cycle's
        # logic. The input ports' ones are steered: the array's take decisions then enable
        # their pointers, not every payload bit.
        for name, outer in (("act", act_skid), ("wgt", wgt_skid), ("prec", prec_skid)):
            port_skid(f"{name}_port_skid", outer, getattr(array, name), gemm_clear)
        # The results leave the array through its own (steered) skid buffer, the one its
        # stall is taken from: ``res_skid`` at the far side is the pair's second.
        wiring.connect(m, array.res, res_skid.i)
        # STORE's data and the score tiles into the PSSA encoder cross the chip to the EMA
        # too: a second, steered, skid buffer at the EMA's side, as at the array's ports, so
        # that the EMA's ready decisions enable pointers there and nothing reaches back.
        port_skid("store_port_skid", store_skid, dma.wr_data, store_clear)
        wiring.connect(m, weight_reader.items, wgt_skid.i)
        wiring.connect(m, bitmap_reader.items, prec_skid.i)
        wiring.connect(m, store_reader.items, store_skid.i)
        m.d.comb += [reader.stop.eq(gemm_clear)
                     for reader in (act_reader, weight_reader, bitmap_reader)]
        m.d.comb += store_reader.stop.eq(store_clear)

        # Activations: the ACT buffer in beat order, or a decoded score tile in the SAS buffer.
        act_from_sas = Signal()
        row_major = row_major_scores(cfg)
        if row_major:
            m.submodules.score_reader = score_reader = RowMajorReader(bits["act"], W, ADDR_BITS,
                                                                      count_bits)
            m.d.comb += [score_reader.items.ready.eq(act_skid.i.ready & act_from_sas),
                         score_reader.stop.eq(gemm_clear)]
            act_items = score_reader.items
        m.d.comb += [
            act_skid.i.valid.eq(Mux(act_from_sas, act_items.valid, act_reader.items.valid)
                                if row_major else act_reader.items.valid),
            act_skid.i.payload.eq(Mux(act_from_sas, act_items.payload, act_reader.items.payload)
                                  if row_major else act_reader.items.payload),
            act_reader.items.ready.eq(act_skid.i.ready & ~act_from_sas),
        ]
        # TIPS's streams, its command, and the score tiles into the PSSA encoder: the same,
        # so that neither side's handshake logic reaches across the chip into the other's
        # register enables. TIPS's are cleared when it fails (it then stops taking
        # probabilities), the encoder's at the end of each transfer.
        probs_skid = skid("probs_skid", tips.probs.payload.shape(), tips_clear)
        bitmap_skid = skid("tips_bitmap_skid", tips.bitmap.payload.shape(), tips_clear)
        m.submodules.tips_cmd_skid = tips_cmd = SkidBuffer(tips.cmd.payload.shape())
        wiring.connect(m, probs_reader.items, probs_skid.i)
        wiring.connect(m, probs_skid.o, tips.probs)
        wiring.connect(m, tips.bitmap, bitmap_skid.i)
        wiring.connect(m, bitmap_skid.o, tips_writer.items)
        wiring.connect(m, tips_cmd.o, tips.cmd)
        m.d.comb += probs_reader.stop.eq(tips_clear)
        if ema.sas_codec:
            sas_in_skid = skid("sas_in_skid", dma.sas_scores_in.payload.shape(), sas_clear)
            wiring.connect(m, sas_reader.items, sas_in_skid.i)
            port_skid("sas_port_skid", sas_in_skid, dma.sas_scores_in, sas_clear)
            m.d.comb += sas_reader.stop.eq(sas_clear)
            m.d.comb += [
                sas_writer.items.valid.eq(dma.sas_scores_out.valid),
                sas_writer.items.payload.eq(dma.sas_scores_out.payload),
                dma.sas_scores_out.ready.eq(sas_writer.items.ready),
                dma.sas_threshold.eq(csr.SAS_THRESHOLD),
                dma.sas_policy.eq(csr.SAS_POLICY),
            ]

        # Result rows: to the writer of the command's format, through its requantizer.
        out_format = Signal(OutFormat)
        shift = Signal(6)
        res = res_skid.o
        for requant, fmt in ((requant_int, OutFormat.INT), (requant_uint, OutFormat.UINT)):
            m.d.comb += [
                requant.shift.eq(shift),
                requant.i.valid.eq(res.valid & (out_format == fmt)),
                requant.i.payload.eq(res.payload),
            ]
            m.d.comb += [writers[fmt].items.valid.eq(requant.o.valid),
                         writers[fmt].items.payload.eq(requant.o.payload),
                         requant.o.ready.eq(writers[fmt].items.ready)]
        m.d.comb += [
            writers[OutFormat.RAW].items.valid.eq(res.valid & (out_format == OutFormat.RAW)),
            writers[OutFormat.RAW].items.payload.eq(res.payload),
            res.ready.eq(Mux(out_format == OutFormat.INT, requant_int.i.ready,
                             Mux(out_format == OutFormat.UINT, requant_uint.i.ready,
                                 writers[OutFormat.RAW].items.ready))),
        ]

        # Window and status registers -------------------------------------------------------
        for c in range(len(_CLASSES)):
            m.d.comb += [
                dma.window_base[c].eq(Cat(getattr(csr, f"WINDOW_BASE_LO_{c}"),
                                          getattr(csr, f"WINDOW_BASE_HI_{c}"))),
                dma.window_limit[c].eq(Cat(getattr(csr, f"WINDOW_LIMIT_LO_{c}"),
                                           getattr(csr, f"WINDOW_LIMIT_HI_{c}"))),
            ]
            for direction in Direction:
                for kind in COUNTER_KINDS:
                    name = f"EMA_{_CLASSES[c].upper()}_{direction.name}_{kind.upper()}"
                    value = Signal(64, name=name.lower())
                    m.d.comb += [
                        value.eq(dma.counters[c][direction.value][kind]),
                        getattr(csr, f"{name}_LO").eq(value[:32]),
                        getattr(csr, f"{name}_HI").eq(value[32:]),
                    ]

        busy_cycles = Signal(64)
        macs_high = Signal(64)
        macs_low = Signal(64)
        commands_done = Signal(32)
        for name, value in (("BUSY_CYCLES", busy_cycles), ("MACS_HIGH", macs_high),
                            ("MACS_LOW", macs_low)):
            m.d.comb += [getattr(csr, f"{name}_LO").eq(value[:32]),
                         getattr(csr, f"{name}_HI").eq(value[32:])]
        clear_error = Signal()
        # Registered: the write strobe would otherwise meet the block reset in the clears of
        # the EMA's counters, across the chip from the CSR decoder.
        clear_counters = Signal()
        m.d.sync += clear_counters.eq(csr.CTRL_stb & csr.CTRL[1])
        m.d.comb += [
            clear_error.eq(csr.CTRL_stb & csr.CTRL[0]),
            dma.counters_clear.eq(clear_counters),
            csr.ID.eq(ID_VALUE),
            csr.COMMANDS_DONE.eq(commands_done),
        ]

        halted = Signal()
        error_pending = Signal()
        stopped = Signal()
        error_cause = Signal(4)
        error_detail = Signal(4)
        error_index = Signal(24)
        sequence = Signal(24)          # index of the next command to leave the queue
        busy = Signal()
        irq_done = Signal()
        irq_fence = Signal()
        irq_error = Signal()
        m.d.comb += [
            csr.STATUS.eq(Cat(busy, halted, queue.level == 0,
                              queue.level == cfg.top.command_queue_depth,
                              Const(0, 12), queue.level)),
            csr.ERROR.eq(Cat(error_cause, error_detail, error_index)),
            csr.IRQ_PENDING_set.eq(Cat(irq_done, irq_error, irq_fence)),
            flush.eq(stopped),
            stopped.eq(halted | error_pending),
        ]
        m.d.sync += self.irq.eq((csr.IRQ_PENDING & csr.IRQ_ENABLE) != 0)

        # Command push: a push into a full queue is an overflow error (the command is lost).
        push = Signal()
        m.d.comb += [
            push.eq(csr.CMD_PUSH_stb & ~stopped),
            queue.i.valid.eq(push),
            queue.i.payload.eq(Cat(csr.CMD0, csr.CMD1, csr.CMD2, csr.CMD3)),
        ]
        overflow = Signal()
        m.d.comb += overflow.eq(push & ~queue.i.ready)

        # Sequencer -------------------------------------------------------------------------
        # The command and the size computation's products carry no reset: the sequencer
        # loads each before it reads it.
        cmd = Signal(COMMAND_BITS, reset_less=True)
        ls = LoadStore(cmd)
        gm = Gemm(cmd)
        tp = Tips(cmd)
        st = SasTransfer(cmd)
        sas_op = Signal()
        sas_words = Signal(24)
        m.d.comb += csr.SAS_WORDS.eq(sas_words)
        opcode = Signal(4)
        m.d.comb += opcode.eq(cmd[:4])

        # Derived sizes and checks, one registered step per state from DECODE to CHECK, so
        # that no state holds more than one adder, multiplier stage or comparison; DISPATCH
        # acts on the registered outcome.
        row_beats = Signal(17)
        groups = Signal(17)
        weight_passes = Signal(17)
        bitmap_beats = Signal(17)
        tips_words = Signal(17)
        sas_row_beats = Signal(17)
        # The command's one product (LOAD/STORE and SAS: rows x beats per row; GEMM: the
        # activation beats, or the score tile's words; TIPS: the probability beats), in
        # partial products of ``_DIGIT``-bit digits of ``mul_b``, their pairwise sums, the sum.
        mul_a = Signal(17)
        mul_b = Signal(17)
        partials = [Signal(len(mul_a) + _DIGIT, name=f"partial_{i}", reset_less=True)
                    for i in range(-(-len(mul_b) // _DIGIT))]
        pair_sums = [Signal(len(mul_a) + len(mul_b), name=f"pair_sum_{i}", reset_less=True)
                     for i in range(-(-len(partials) // 2))]
        beats = Signal(len(mul_a) + len(mul_b), reset_less=True)
        # Buffer ranges in command order: room (buffer depth - first word, negative past the
        # end), words used, buffer, used by the command.
        room = [Signal(signed(addr_bits + 1), name=f"room_{i}") for i in range(_SLOTS)]
        words = [Signal(len(beats) + 1, name=f"words_{i}") for i in range(_SLOTS)]
        slot_buffer = [Signal(3, name=f"slot_buffer_{i}") for i in range(_SLOTS)]
        slot_used = [Signal(name=f"slot_used_{i}") for i in range(_SLOTS)]
        malformed = Signal(4)
        range_bad = Signal()
        range_buffer = Signal(3)
        checked_malformed = Signal(4)
        checked_range_bad = Signal()
        checked_range_buffer = Signal(3)

        fail = Signal()
        fail_cause = Signal(4)
        fail_detail = Signal(4)
        complete = Signal()

        # MAC accounting of the running GEMM: high tokens counted from the registered
        # precision beats, then ``k * cols`` MACs per token added in ACCOUNT.
        high_tokens = Signal(17)
        tokens_left = Signal(17)
        counting = Signal()
        counted = Signal(d.rows)
        per_token = Signal(16 + (d.cols - 1).bit_length())
        account_high = Signal.like(high_tokens)
        account_low = Signal.like(high_tokens)
        account_macs = Signal(len(per_token) + len(high_tokens))

        load_ptr = Signal(addr_bits)
        load_buffer = Signal(3)
        gemm_writer_busy = Signal()
        m.d.comb += gemm_writer_busy.eq(writers[OutFormat.INT].busy | writers[OutFormat.UINT].busy
                                        | writers[OutFormat.RAW].busy)

        # EMA descriptor of a LOAD, STORE, SAS_STORE or SAS_LOAD.
        desc = dma.desc.payload
        m.d.comb += sas_op.eq((opcode == Opcode.SAS_STORE) | (opcode == Opcode.SAS_LOAD))
        with m.If(sas_op):
            m.d.comb += [
                desc.direction.as_value().eq(opcode == Opcode.SAS_STORE),
                desc.tclass.eq(TrafficClass.SAS),
                desc.addr.eq(Cat(st.dram_addr, csr.ADDR_HI)[:ema.addr_width]),
                desc.rows.eq(st.rows),
                desc.row_bytes.eq(st.keys),
                desc.stride.eq(Mux(st.words == 0, sas_words, st.words)),
            ]
        with m.Else():
            m.d.comb += [
                desc.direction.as_value().eq(opcode == Opcode.STORE),
                desc.tclass.as_value().eq(ls.tclass),
                desc.addr.eq(Cat(ls.dram_addr, csr.ADDR_HI)[:ema.addr_width]),
                desc.rows.eq(ls.rows),
                desc.row_bytes.eq(ls.row_bytes),
                desc.stride.eq(ls.stride),
            ]

        # TIPS command.
        m.d.comb += [
            tips_cmd.i.payload.mode.as_value().eq(tp.mode),
            tips_cmd.i.payload.pixels.eq(tp.pixels),
            tips_cmd.i.payload.tau.eq(tp.tau),
            tips_cmd.i.payload.ratio.eq(tp.ratio),
            tips.bitmap_read.addr.eq(0),
        ]

        # DBSC command of a GEMM.
        m.d.comb += [
            array.cmd.payload.mode.eq(gm.mode),
            array.cmd.payload.precision.eq(gm.precision),
            array.cmd.payload.m.eq(gm.m),
            array.cmd.payload.k.eq(gm.k),
        ]

        # Read and write port routing: the running command owns the ports it needs. The owners
        # are registers, set as the command is dispatched and cleared as it ends, so that the
        # sequencer's state decoding is off the paths into the buffers.
        store_owner = [Signal(name=f"store_owner_{buf.name.lower()}") for buf in Buffer]
        load_owner = [Signal(name=f"load_owner_{buf.name.lower()}") for buf in Buffer]
        gemm_running = Signal()
        tips_running = Signal()
        sas_storing = Signal()
        sas_loading = Signal()
        gemm_wen = Signal()
        gemm_waddr = Signal(ADDR_BITS)
        gemm_wdata = Signal(W)
        for fmt, writer in writers.items():
            with m.If(out_format == fmt):
                m.d.comb += [gemm_wen.eq(writer.wr_en), gemm_waddr.eq(writer.wr_addr),
                             gemm_wdata.eq(writer.wr_data)]
        # Per buffer, the command-specific users besides LOAD and STORE: (owner, reader) and
        # (owner, write enable, address, data).
        readers = {Buffer.ACT: [(gemm_running, act_reader), (tips_running, probs_reader)],
                   Buffer.WEIGHT: [(gemm_running, weight_reader)],
                   Buffer.BITMAP: [(gemm_running, bitmap_reader)],
                   Buffer.OUT: [], Buffer.SAS: []}
        write_users = {Buffer.OUT: [(gemm_running, gemm_wen, gemm_waddr, gemm_wdata)],
                       Buffer.BITMAP: [(tips_running, tips_writer.wr_en, tips_writer.wr_addr,
                                        tips_writer.wr_data)]}
        if row_major:
            readers[Buffer.SAS].append((gemm_running & act_from_sas, score_reader))
        if ema.sas_codec:
            readers[Buffer.SAS].append((sas_storing, sas_reader))
            write_users[Buffer.SAS] = [(sas_loading, sas_writer.wr_en, sas_writer.wr_addr,
                                        sas_writer.wr_data)]
        # Every read port is registered on both sides of the memory (gearbox.READ_LATENCY):
        # the owners' address and enable mux goes into a register, so that a reader's fetch
        # decision, which also enables its own counters, does not have to reach the block RAM
        # in the same cycle; and the data is registered right after the memory, because a
        # block RAM's clock-to-output leaves no room for the readers' muxes.
        # The words and addresses carry no reset (the enables and owners have one): fewer
        # loads on the chip-wide reset net.
        read_words = [Signal(W, name=f"read_word_{buf.name.lower()}", reset_less=True)
                      for buf in Buffer]
        for buf in Buffer:
            rp, wp = rports[buf.value], wports[buf.value]
            m.d.sync += read_words[buf.value].eq(rp.data)
            addr, en = store_reader.rd_addr, store_owner[buf.value] & store_reader.rd_en
            for owner, reader in readers[buf]:
                m.d.comb += reader.rd_data.eq(read_words[buf.value])
                addr = Mux(owner, reader.rd_addr, addr)
                en = Mux(owner, reader.rd_en, en)
            port_addr = Signal.like(rp.addr, name=f"read_addr_{buf.name.lower()}",
                                    reset_less=True)
            port_en = Signal(name=f"read_en_{buf.name.lower()}")
            m.d.sync += [port_addr.eq(addr), port_en.eq(en)]
            m.d.comb += [rp.addr.eq(port_addr), rp.en.eq(port_en)]

            wen = load_owner[buf.value] & dma.rd_data.valid & (load_ptr < depths[buf.value])
            waddr, wdata = load_ptr, dma.rd_data.payload
            for owner, user_en, user_addr, user_data in write_users.get(buf, []):
                wen = Mux(owner, user_en, wen)
                waddr = Mux(owner, user_addr, waddr)
                wdata = Mux(owner, user_data, wdata)
            m.d.comb += [wp.en.eq(wen), wp.addr.eq(waddr), wp.data.eq(wdata)]
        read_data = Signal(W)
        with m.Switch(load_buffer):
            for buf in Buffer:
                with m.Case(buf.value):
                    m.d.comb += read_data.eq(read_words[buf.value])
        m.d.comb += store_reader.rd_data.eq(read_data)
        with m.If(Cat(*load_owner).any() & dma.rd_data.valid):
            m.d.sync += load_ptr.eq(load_ptr + 1)

        m.d.comb += [dma.rd_data.ready.eq(1), dma.status.ready.eq(1)]

        m.d.sync += counting.eq(array.prec.valid & array.prec.ready)
        with m.If(array.prec.valid & array.prec.ready):
            mask = Signal(d.rows)
            m.d.comb += mask.eq(Cat(tokens_left > r for r in range(d.rows)))
            m.d.sync += [counted.eq(array.prec.payload & mask),
                         tokens_left.eq(tokens_left - d.rows)]
        with m.If(counting):
            m.d.sync += high_tokens.eq(high_tokens + sum(counted[r] for r in range(d.rows)))

        # Per-item packings of the buffers the checks look at.
        pack = {name: item_packing(bits[name], W)
                for name in ("act", "weight", "bitmap", "probs", "tips_bitmap", "sas")}
        tc, pc = cfg.tips, cfg.pssa
        tips_shape_bad = ((tp.pixels == 0) | (tp.ratio > tc.ratio_one) & (tp.mode == 1)
                          | ((tp.pixels > tc.max_pixels) if tc.max_pixels < 0xFFFF else Const(0))
                          | ((tp.tau >> tc.importance_bits) != 0 if tc.importance_bits < 32
                             else Const(0)))
        sas_shape_bad = ((st.rows == 0) | (st.keys == 0)
                         | ((st.rows > pc.max_rows) if pc.max_rows < 0xFFFF else Const(0))
                         | ((st.keys > pc.max_keys) if pc.max_keys < 0xFFFF else Const(0)))
        out_words = {fmt: _words_of(gm.m, *item_packing(bits[fmt], W)) for fmt in OutFormat}

        # The command's 16-bit fields may exceed what the EMA's descriptor fields hold.
        too_many_rows = (ls.rows > ema.max_rows) if ema.rows_bits < 16 else Const(0)
        too_long_rows = (ls.row_bytes > ema.max_row_bytes) if ema.row_bytes_bits < 16 else Const(0)

        # The converters are started from registers the cycle after DISPATCH: their many
        # parameter registers are off the path through the sequencer's decisions.
        starters = [store_reader, act_reader, weight_reader, bitmap_reader, probs_reader,
                    tips_writer, *writers.values()]
        if row_major:
            starters.append(score_reader)
        if ema.sas_codec:
            starters += [sas_reader, sas_writer]
        m.d.sync += [converter.start.eq(0) for converter in starters]
        # Their parameters load every cycle, from the command register, which holds still
        # from DECODE on: a converter reads them only with ``start``, and the dispatch
        # decision then enables the start flags alone, not every parameter register.
        for reader, base, count, passes in (
                (store_reader, ls.addr, beats, 1),
                (act_reader, gm.act_addr, Mux(gm.act_source, 0, beats), 1),
                (weight_reader, gm.weight_addr, gm.k, weight_passes),
                (bitmap_reader, gm.bitmap_addr, bitmap_beats, 1),
                (probs_reader, tp.probs_addr, beats, 1),
                *([(sas_reader, st.addr, beats, 1)] if ema.sas_codec else [])):
            m.d.sync += [reader.base.eq(base), reader.pass_items.eq(count),
                         reader.passes.eq(passes)]
        for writer, base, count in (
                *((writer, gm.out_addr, Mux(gm.out_format == fmt, gm.m, 0))
                  for fmt, writer in writers.items()),
                (tips_writer, tp.bitmap_addr, tips_words),
                *([(sas_writer, st.addr, beats)] if ema.sas_codec else [])):
            m.d.sync += [writer.base.eq(base), writer.count.eq(count)]
        if row_major:
            m.d.sync += [score_reader.base.eq(gm.act_addr),
                         score_reader.row_words.eq(_ceil_div(gm.k, cfg.pssa.lanes)),
                         score_reader.rows.eq(gm.m),
                         score_reader.chunks.eq(_ceil_div(gm.k, d.rows))]

        # The command's field checks and the ranges whose word counts SIZE already set, each
        # registered on its own every cycle: the command register holds still from DECODE to
        # DISPATCH, so they have settled by CHECK, which only picks the first failure.
        def settled(check, name):
            flag = Signal(name=name)
            m.d.sync += flag.eq(check)
            return flag

        mode_ok = Mux(gm.mode == Mode.WS, int(d.supports_ws), int(d.supports_os))
        bad = {name: settled(check, f"bad_{name}") for name, check in (
            ("ls_reserved", ls.reserved != 0),
            ("ls_tclass_sas", ls.tclass == TrafficClass.SAS),
            ("ls_buffer", ls.buffer >= len(Buffer)),
            ("ls_shape", too_many_rows | too_long_rows),
            ("gemm_reserved", gm.reserved != 0),
            ("gemm_format", gm.out_format == 3),
            ("gemm_shift", gm.shift >= d.acc_bits),
            ("gemm_shape", (gm.m == 0) | (gm.m > d.max_m) | (gm.k == 0) | (gm.k > d.max_k)),
            ("gemm_mode", ~mode_ok | (gm.precision == 3)
                          | gm.act_source & ((gm.mode == Mode.OS) | int(not row_major))),
            ("tips_reserved", tp.reserved != 0),
            ("tips_shape", tips_shape_bad),
            ("sas_reserved", st.reserved != 0),
            ("sas_shape", sas_shape_bad if ema.sas_codec else Const(1)),
            ("fence_reserved", cmd[4:] != 0))}
        over = [slot_used[0] & (words[0] > room[0])]
        over += [settled(slot_used[i] & (words[i] > room[i]), f"over_{i}")
                 for i in range(1, _SLOTS)]

        with m.FSM(name="sequencer"):
            with m.State("IDLE"):
                m.d.comb += queue.o.ready.eq(~stopped)
                with m.If(queue.o.valid & ~stopped):
                    m.d.sync += [cmd.eq(queue.o.payload), sequence.eq(sequence + 1)]
                    m.next = "DECODE"
            with m.State("DECODE"):
                m.d.comb += busy.eq(1)
                m.d.sync += [
                    row_beats.eq((ls.row_bytes + ema.data_bytes - 1) >> ema.beat_shift),
                    groups.eq(_ceil_div(gm.m, d.rows)),
                    tips_words.eq(_ceil_div(tp.pixels, cfg.tips.lanes)),
                    sas_row_beats.eq(_ceil_div(st.keys, cfg.pssa.lanes)),
                    load_buffer.eq(ls.buffer),
                    load_ptr.eq(ls.addr),
                ]
                # The buffer ranges the command uses, from its first words.
                m.d.sync += [used.eq(0) for used in slot_used]

                def use(slot, buf, base):
                    m.d.sync += [slot_used[slot].eq(1), slot_buffer[slot].eq(buf),
                                 room[slot].eq(depths[buf.value] - base)]
                with m.Switch(opcode):
                    with m.Case(Opcode.LOAD, Opcode.STORE):
                        with m.Switch(ls.buffer):
                            for buf in Buffer:
                                with m.Case(buf.value):
                                    use(0, buf, ls.addr)
                    with m.Case(Opcode.GEMM):
                        with m.If(gm.act_source):
                            use(0, Buffer.SAS, gm.act_addr)
                        with m.Else():
                            use(0, Buffer.ACT, gm.act_addr)
                        use(1, Buffer.WEIGHT, gm.weight_addr)
                        use(2, Buffer.BITMAP, gm.bitmap_addr)
                        use(3, Buffer.OUT, gm.out_addr)
                    with m.Case(Opcode.TIPS):
                        use(0, Buffer.ACT, tp.probs_addr)
                        use(1, Buffer.BITMAP, tp.bitmap_addr)
                    with m.Case(Opcode.SAS_STORE, Opcode.SAS_LOAD):
                        use(0, Buffer.SAS, st.addr)
                m.next = "SIZE"
            with m.State("SIZE"):
                m.d.comb += busy.eq(1)
                m.d.sync += [
                    weight_passes.eq(Mux(gm.mode == Mode.OS, groups, 1)),
                    bitmap_beats.eq(Mux(gm.precision == Precision.BITMAP, groups, 0)),
                ]
                with m.Switch(opcode):
                    with m.Case(Opcode.LOAD, Opcode.STORE):
                        m.d.sync += [mul_a.eq(ls.rows), mul_b.eq(row_beats)]
                    with m.Case(Opcode.GEMM):
                        with m.If(gm.act_source):
                            m.d.sync += [mul_a.eq(gm.m),
                                         mul_b.eq(_ceil_div(gm.k, cfg.pssa.lanes))]
                        with m.Elif(gm.mode == Mode.OS):
                            m.d.sync += [mul_a.eq(groups), mul_b.eq(gm.k)]
                        with m.Else():
                            m.d.sync += [mul_a.eq(gm.m), mul_b.eq(_ceil_div(gm.k, d.rows))]
                        m.d.sync += [
                            words[1].eq(_words_of(gm.k, *pack["weight"])),
                            words[2].eq(_words_of(Mux(gm.precision == Precision.BITMAP,
                                                      groups, 0), *pack["bitmap"])),
                        ]
                        with m.Switch(gm.out_format):
                            for fmt in OutFormat:
                                with m.Case(fmt):
                                    m.d.sync += words[3].eq(out_words[fmt])
                    with m.Case(Opcode.TIPS):
                        m.d.sync += [mul_a.eq(tp.pixels), mul_b.eq(cfg.tips.beats_per_pixel),
                                     words[1].eq(_words_of(tips_words, *pack["tips_bitmap"]))]
                    with m.Case(Opcode.SAS_STORE, Opcode.SAS_LOAD):
                        m.d.sync += [mul_a.eq(st.rows), mul_b.eq(sas_row_beats)]
                m.next = "MULTIPLY"
            with m.State("MULTIPLY"):
                m.d.comb += busy.eq(1)
                m.d.sync += [partial.eq(mul_a * mul_b[i * _DIGIT:(i + 1) * _DIGIT])
                             for i, partial in enumerate(partials)]
                m.next = "SUM"
            with m.State("SUM"):
                m.d.comb += busy.eq(1)
                shifted = [partial << (i * _DIGIT) for i, partial in enumerate(partials)]
                m.d.sync += [pair_sum.eq(sum(shifted[2 * i:2 * i + 2]))
                             for i, pair_sum in enumerate(pair_sums)]
                m.next = "PRODUCT"
            with m.State("PRODUCT"):
                m.d.comb += busy.eq(1)
                m.d.sync += beats.eq(sum(pair_sums))
                m.next = "WORDS"
            with m.State("WORDS"):
                m.d.comb += busy.eq(1)
                with m.Switch(opcode):
                    with m.Case(Opcode.LOAD, Opcode.STORE):
                        m.d.sync += words[0].eq(beats)
                    with m.Case(Opcode.GEMM):
                        m.d.sync += words[0].eq(Mux(gm.act_source, beats,
                                                    _words_of(beats, *pack["act"])))
                    with m.Case(Opcode.TIPS):
                        m.d.sync += words[0].eq(_words_of(beats, *pack["probs"]))
                    with m.Case(Opcode.SAS_STORE, Opcode.SAS_LOAD):
                        m.d.sync += words[0].eq(_words_of(beats, *pack["sas"]))
                m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += busy.eq(1)
                # The first range past its buffer's end, in command order.
                for i in reversed(range(_SLOTS)):
                    with m.If(over[i]):
                        m.d.comb += [range_bad.eq(1), range_buffer.eq(slot_buffer[i])]
                # The first offending field, in the order of MalformedDetail.
                with m.If((opcode == Opcode.LOAD) | (opcode == Opcode.STORE)):
                    with m.If(bad["ls_reserved"]):
                        m.d.comb += malformed.eq(MalformedDetail.RESERVED)
                    with m.Elif(bad["ls_tclass_sas"]):
                        m.d.comb += malformed.eq(MalformedDetail.TCLASS)
                    with m.Elif(bad["ls_buffer"]):
                        m.d.comb += malformed.eq(MalformedDetail.BUFFER)
                    with m.Elif(bad["ls_shape"]):
                        m.d.comb += malformed.eq(MalformedDetail.SHAPE)
                with m.Elif(opcode == Opcode.GEMM):
                    with m.If(bad["gemm_reserved"]):
                        m.d.comb += malformed.eq(MalformedDetail.RESERVED)
                    with m.Elif(bad["gemm_format"]):
                        m.d.comb += malformed.eq(MalformedDetail.FORMAT)
                    with m.Elif(bad["gemm_shift"]):
                        m.d.comb += malformed.eq(MalformedDetail.SHIFT)
                    with m.Elif(bad["gemm_shape"]):
                        m.d.comb += malformed.eq(MalformedDetail.SHAPE)
                    with m.Elif(bad["gemm_mode"]):
                        m.d.comb += malformed.eq(MalformedDetail.MODE)
                with m.Elif(opcode == Opcode.TIPS):
                    with m.If(bad["tips_reserved"]):
                        m.d.comb += malformed.eq(MalformedDetail.RESERVED)
                    with m.Elif(bad["tips_shape"]):
                        m.d.comb += malformed.eq(MalformedDetail.SHAPE)
                with m.Elif(sas_op):
                    with m.If(bad["sas_reserved"]):
                        m.d.comb += malformed.eq(MalformedDetail.RESERVED)
                    with m.Elif(bad["sas_shape"]):
                        m.d.comb += malformed.eq(MalformedDetail.SHAPE if ema.sas_codec
                                                 else MalformedDetail.MODE)
                with m.Elif(opcode == Opcode.FENCE):
                    with m.If(bad["fence_reserved"]):
                        m.d.comb += malformed.eq(MalformedDetail.RESERVED)
                with m.Else():
                    m.d.comb += malformed.eq(MalformedDetail.OPCODE)
                m.d.sync += [checked_malformed.eq(malformed), checked_range_bad.eq(range_bad),
                             checked_range_buffer.eq(range_buffer)]
                m.next = "DISPATCH"
            with m.State("DISPATCH"):
                m.d.comb += busy.eq(1)
                with m.If(checked_malformed != 0):
                    m.d.comb += [fail.eq(1), fail_cause.eq(ErrorCause.MALFORMED),
                                 fail_detail.eq(checked_malformed)]
                    m.next = "IDLE"
                with m.Elif(checked_range_bad):
                    m.d.comb += [fail.eq(1), fail_cause.eq(ErrorCause.RANGE),
                                 fail_detail.eq(checked_range_buffer)]
                    m.next = "IDLE"
                with m.Elif((opcode == Opcode.LOAD) | (opcode == Opcode.STORE)):
                    m.d.sync += [owner.eq((opcode == Opcode.STORE) & (load_buffer == buf.value))
                                 for owner, buf in zip(store_owner, Buffer)]
                    m.d.sync += store_reader.start.eq(opcode == Opcode.STORE)
                    m.next = "DESCRIPTOR"
                with m.Elif(opcode == Opcode.GEMM):
                    if row_major:
                        m.d.sync += score_reader.start.eq(gm.act_source)
                    m.d.sync += [act_from_sas.eq(gm.act_source), gemm_running.eq(1)]
                    m.d.sync += [converter.start.eq(1) for converter in
                                 (act_reader, weight_reader, bitmap_reader, *writers.values())]
                    m.d.sync += [
                        out_format.eq(gm.out_format), shift.eq(gm.shift),
                        tokens_left.eq(gm.m), per_token.eq(gm.k * d.cols),
                        high_tokens.eq(Mux(gm.precision == Precision.ALL_HIGH, gm.m, 0)),
                    ]
                    m.next = "ARRAY"
                with m.Elif(opcode == Opcode.TIPS):
                    m.d.sync += tips_running.eq(1)
                    m.d.sync += [probs_reader.start.eq(1), tips_writer.start.eq(1)]
                    m.next = "TIPS"
                with m.Elif(sas_op):
                    m.d.sync += [sas_storing.eq(opcode == Opcode.SAS_STORE),
                                 sas_loading.eq(opcode == Opcode.SAS_LOAD)]
                    if ema.sas_codec:
                        m.d.sync += [sas_reader.start.eq(opcode == Opcode.SAS_STORE),
                                     sas_writer.start.eq(opcode == Opcode.SAS_LOAD)]
                    m.next = "DESCRIPTOR"
                with m.Else():  # FENCE
                    m.d.comb += [irq_fence.eq(1), complete.eq(1)]
                    m.next = "IDLE"

            with m.State("DESCRIPTOR"):
                m.d.comb += [busy.eq(1), dma.desc.valid.eq(1)]
                with m.If(dma.desc.ready):
                    m.d.sync += [owner.eq((opcode == Opcode.LOAD) & (load_buffer == buf.value))
                                 for owner, buf in zip(load_owner, Buffer)]
                    m.next = "TRANSFER"
            with m.State("TRANSFER"):
                m.d.comb += busy.eq(1)
                with m.If(dma.status.valid):
                    m.d.sync += [owner.eq(0) for owner in [*store_owner, *load_owner,
                                                            sas_storing, sas_loading]]
                    m.d.comb += store_stop.eq(1)
                    if ema.sas_codec:
                        m.d.comb += sas_stop.eq(1)
                        with m.If((opcode == Opcode.SAS_STORE)
                                  & (dma.status.payload.code == Status.OK)):
                            m.d.sync += sas_words.eq(dma.status.payload.words)
                    with m.If(dma.status.payload.code == Status.OK):
                        m.d.comb += complete.eq(1)
                    with m.Else():
                        m.d.comb += [fail.eq(1), fail_cause.eq(ErrorCause.EMA),
                                     fail_detail.eq(dma.status.payload.code)]
                    m.next = "IDLE"

            with m.State("TIPS"):
                m.d.comb += [busy.eq(1), tips_cmd.i.valid.eq(1)]
                with m.If(tips_cmd.i.ready):
                    m.next = "TIPS_RUN"
            with m.State("TIPS_RUN"):
                m.d.comb += busy.eq(1)
                with m.If(tips.status.valid):
                    with m.If(tips.status.payload.error):
                        m.d.comb += [fail.eq(1), fail_cause.eq(ErrorCause.TIPS),
                                     tips_stop.eq(1)]
                        m.d.sync += tips_running.eq(0)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "TIPS_DRAIN"
            with m.State("TIPS_DRAIN"):
                m.d.comb += busy.eq(1)
                with m.If(~tips_writer.busy):
                    m.d.comb += complete.eq(1)
                    m.d.sync += tips_running.eq(0)
                    m.next = "IDLE"

            with m.State("ARRAY"):
                m.d.comb += [busy.eq(1), array.cmd.valid.eq(1)]
                with m.If(array.cmd.ready):
                    m.next = "GEMM"
            with m.State("GEMM"):
                m.d.comb += busy.eq(1)
                with m.If(array.done & array.error):
                    m.d.comb += [fail.eq(1), fail_cause.eq(ErrorCause.DBSC), gemm_abort.eq(1)]
                    m.d.sync += gemm_running.eq(0)
                    m.next = "IDLE"
                with m.Elif(~gemm_writer_busy & ~array.busy & ~requant_int.o.valid
                            & ~requant_uint.o.valid & ~counting):
                    m.d.sync += [gemm_running.eq(0), account_high.eq(high_tokens),
                                 account_low.eq(gm.m - high_tokens),
                                 account_macs.eq(per_token)]
                    m.next = "ACCOUNT"
            with m.State("ACCOUNT"):
                # Shift and add, one bit of each token count per cycle: a whole product and
                # 64-bit sum in one cycle is far too long without DSPs.
                m.d.comb += busy.eq(1)
                with m.If(account_high[0]):
                    m.d.sync += macs_high.eq(macs_high + account_macs)
                with m.If(account_low[0]):
                    m.d.sync += macs_low.eq(macs_low + account_macs)
                m.d.sync += [account_high.eq(account_high >> 1),
                             account_low.eq(account_low >> 1),
                             account_macs.eq(account_macs << 1)]
                with m.If((account_high[1:] == 0) & (account_low[1:] == 0)):
                    m.d.comb += complete.eq(1)
                    m.next = "IDLE"

        # Completion, errors, counters ------------------------------------------------------
        with m.If(complete):
            m.d.sync += commands_done.eq(commands_done + 1)
            with m.If(~queue.o.valid):
                m.d.comb += irq_done.eq(1)
        with m.If(busy):
            m.d.sync += busy_cycles.eq(busy_cycles + 1)
        with m.If(clear_counters):
            m.d.sync += [busy_cycles.eq(0), macs_high.eq(0), macs_low.eq(0)]

        # A failure or an overflow is registered first and takes effect the cycle after: its
        # sources are all over the chip, its effects too. Meanwhile the sequencer is
        # ``stopped`` as if halted already: nothing leaves or enters the queue. The pending
        # cause, detail and index load every cycle (they are read only in the cycle after a
        # failure), so that the failure decision reaches no enable.
        pending_cause = Signal.like(error_cause)
        pending_detail = Signal.like(error_detail)
        pending_index = Signal.like(error_index)
        m.d.sync += [
            error_pending.eq((fail | overflow) & ~stopped & ~clear_error),
            pending_cause.eq(Mux(fail, fail_cause, ErrorCause.OVERFLOW)),
            # Zero unless failing (it is driven only where ``fail`` is): no reset term on ``fail``.
            pending_detail.eq(fail_detail),
            pending_index.eq(Mux(fail, sequence - 1, sequence + queue.level)),
        ]
        with m.If(error_pending):
            m.d.comb += irq_error.eq(1)
            m.d.sync += [halted.eq(1), error_cause.eq(pending_cause),
                         error_detail.eq(pending_detail), error_index.eq(pending_index)]
        with m.If(clear_error):
            m.d.sync += [halted.eq(0), error_cause.eq(ErrorCause.NONE), error_detail.eq(0),
                         error_index.eq(0), sequence.eq(0), commands_done.eq(0)]
        return m
