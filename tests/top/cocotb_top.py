"""cocotb testbench of the processor's emitted Verilog: cocotbext-axi's AxiRam as the DRAM and
AxiLiteMaster on the CSR port (random backpressure on every AXI channel), the host driver
(``sw.driver.Host``) pushing programs built by ``sw.driver.ProgramBuilder``, and the golden
executor (``sw.golden.top.Executor``) as the reference for every DRAM byte, the error register
and the performance counters."""

import warnings

warnings.filterwarnings("error", category=DeprecationWarning)
warnings.filterwarnings("default", category=DeprecationWarning, module=r"cocotbext\.")

import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cocotb  # noqa: E402
import numpy as np  # noqa: E402
from cocotb.triggers import RisingEdge  # noqa: E402
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiResp  # noqa: E402
from cocotbext.axi.axi_ram import AxiRamRead, AxiRamWrite  # noqa: E402

from hw.dbsc import Mode, Precision  # noqa: E402
from hw.ema import TrafficClass  # noqa: E402
from hw.top.isa import IRQ, Buffer, ErrorCause, MalformedDetail, OutFormat  # noqa: E402
from hw.top.gearbox import item_packing  # noqa: E402
from hw.top.processor import ID_VALUE, SDProcessor  # noqa: E402
from sw.driver import Host, ProgramBuilder  # noqa: E402
from sw.driver.transformer import TransformerTile, run_tile  # noqa: E402
from sw.driver.host import STATUS_BUSY, STATUS_EMPTY, STATUS_HALTED  # noqa: E402
from sw.driver.isa import (encode_fence, encode_gemm, encode_load,  # noqa: E402
                           encode_sas_store, encode_tips)
from sw.flows.cocotb_lib import config_from_env, pause_generator, rng, test_args  # noqa: E402
from sw.golden import dbsc as golden_dbsc  # noqa: E402
from sw.golden import ema as golden_ema  # noqa: E402
from sw.golden import pssa as golden_pssa  # noqa: E402
from sw.golden import tips as golden_tips  # noqa: E402
from sw.golden.common import requantize  # noqa: E402
from sw.golden.top import (Executor, GoldenHost, bytes_to_words,  # noqa: E402
                           item_to_lanes, unpack_items)

DRAM_BYTES = 1 << 16
#: Cycles every command spends at least in the sequencer (fetch to completion).
SequencerMin = SDProcessor.dispatch_latency


class FaultyRamRead(AxiRamRead):
    """Answers SLVERR (cocotbext-axi's response to a failing access) for reads that touch
    ``[lo, hi)`` of ``faults``."""

    def __init__(self, bus, clock, reset, mem, faults):
        super().__init__(bus, clock, reset, mem=mem)
        self.faults = faults

    async def _read(self, address, length):
        for lo, hi in self.faults:
            if address % DRAM_BYTES < hi and address % DRAM_BYTES + length > lo:
                raise OSError(f"injected fault at {address:#x}")
        return await super()._read(address, length)


class Bench:
    def __init__(self, dut):
        self.dut = dut
        self.config = config_from_env()
        self.args = test_args()
        self.r = rng()
        self.np_rng = np.random.default_rng(self.r.getrandbits(32))
        pause = self.args.get("pause", 0.3)
        self.ram_bytes = bytearray(DRAM_BYTES)
        self.faults = []
        bus = AxiBus.from_prefix(dut, "m_axi", bus_separator="__")
        self.ram_write = AxiRamWrite(bus.write, dut.clk, dut.rst, mem=self.ram_bytes)
        self.ram_read = FaultyRamRead(bus.read, dut.clk, dut.rst, self.ram_bytes, self.faults)
        self.master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "csr", bus_separator="__"),
                                    dut.clk, dut.rst)
        channels = [self.ram_write.aw_channel, self.ram_write.w_channel,
                    self.ram_write.b_channel, self.ram_read.ar_channel, self.ram_read.r_channel,
                    self.master.write_if.aw_channel, self.master.write_if.w_channel,
                    self.master.write_if.b_channel, self.master.read_if.ar_channel,
                    self.master.read_if.r_channel]
        for channel in channels:
            channel.set_pause_generator(pause_generator(random.Random(self.r.getrandbits(32)),
                                                        pause))
        for model in (self.ram_write, self.ram_read, self.master.write_if, self.master.read_if):
            model.log.setLevel(logging.WARNING)
        self.host = Host(self.config, self.write32, self.read32)
        self.cycles = 0
        # DRAM address bits 63:32 in 64-bit builds; the AxiRam wraps, so data is the same.
        self.addr_hi = self.args.get("addr_hi", 0)
        self.all_addresses = (1 << self.config.ema.addr_width) - 1
        # With ADDR_HI, every window starts at 4 GB: were the high bits lost on the way to the
        # bus, every descriptor would be refused.
        self.windows = {c: (self.addr_hi << 32, self.all_addresses) for c in range(4)}

    def executor(self, dram, windows=None, **kwargs):
        """The golden executor with this bench's ``ADDR_HI`` and windows."""
        return Executor(self.config, dram, addr_hi=self.addr_hi,
                        windows={**self.windows, **(windows or {})}, **kwargs)

    async def write32(self, offset, value):
        resp = await self.master.write(offset, int(value).to_bytes(4, "little"))
        assert resp.resp == AxiResp.OKAY, f"CSR write {offset:#x}: {resp.resp}"

    async def read32(self, offset):
        resp = await self.master.read(offset, 4)
        assert resp.resp == AxiResp.OKAY, f"CSR read {offset:#x}: {resp.resp}"
        return int.from_bytes(resp.data, "little")

    async def start(self):
        cocotb.start_soon(self._count_cycles())
        await self.reset()

    async def reset(self, cycles=4):
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        if self.addr_hi:
            await self.write32(self.host.regs["ADDR_HI"], self.addr_hi)
            for tclass, window in self.windows.items():
                await self.host.set_window(tclass, *window)

    async def _count_cycles(self):
        from cocotb.clock import Clock
        Clock(self.dut.clk, 10, unit="ns").start()
        while True:
            await RisingEdge(self.dut.clk)
            self.cycles += 1

    def dram(self):
        return np.frombuffer(bytes(self.ram_bytes), dtype=np.uint8)

    def load_image(self, image):
        self.ram_bytes[:] = image.tobytes()

    # Programs ----------------------------------------------------------------------------

    def operands(self, m, k, n, kind):
        d = self.config.dbsc
        alo, ahi = golden_dbsc.act_range(d)
        wlo, whi = golden_dbsc.weight_range(d)
        if kind == "min":
            return np.full((m, k), alo), np.full((k, n), wlo)
        if kind == "max":
            return np.full((m, k), ahi), np.full((k, n), whi)
        return (self.np_rng.integers(alo, ahi + 1, (m, k)),
                self.np_rng.integers(wlo, whi + 1, (k, n)))

    def gemm_program(self, tiles):
        """A program of GEMM tiles ``(m, k, n, mode, precision, format, shift, kind)``,
        each followed by a FENCE; returns the builder and the tiles' expected results."""
        builder = ProgramBuilder(self.config, DRAM_BYTES, rng=self.np_rng)
        builder.dram[:] = self.np_rng.integers(0, 256, DRAM_BYTES, dtype=np.uint8)
        expected = []
        d = self.config.dbsc
        for m, k, n, mode, precision, fmt, shift, kind in tiles:
            a, w = self.operands(m, k, n, kind)
            high = self.np_rng.integers(0, 2, m).astype(bool)
            if precision != Precision.BITMAP:
                high[:] = precision == Precision.ALL_HIGH
            tile = builder.gemm_tile(a, w, high, mode=mode, precision=precision, out_format=fmt,
                                     shift=shift)
            builder.fence()
            acc = golden_dbsc.matmul(a, w, high, d)
            if fmt == OutFormat.INT:
                want = requantize(acc, shift, d.act_bits_high, True)
            elif fmt == OutFormat.UINT:
                want = requantize(acc, shift, self.config.pssa.score_bits, False)
            else:
                want = acc
            expected.append((tile, want))
        return builder, expected

    async def run_and_check(self, builder, expected, executor=None, timing=None):
        """Run the program from a fresh DRAM image and compare everything with the golden
        executor; returns the executor."""
        executor = executor or self.executor(builder.dram)
        golden = executor.run(builder.commands)
        start, wall = self.cycles, time.monotonic()
        status = await self.host.run(builder.commands)
        if timing is not None:
            timing.update(cycles=self.cycles - start, wall_seconds=time.monotonic() - wall)
        assert not status & STATUS_HALTED, f"halted: ERROR={await self.read32(self.host.regs['ERROR']):#x}"
        dram = self.dram()
        diff = np.flatnonzero(dram != golden.dram)
        for number, (tile, want) in enumerate(expected):
            got = tile.decode(self.config, dram)
            assert np.array_equal(got, want), f"tile {number}: got\n{got}\nwant\n{want}"
        assert diff.size == 0, f"{diff.size} DRAM bytes differ, first at {diff[0]:#x}"
        for tile, want in expected:
            got = tile.decode(self.config, golden.dram)
            assert np.array_equal(got, want), "golden executor result != golden matmul"
        counters = await self.host.counters()
        assert counters["macs_high"] == golden.macs_high
        assert counters["macs_low"] == golden.macs_low
        assert counters["commands_done"] == golden.completed == len(builder.commands)
        # Busy cycles depend on bus timing: bounded by the cycles since the counters were
        # cleared, and by the sequencer's minimum per command.
        assert (SequencerMin * len(builder.commands) <= counters["busy_cycles"]
                <= self.cycles - self.cleared_at)
        for c in range(4):
            for direction in (0, 1):
                for kind in ("bytes", "beats", "bursts"):
                    assert counters["ema"][c][direction][kind] == golden.ema[c][direction][kind], \
                        (c, direction, kind)
        return executor


TILE_KINDS = [
    # m, k, n, mode, precision, format, shift, operands
    (11, 13, 6, Mode.WS, Precision.BITMAP, OutFormat.INT, 9, "random"),
    (9, 10, 4, Mode.OS, Precision.BITMAP, OutFormat.UINT, 7, "random"),
    (6, 5, 3, Mode.WS, Precision.ALL_LOW, OutFormat.RAW, 0, "min"),
    (5, 7, 5, Mode.OS, Precision.ALL_HIGH, OutFormat.INT, 12, "max"),
    (7, 9, 4, Mode.OS, Precision.BITMAP, OutFormat.RAW, 0, "random"),
    (4, 16, 4, Mode.WS, Precision.ALL_HIGH, OutFormat.UINT, 0, "min"),
]


async def _fresh(bench, builder):
    bench.load_image(builder.dram)
    await bench.host.clear_counters()
    bench.cleared_at = bench.cycles


@cocotb.test()
async def gemm_programs_match_golden(dut):
    """GEMM tiles in WS and OS, bitmap/all-high/all-low precision, every output format,
    random and extreme operands, several column blocks, under AXI backpressure: every DRAM
    byte, the counters and the interrupts equal the golden executor's."""
    bench = Bench(dut)
    await bench.start()
    regs = bench.host.regs
    assert await bench.read32(regs["ID"]) == ID_VALUE
    assert await bench.read32(regs["STATUS"]) & STATUS_EMPTY
    await bench.write32(regs["IRQ_ENABLE"], IRQ.DONE.value | IRQ.FENCE.value | IRQ.ERROR.value)
    assert not dut.irq.value

    builder, expected = bench.gemm_program([TILE_KINDS[i] for i in bench.args.get(
        "tiles", range(len(TILE_KINDS)))])
    await _fresh(bench, builder)
    await bench.run_and_check(builder, expected)
    pending = await bench.read32(regs["IRQ_PENDING"])
    assert pending == IRQ.DONE.value | IRQ.FENCE.value
    await RisingEdge(dut.clk)
    assert dut.irq.value
    await bench.write32(regs["IRQ_PENDING"], pending)
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    assert not dut.irq.value
    assert await bench.read32(regs["ERROR"]) == 0

    # A second program after the first: counters cleared, no state carried over.
    builder, expected = bench.gemm_program([TILE_KINDS[i] for i in (1, 0, 3)])
    await _fresh(bench, builder)
    await bench.host.clear_error()  # restarts COMMANDS_DONE
    await bench.run_and_check(builder, expected)


async def _expect_halt(bench, builder, executor, cause, detail, index):
    golden = executor.run(builder.commands)
    assert (golden.error_cause, golden.error_detail, golden.error_index) == (cause, detail, index)
    status = await bench.host.run(builder.commands)
    assert status & STATUS_HALTED and not status & STATUS_BUSY
    assert await bench.read32(bench.host.regs["ERROR"]) == golden.error_register
    pending = await bench.read32(bench.host.regs["IRQ_PENDING"])
    assert pending & IRQ.ERROR.value
    await RisingEdge(bench.dut.clk)
    assert bench.dut.irq.value
    dram = bench.dram()
    diff = np.flatnonzero(dram != golden.dram)
    assert diff.size == 0, f"{diff.size} DRAM bytes differ after the error, first at {diff[0]:#x}"
    assert await bench.read32(bench.host.regs["COMMANDS_DONE"]) == golden.completed
    await bench.write32(bench.host.regs["IRQ_PENDING"], 0x7)
    await bench.host.clear_error()
    assert not (await bench.read32(bench.host.regs["STATUS"])) & STATUS_HALTED


@cocotb.test()
async def errors_stop_cleanly_and_the_next_program_runs(dut):
    """A window violation and an AXI SLVERR in the middle of a program, malformed commands,
    an out-of-range buffer access and a push into a full queue: the sequencer halts after the failing command with the
    golden ERROR value and interrupt, nothing after it runs, and a full program then runs
    correctly."""
    bench = Bench(dut)
    await bench.start()
    regs = bench.host.regs
    await bench.write32(regs["IRQ_ENABLE"], IRQ.ERROR.value)
    tiles = [TILE_KINDS[0], TILE_KINDS[1]]

    # Window: the second tile's activation LOAD lies outside the activation window.
    builder, expected = bench.gemm_program(tiles)
    second_act_load = [i for i, c in enumerate(builder.commands)
                       if c & 0xF == 1 and (c >> 6) & 7 == Buffer.ACT.value][1]
    act_addr = (builder.commands[second_act_load] >> 59) & 0xFFFF_FFFF
    window = (0, (bench.addr_hi << 32 | act_addr) - 1)
    await _fresh(bench, builder)
    await bench.host.set_window(TrafficClass.ACTIVATION.value, *window)
    executor = bench.executor(builder.dram,
                        windows={TrafficClass.ACTIVATION.value: window})
    await _expect_halt(bench, builder, executor, ErrorCause.EMA.value, golden_ema.WINDOW,
                       second_act_load)
    await bench.host.set_window(TrafficClass.ACTIVATION.value,
                                *bench.windows[TrafficClass.ACTIVATION.value])

    # SLVERR on a read in the middle of the weight LOAD of the second tile.
    builder, expected = bench.gemm_program(tiles)
    weight_loads = [i for i, c in enumerate(builder.commands)
                    if c & 0xF == 1 and (c >> 4) & 3 == TrafficClass.WEIGHT.value]
    failing = weight_loads[1]
    addr = (builder.commands[failing] >> 59) & 0xFFFF_FFFF
    bench.faults.append((addr + 8, addr + 9))
    await _fresh(bench, builder)
    lanes = bench.config.ema.data_bytes
    executor = bench.executor(builder.dram,
                        read_response=lambda a: golden_ema.SLVERR
                        if a % DRAM_BYTES < addr + 9 and a % DRAM_BYTES + lanes > addr + 8
                        else golden_ema.OK)
    await _expect_halt(bench, builder, executor, ErrorCause.EMA.value, golden_ema.SLVERR, failing)
    bench.faults.clear()

    # Malformed commands and a buffer range past the end, each alone after a valid prefix.
    depth_act = bench.config.top.act_buffer_bytes // lanes
    bad = [
        (0x8, ErrorCause.MALFORMED, MalformedDetail.OPCODE),
        (0x0, ErrorCause.MALFORMED, MalformedDetail.OPCODE),
        (encode_gemm(Mode.WS, 3, OutFormat.INT, 0, 4, 4, 0, 0, 0, 0), ErrorCause.MALFORMED,
         MalformedDetail.MODE),
        (encode_gemm(Mode.WS, 0, OutFormat.INT, 0, 0, 4, 0, 0, 0, 0), ErrorCause.MALFORMED,
         MalformedDetail.SHAPE),
        (encode_gemm(Mode.WS, 0, 3, 0, 4, 4, 0, 0, 0, 0), ErrorCause.MALFORMED,
         MalformedDetail.FORMAT),
        (encode_load(Buffer.ACT, depth_act - 1, 0x100, 1, 2 * lanes), ErrorCause.RANGE,
         Buffer.ACT.value),
        (encode_load(Buffer.ACT, 0, 0x100, 1, 8, tclass=TrafficClass.SAS), ErrorCause.MALFORMED,
         MalformedDetail.TCLASS),
        (encode_load(Buffer.ACT, 0, 0x100, 1, 8) | 1 << 127, ErrorCause.MALFORMED,
         MalformedDetail.RESERVED),
        (encode_tips(0, 0, 0, 0), ErrorCause.MALFORMED, MalformedDetail.SHAPE),
        (encode_gemm(Mode.OS, 1, OutFormat.INT, 0, 4, 4, 0, 0, 0, 0, act_source=1),
         ErrorCause.MALFORMED, MalformedDetail.MODE),
        (encode_tips(1, 4, 0, 0, ratio=bench.config.tips.ratio_one + 1), ErrorCause.MALFORMED,
         MalformedDetail.SHAPE),
        (encode_sas_store(0, 0, 8, 0x100), ErrorCause.MALFORMED, MalformedDetail.SHAPE),
        (encode_sas_store(0, 4, 8, 0x101), ErrorCause.EMA, golden_ema.SHAPE),
    ]
    for command, cause, detail in bad:
        builder, expected = bench.gemm_program([TILE_KINDS[2]])
        index = len(builder.commands) - 1      # before the final FENCE
        builder.commands.insert(index, command)
        await _fresh(bench, builder)
        executor = bench.executor(builder.dram)
        await _expect_halt(bench, builder, executor, cause.value,
                           getattr(detail, "value", detail), index)

    # Overflow: a long GEMM runs while the host pushes FENCEs without looking at STATUS; the
    # push that finds the queue full is lost and halts the sequencer, the GEMM completes.
    cfg = bench.config
    depth = cfg.top.command_queue_depth
    d = cfg.dbsc
    m, k = d.max_m, min(d.max_k, 256)
    act_words = m * -(-k // d.rows) * d.rows * d.act_bits_high // cfg.ema.data_width
    assert act_words <= cfg.top.act_buffer_bytes // lanes
    long_gemm = encode_gemm(Mode.WS, Precision.ALL_HIGH, OutFormat.INT, 0, m, k, 0, 0, 0, 0)
    await bench.host.clear_counters()
    for command in [long_gemm] + [encode_fence()] * (depth + 1):
        for i in range(4):
            await bench.write32(regs[f"CMD{i}"], command >> (32 * i) & 0xFFFF_FFFF)
        await bench.write32(regs["CMD_PUSH"], 1)
    status = await bench.host.wait_idle()
    assert status & STATUS_HALTED and status & STATUS_EMPTY
    # Halted at the lost push; the GEMM that was running drains.
    for _ in range(10 * m * k):
        if not (await bench.host.status()) & STATUS_BUSY:
            break
    assert not (await bench.host.status()) & STATUS_BUSY
    error = await bench.read32(regs["ERROR"])
    assert (error & 0xF, error >> 8) == (ErrorCause.OVERFLOW.value, 1 + depth)
    assert await bench.read32(regs["COMMANDS_DONE"]) == 1
    counters = await bench.host.counters()
    assert (counters["macs_high"], counters["macs_low"]) == (m * k * d.cols, 0)
    assert await bench.read32(regs["IRQ_PENDING"]) & IRQ.ERROR.value
    await bench.write32(regs["IRQ_PENDING"], 0x7)
    await bench.host.clear_error()

    # After all that, a full program is exact.
    builder, expected = bench.gemm_program(tiles)
    await _fresh(bench, builder)
    await bench.run_and_check(builder, expected)


@cocotb.test()
async def reset_in_the_middle_then_a_full_run(dut):
    """Reset while a program runs (bus transfers and the array in flight), then the same
    program from the start gives exactly the golden result."""
    bench = Bench(dut)
    await bench.start()
    builder, expected = bench.gemm_program(TILE_KINDS[:3])
    await _fresh(bench, builder)
    for command in builder.commands:
        await bench.host.push(command)
    for _ in range(bench.r.randrange(0, 20)):
        await RisingEdge(dut.clk)
    assert (await bench.host.status()) & STATUS_BUSY
    await bench.reset()
    status = await bench.host.status()
    assert status & STATUS_EMPTY and not status & (STATUS_BUSY | STATUS_HALTED)
    assert await bench.read32(bench.host.regs["COMMANDS_DONE"]) == 0
    await _fresh(bench, builder)
    await bench.run_and_check(builder, expected)


@cocotb.test()
async def tile_program_without_stalls(dut):
    """A mixed-precision tile (WS, and OS with the tokens ordered by precision) with an
    always-ready bus: exact, and, given ``report``, the cycle counts for ``sdproc bench``."""
    bench = Bench(dut)
    bench.args["pause"] = 0.0
    for channel in (bench.ram_write.aw_channel, bench.ram_write.w_channel,
                    bench.ram_write.b_channel, bench.ram_read.ar_channel,
                    bench.ram_read.r_channel):
        channel.clear_pause_generator()
    await bench.start()
    m, k, n = (bench.args.get(key, default) for key, default in (("m", 16), ("k", 32), ("n", 8)))
    high_share = bench.args.get("high_share", 0.448)
    builder = ProgramBuilder(bench.config, DRAM_BYTES, rng=None)
    d = bench.config.dbsc
    a, w = bench.operands(m, k, n, "random")
    high = np.zeros(m, dtype=bool)
    high[bench.np_rng.permutation(m)[:round(high_share * m)]] = True
    expected = []
    for mode in (Mode.WS, Mode.OS):
        # OS shares one precision per group of rows: high tokens first (as TIPS ordering would).
        order = np.argsort(~high, kind="stable") if mode == Mode.OS else np.arange(m)
        tile = builder.gemm_tile(a[order], w, high[order], mode=mode, shift=8)
        want = requantize(golden_dbsc.matmul(a[order], w, high[order], d), 8, d.act_bits_high)
        expected.append((tile, want))
    sas_threshold = bench.args.get("sas_threshold", 0)
    if "sas_scores" in bench.args:
        await bench.host.set_sas(sas_threshold, 0)
        builder.sas_round_trip(np.array(bench.args["sas_scores"]))
    builder.fence()
    await _fresh(bench, builder)
    timing = {}
    await bench.run_and_check(builder, expected, timing=timing,
                              executor=bench.executor(builder.dram,
                                                sas_threshold=sas_threshold))
    if "report" in bench.args:
        counters = await bench.host.counters()
        names = ("weight", "activation", "sas", "other")
        Path(bench.args["report"]).write_text(json.dumps({
            "m": m, "k": k, "n": n, "high_tokens": int(high.sum()),
            "cycles": timing["cycles"], "busy_cycles": counters["busy_cycles"],
            "macs_high": counters["macs_high"], "macs_low": counters["macs_low"],
            "commands": len(builder.commands),
            "ema_bytes": {names[c]: {"read": counters["ema"][c][0]["bytes"],
                                     "write": counters["ema"][c][1]["bytes"]}
                          for c in range(4)},
            "wall_seconds": timing["wall_seconds"],
        }))


@cocotb.test()
async def tips_precision_feeds_the_array_and_sas_round_trips(dut):
    """TIPS in threshold and ratio mode on cross-attention probabilities (random, all
    maximum, masked tokens) writes the precision bitmap that the next GEMM (FFN tile, WS and
    OS) reads; a score tile goes through SAS_STORE (PSSA encoder, coded words in DRAM) and
    SAS_LOAD (decoder) and comes back pruned. DRAM, bitmap-driven MACs, TIPS_HIGH, SAS_WORDS
    and the SAS traffic counters equal the golden executor's."""
    bench = Bench(dut)
    await bench.start()
    cfg = bench.config
    t, p = cfg.tips, cfg.pssa
    regs = bench.host.regs
    per_word, per_item = item_packing(t.lanes * t.prob_bits, cfg.ema.data_width)
    words_per_pixel = -(-t.beats_per_pixel * per_item // per_word)
    pixels = min(6, cfg.top.act_buffer_bytes // cfg.ema.data_bytes // words_per_pixel,
                 cfg.dbsc.max_m)
    mask = np.zeros(t.tokens, dtype=bool)
    mask[1:1 + min(8, t.tokens - 1)] = True
    threshold, policy = 40, bench.r.randrange(2)
    await bench.host.set_token_mask(golden_tips.mask_bits(mask))
    await bench.host.set_sas(threshold, policy)

    builder = ProgramBuilder(cfg, DRAM_BYTES, rng=bench.np_rng)
    builder.dram[:] = bench.np_rng.integers(0, 256, DRAM_BYTES, dtype=np.uint8)
    d = cfg.dbsc
    expected = []
    selections = [(golden_tips.THRESHOLD, {"tau": 8000}),
                  (golden_tips.RATIO, {"ratio": golden_tips.ratio_code(0.552, t.ratio_bits)})]
    for (mode, knob), dataflow in zip(selections, (Mode.WS, Mode.OS)):
        probs = bench.np_rng.integers(0, 1 << t.prob_bits, (t.heads, pixels, t.tokens))
        probs[:, 0, :] = (1 << t.prob_bits) - 1
        builder.tips_tile(probs, mode, **knob)
        high = golden_tips.select(probs, mask, mode, ratio_bits=t.ratio_bits, **knob)
        a, w = bench.operands(pixels, 12, d.cols + 1, "random")
        tile = builder.gemm_tile(a, w, high, mode=dataflow, precision=Precision.BITMAP,
                                 shift=6, load_bitmap=False)
        want = requantize(golden_dbsc.matmul(a, w, high, d), 6, d.act_bits_high)
        expected.append((tile, want))
    rows, keys = p.patch_rows, 2 * p.lanes + 3
    scores = bench.np_rng.integers(0, 1 << p.score_bits, (rows, keys))
    scores[:, :keys // 2] //= 8     # a sparse half: more pruning
    _, pruned_addr, pruned_words = builder.sas_round_trip(scores)
    builder.fence()

    await _fresh(bench, builder)
    executor = bench.executor(builder.dram, token_mask=mask, sas_threshold=threshold,
                        sas_policy=policy)
    await bench.run_and_check(builder, expected, executor=executor)
    golden = executor.state
    assert await bench.read32(regs["TIPS_HIGH"]) == golden.tips_high
    assert await bench.read32(regs["SAS_WORDS"]) == golden.sas_words > 0
    row_beats = -(-keys // p.lanes)
    raw = bytes(bench.dram()[pruned_addr:pruned_addr + pruned_words * cfg.ema.data_bytes])
    beats = unpack_items(bytes_to_words(raw, cfg.ema.data_width), rows * row_beats,
                         p.lanes * p.score_bits, cfg.ema.data_width)
    lanes = np.array([item_to_lanes(b, p.score_bits, p.lanes, signed=False) for b in beats])
    got = lanes.reshape(rows, row_beats * p.lanes)[:, :keys]
    assert np.array_equal(got, golden_pssa.prune(scores, threshold))


class _BenchDram:
    """The DRAM interface of ``sw.driver.transformer.run_tile`` on the AxiRam's bytes."""

    def __init__(self, bench):
        self.bench = bench

    async def write(self, addr, raw):
        self.bench.ram_bytes[addr:addr + len(raw)] = raw

    async def snapshot(self):
        return self.bench.dram().copy()


@cocotb.test()
async def transformer_tile_end_to_end(dut):
    """One transformer-block tile (4 x 4 latent): Q K^T on the array, host softmax, the
    probabilities through PSSA to DRAM and back, the decoded probabilities (read row-major
    from the SAS buffer) times V on the array, cross-attention through TIPS, the FFN's first
    layer in mixed precision with TIPS's bitmap; the same software drives the golden
    executor. Every intermediate, the final
    DRAM image (coded SAS words included) and the counters are equal; each result also equals
    the golden block models composed directly."""
    bench = Bench(dut)
    await bench.start()
    cfg = bench.config
    t = cfg.tips
    rng_ = bench.np_rng
    side = 4
    n = side * side
    mask = np.zeros(t.tokens, dtype=bool)
    mask[1:1 + min(8, t.tokens - 1)] = True
    alo, ahi = golden_dbsc.act_range(cfg.dbsc)
    tile = TransformerTile(
        side=side, q=rng_.integers(alo, ahi + 1, (n, 8)), k=rng_.integers(alo, ahi + 1, (n, 8)),
        v=rng_.integers(alo, ahi + 1, (n, 8)), x=rng_.integers(alo, ahi + 1, (n, 12)),
        w1=rng_.integers(alo, ahi + 1, (12, 2 * cfg.dbsc.cols + 1)),
        cross=rng_.integers(0, 1 << t.prob_bits, (t.heads, n, t.tokens)), token_mask=mask,
        ratio=golden_tips.ratio_code(0.552, t.ratio_bits), sas_threshold=20,
        sas_policy=bench.r.randrange(2))
    await bench.host.clear_counters()
    bench.cleared_at = bench.cycles
    got = await run_tile(cfg, bench.host, _BenchDram(bench), tile, DRAM_BYTES)
    executor = bench.executor(np.zeros(DRAM_BYTES, dtype=np.uint8))
    golden = GoldenHost(executor)
    want = await run_tile(cfg, golden, golden, tile, DRAM_BYTES)

    assert got["status"] == [STATUS_EMPTY] * 2, got["status"]
    for key in ("scores", "probs", "pruned", "attention", "ffn"):
        assert np.array_equal(got[key], want[key]), key
    diff = np.flatnonzero(got["image"] != want["image"])
    assert diff.size == 0, f"{diff.size} DRAM bytes differ, first at {diff[0]:#x}"

    d = cfg.dbsc
    assert np.array_equal(want["scores"], requantize(tile.q @ tile.k.T, tile.score_shift,
                                                     d.act_bits_high))
    assert np.array_equal(want["pruned"], golden_pssa.prune(want["probs"], tile.sas_threshold))
    order = golden_pssa.patch_order(side, side, cfg.pssa.patch_h, cfg.pssa.patch_w)
    decoded = np.empty_like(want["pruned"])
    decoded[order] = want["pruned"]
    assert np.array_equal(want["attention"], requantize(decoded @ tile.v, tile.out_shift,
                                                        d.act_bits_high))
    high = golden_tips.select(tile.cross, mask, golden_tips.RATIO, ratio=tile.ratio,
                              ratio_bits=t.ratio_bits)
    assert 0 < high.sum() < n
    assert np.array_equal(want["ffn"], requantize(golden_dbsc.matmul(tile.x, tile.w1, high, d),
                                                  tile.ffn_shift, d.act_bits_high))
    counters = await bench.host.counters()
    state = executor.state
    assert (counters["macs_high"], counters["macs_low"]) == (state.macs_high, state.macs_low)
    assert counters["commands_done"] == state.completed == want["commands"]
    for c in range(4):
        for direction in (0, 1):
            for kind in ("bytes", "beats", "bursts"):
                assert counters["ema"][c][direction][kind] == state.ema[c][direction][kind]
    assert await bench.read32(bench.host.regs["SAS_WORDS"]) == state.sas_words
    assert await bench.read32(bench.host.regs["TIPS_HIGH"]) == state.tips_high == high.sum()
