"""cocotb testbench of the EMA controller's emitted Verilog, with cocotbext-axi's AxiRam as the
DRAM (random backpressure on all five channels) and ``sw.golden.ema`` as the reference."""

import warnings

warnings.filterwarnings("error", category=DeprecationWarning)
warnings.filterwarnings("default", category=DeprecationWarning, module=r"cocotbext\.")

import random  # noqa: E402
from collections import Counter  # noqa: E402

import cocotb  # noqa: E402
import numpy as np  # noqa: E402
from cocotb.triggers import RisingEdge  # noqa: E402
from cocotbext.axi import AxiBus  # noqa: E402
from cocotbext.axi.axi_ram import AxiRamRead, AxiRamWrite  # noqa: E402

from hw.ema.controller import EMAController  # noqa: E402
from hw.ema.layouts import (counters_layout, descriptor_layout, status_layout,  # noqa: E402
                            window_layout)
from sw.flows.cocotb_lib import (StreamSink, StreamSource, config_from_env,  # noqa: E402
                                 pause_generator, rng, start, test_args, wait_until)
from sw.golden import ema as golden  # noqa: E402
from sw.golden import pssa as pssa_golden  # noqa: E402

MEMORY_BYTES = 1 << 20


class FaultMap:
    """Address ranges of the DRAM model that answer SLVERR or DECERR instead of OKAY."""

    def __init__(self):
        self.ranges = []

    def code(self, addr, length):
        for lo, hi, code in self.ranges:
            if addr < hi and addr + length > lo:
                return code
        return golden.OK

    def response(self, beat_addr, data_bytes):
        return self.code(beat_addr % MEMORY_BYTES, data_bytes)


class BusLog:
    """What the DRAM model saw: address phases, W strobes, R beats."""

    def __init__(self):
        self.ar = []
        self.aw = []
        self.w_strobes = []
        self.r_beats = 0


def _record(channel, method, hook):
    original = getattr(channel, method)

    async def wrapped(*args):
        result = await original(*args)
        hook(args[0] if args else result)
        return result

    setattr(channel, method, wrapped)


def _respond_with(channel, model):
    """Replace the SLVERR that cocotbext-axi answers for a failed access with the fault's
    own code (SLVERR or DECERR)."""
    original = channel.send

    async def send(frame):
        if model.pending_code is not None:
            if hasattr(frame, "bresp"):
                frame.bresp = model.pending_code
            else:
                frame.rresp = model.pending_code
            model.pending_code = None
        await original(frame)

    channel.send = send


class FaultyRamWrite(AxiRamWrite):
    def __init__(self, bus, clock, reset, mem, faults, log):
        super().__init__(bus, clock, reset, mem=mem)
        self.faults = faults
        self.pending_code = None
        _record(self.aw_channel, "recv", lambda aw: log.aw.append((int(aw.awaddr),
                                                                   int(aw.awlen))))
        _record(self.w_channel, "recv", lambda w: log.w_strobes.append(int(w.wstrb)))
        _respond_with(self.b_channel, self)

    async def _write(self, address, data):
        code = self.faults.code(address % self.size, len(data))
        if code != golden.OK:
            self.pending_code = code
            raise OSError(f"injected fault at {address:#x}")
        await super()._write(address, data)


class FaultyRamRead(AxiRamRead):
    def __init__(self, bus, clock, reset, mem, faults, log):
        super().__init__(bus, clock, reset, mem=mem)
        self.faults = faults
        self.pending_code = None
        self.bus_log = log
        _record(self.ar_channel, "recv", lambda ar: log.ar.append((int(ar.araddr),
                                                                   int(ar.arlen))))
        _respond_with(self.r_channel, self)

    async def _read(self, address, length):
        self.bus_log.r_beats += 1
        code = self.faults.code(address % self.size, length)
        if code != golden.OK:
            self.pending_code = code
            raise OSError(f"injected fault at {address:#x}")
        return await super()._read(address, length)


class Bench:
    """The DUT with its DRAM model, stream drivers and the golden state next to it."""

    def __init__(self, dut, pause):
        self.dut = dut
        self.config = config_from_env()
        self.ema = ema = self.config.ema
        self.r = rng()
        self.lanes = ema.data_bytes
        self.full = (1 << ema.addr_width) - 1
        self.desc_layout = descriptor_layout(ema)
        self.status_layout = status_layout(
            len(dut.status__payload) - status_layout().size)
        self.counters_layout = counters_layout(ema)
        self.counter_latency = EMAController(self.config).counter_latency
        self.windows = {c: (0, self.full) for c in range(4)}
        self._drive_windows()
        dut.counters_clear.value = 0
        self.sas = self.ema.sas_codec
        assert hasattr(dut, "sas_scores_in__valid") == self.sas
        self.classes = [c for c in range(4) if not (self.sas and c == golden.CLASSES.index("sas"))]
        if self.sas:
            dut.sas_threshold.value = 0
            dut.sas_policy.value = 0
            self.score_source = StreamSource(dut, "sas_scores_in", pause, self.r)
            self.score_sink = StreamSink(dut, "sas_scores_out", pause, self.r)
        self.desc_source = StreamSource(dut, "desc", pause, self.r)
        self.data_source = StreamSource(dut, "wr_data", pause, self.r)
        self.read_sink = StreamSink(dut, "rd_data", pause, self.r)
        self.status_sink = StreamSink(dut, "status", pause, self.r)
        self.memory = np.frombuffer(self.r.randbytes(MEMORY_BYTES), dtype=np.uint8).copy()
        self.ram_bytes = bytearray(self.memory.tobytes())
        self.faults = FaultMap()
        self.bus_log = BusLog()
        bus = AxiBus.from_prefix(dut, "m_axi", bus_separator="__")
        self.ram_write = FaultyRamWrite(bus.write, dut.clk, dut.rst, self.ram_bytes,
                                        self.faults, self.bus_log)
        self.ram_read = FaultyRamRead(bus.read, dut.clk, dut.rst, self.ram_bytes,
                                      self.faults, self.bus_log)
        self.set_bus_pause(pause)
        self.running = None
        self.busy_cycles = Counter()
        self.expected_traffic = Counter()

    def set_bus_pause(self, probability):
        channels = [self.ram_write.aw_channel, self.ram_write.w_channel,
                    self.ram_write.b_channel, self.ram_read.ar_channel,
                    self.ram_read.r_channel]
        for channel in channels:
            if probability:
                channel.set_pause_generator(pause_generator(
                    random.Random(self.r.getrandbits(32)), probability))
            else:
                channel.clear_pause_generator()

    def _drive_windows(self):
        layout = window_layout(self.ema)
        self.dut.window_base.value = layout.const(
            [self.windows[c][0] for c in range(4)]).as_bits()
        self.dut.window_limit.value = layout.const(
            [self.windows[c][1] for c in range(4)]).as_bits()

    def set_window(self, tclass, base, limit):
        self.windows[tclass] = (base, limit)
        self._drive_windows()

    async def start(self):
        await start(self.dut)
        cocotb.start_soon(self.read_sink.run())
        cocotb.start_soon(self.status_sink.run())
        if self.sas:
            cocotb.start_soon(self.score_sink.run())
        cocotb.start_soon(self._watch_busy())

    async def _watch_busy(self):
        while True:
            await RisingEdge(self.dut.clk)
            if self.dut.busy.value:
                self.busy_cycles[self.running] += 1

    def ram_view(self):
        return np.frombuffer(bytes(self.ram_bytes), dtype=np.uint8)

    def random_rows(self, desc, fill=None):
        if fill is not None:
            return np.full((desc.rows, desc.row_bytes), fill, dtype=np.uint8)
        raw = self.r.randbytes(desc.rows * desc.row_bytes)
        return np.frombuffer(raw, dtype=np.uint8).reshape(desc.rows, desc.row_bytes)

    def chip_input(self, desc, rows):
        """On-chip beats of ``rows`` with random bytes in the padding lanes, which the
        controller must not write."""
        beats = golden.rows_to_beats(rows, self.lanes) if rows.size else []
        per_row = -(-desc.row_bytes // self.lanes) if desc.row_bytes else 0
        used = desc.row_bytes - (per_row - 1) * self.lanes if per_row else 0
        pad_mask = ((1 << (8 * self.lanes)) - 1) ^ ((1 << (8 * used)) - 1)
        return [b | (self.r.getrandbits(8 * self.lanes) & pad_mask)
                if (k + 1) % per_row == 0 else b for k, b in enumerate(beats)]

    async def run(self, jobs, timeout_cycles):
        """Run ``jobs`` (``(desc, on-chip write beats or None)``) back to back; return the
        statuses and, per descriptor, the read beats and the bus-log lengths after it."""
        first_read = len(self.read_sink.items)
        first_status = len(self.status_sink.items)
        write_beats = [b for desc, beats in jobs if desc.direction == golden.WRITE
                       for b in beats]
        feeder = cocotb.start_soon(self.data_source.send(write_beats))
        for desc, _ in jobs:
            await self.desc_source.send([self.desc_layout.const({
                "direction": desc.direction, "tclass": desc.tclass, "addr": desc.addr,
                "rows": desc.rows, "row_bytes": desc.row_bytes,
                "stride": desc.stride}).as_bits()])
            self.running = (desc.tclass, desc.direction)
        await self.status_sink.wait_for(first_status + len(jobs), timeout_cycles)
        await wait_until(self.dut.clk, lambda: feeder.done(), 100, "write data consumed")
        statuses = [self.status_layout.from_bits(s)
                    for s in self.status_sink.items[first_status:]]
        reads = self.read_sink.items[first_read:]
        for _ in range(8):  # nothing may follow the last status
            await RisingEdge(self.dut.clk)
        assert len(self.read_sink.items) == first_read + len(reads)
        return statuses, reads

    def counters(self):
        return self.counters_layout.from_bits(int(self.dut.counters.value))

    def check_counters(self):
        counters = self.counters()
        mask = (1 << self.ema.counter_bits) - 1
        for tclass in range(4):
            for direction in range(2):
                got = counters[tclass][direction]
                key = (tclass, direction)
                for kind in ("bytes", "beats", "bursts"):
                    assert int(getattr(got, kind)) == self.expected_traffic[key + (kind,)] & mask, \
                        (key, kind, int(getattr(got, kind)), self.expected_traffic[key + (kind,)])
                stalls = self.busy_cycles[key] - self.expected_traffic[key + ("beats",)]
                assert int(got.stalls) == stalls & mask, (key, int(got.stalls), stalls)

    def account(self, desc, issued):
        for kind, value in golden.traffic(desc, self.ema, issued).items():
            self.expected_traffic[(desc.tclass, desc.direction, kind)] += value

    async def clear_counters(self):
        self.dut.counters_clear.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.counters_clear.value = 0
        self.busy_cycles.clear()
        self.expected_traffic.clear()
        for _ in range(self.counter_latency):
            await RisingEdge(self.dut.clk)
        assert all(int(v) == 0 for c in self.counters() for d in c
                   for v in (d.bytes, d.beats, d.bursts, d.stalls))

    def random_desc(self, direction, max_row_bytes, max_rows, span=MEMORY_BYTES,
                    overlap=True):
        r, lanes = self.r, self.lanes
        row_bytes = r.choice([1, lanes, lanes - 1, lanes + 1, r.randrange(1, max_row_bytes + 1),
                              r.randrange(1, max_row_bytes + 1)])
        rows = r.randrange(1, max_rows + 1)
        stride = r.choice([row_bytes, row_bytes + r.randrange(1, 300), 4096,
                           r.randrange(row_bytes, 3 * 4096)])
        if not overlap:
            stride = max(stride, row_bytes)
        extent = (rows - 1) * stride + row_bytes
        if r.random() < 0.4:  # just below a 4 KB boundary
            page = r.randrange(1, (span - extent) // 4096)
            addr = page * 4096 - r.randrange(1, 3 * lanes)
        else:
            addr = r.randrange(0, span - extent)
        return golden.Descriptor(direction, r.choice(self.classes), addr, rows, row_bytes,
                                 stride)


def _plan(bench, desc):
    return [(b.addr, b.beats - 1) for b in golden.plan_bursts(
        desc, bench.lanes, bench.ema.max_burst, bench.ema.addr_width)]


@cocotb.test()
async def random_transfers_match_golden(dut):
    """Reads and writes of random shapes, strides, alignments and classes, back to back, with
    4 KB crossings, maximum bursts and all-0x00/all-0xFF rows; random pauses on every AXI
    channel and both on-chip streams. Read beats, DRAM contents, every burst's address and
    length, statuses and counters must equal the golden model exactly."""
    args = test_args()
    bench = Bench(dut, args["pause"])
    await bench.start()
    await bench.clear_counters()
    ema, lanes = bench.ema, bench.lanes
    jobs = []
    long_row = ema.max_burst * lanes * 2 + 3  # at least two maximum bursts per row
    shapes = [(golden.READ, long_row, 2), (golden.WRITE, long_row, 2)]
    shapes += [(bench.r.choice((golden.READ, golden.WRITE)), args["max_row_bytes"], 4)
               for _ in range(args["descriptors"])]
    for i, (direction, max_row_bytes, max_rows) in enumerate(shapes):
        desc = bench.random_desc(direction, max_row_bytes, max_rows)
        fill = {3: 0x00, 4: 0xFF}.get(i)
        if i < 2:
            desc = golden.Descriptor(direction, desc.tclass, desc.addr, max_rows, max_row_bytes,
                                     max_row_bytes + 5 * lanes + 1)
        rows = bench.random_rows(desc, fill) if direction == golden.WRITE else None
        if direction == golden.READ and fill is not None:
            # The memory under this read is all zeros or all ones.
            for r in range(desc.rows):
                a = desc.row_addr(r, ema.addr_width)
                bench.memory[a:a + desc.row_bytes] = fill
                bench.ram_bytes[a:a + desc.row_bytes] = bytes([fill]) * desc.row_bytes
        jobs.append((desc, bench.chip_input(desc, rows) if rows is not None else None))

    # Golden, in order: each read sees the memory as the writes before it left it.
    expected_reads = []
    memory = bench.memory
    for desc, beats in jobs:
        if desc.direction == golden.READ:
            status, data = golden.read(memory, desc, ema, 0, bench.full)
            expected_reads += data
        else:
            status, memory = golden.write(memory, desc, beats, ema, 0, bench.full)
        assert status == golden.OK
        bench.account(desc, None)

    statuses, reads = await bench.run(jobs, timeout_cycles=200_000)
    dut._log.info("%d descriptors, %d read beats, %d W beats, %d R beats", len(jobs),
                  len(reads), len(bench.bus_log.w_strobes), bench.bus_log.r_beats)
    assert [(s.code.value, s.tclass.value, s.direction.value)
            for s in statuses] == [(golden.OK, d.tclass, d.direction) for d, _ in jobs]
    assert len(reads) == len(expected_reads)
    assert reads == expected_reads
    assert np.array_equal(bench.ram_view(), memory)
    assert bench.bus_log.ar == [b for d, _ in jobs if d.direction == golden.READ
                            for b in _plan(bench, d)]
    assert bench.bus_log.aw == [b for d, _ in jobs if d.direction == golden.WRITE
                            for b in _plan(bench, d)]
    bench.check_counters()


@cocotb.test()
async def errors_windows_and_recovery(dut):
    """Window refusals (no bus transaction, on-chip beats still moved), empty descriptors,
    SLVERR and DECERR in the middle of reads and writes (clean abort, exact read data up to
    the failing beat, nothing written outside the destination), each followed by a correct
    transfer; counters equal what the DRAM model saw."""
    args = test_args()
    bench = Bench(dut, args["pause"])
    await bench.start()
    await bench.clear_counters()
    ema, lanes, r = bench.ema, bench.lanes, bench.r
    page = 4096

    async def run_one(desc, rows=None):
        ar, aw, w = len(bench.bus_log.ar), len(bench.bus_log.aw), len(bench.bus_log.w_strobes)
        beats = bench.chip_input(desc, rows) if rows is not None else None
        statuses, reads = await bench.run([(desc, beats)], timeout_cycles=50_000)
        (status,) = statuses
        assert status.tclass.value == desc.tclass
        assert status.direction.value == desc.direction
        issued = (bench.bus_log.aw[aw:] if desc.direction == golden.WRITE else bench.bus_log.ar[ar:])
        plan = _plan(bench, desc) if desc.rows and desc.row_bytes else []
        assert issued == plan[:len(issued)], "bursts must be a prefix of the plan"
        bench.account(desc, len(issued))
        return status.code.value, reads, len(issued), beats, bench.bus_log.w_strobes[w:]

    # Windows: class 1 may touch [base, limit] only.
    base, limit = 5 * page + 3, 9 * page - 2
    bench.set_window(1, base, limit)
    fits = golden.Descriptor(golden.READ, 1, base, 3, 100, (limit - base + 1 - 100) // 2)
    code, reads, issued, _, _ = await run_one(fits)
    assert code == golden.OK and issued > 0
    assert reads == golden.read(bench.memory, fits, ema, base, limit)[1]
    for desc in (
        golden.Descriptor(golden.READ, 1, base - 1, 3, 100, 1000),       # starts below
        golden.Descriptor(golden.READ, 1, limit - 99, 1, 101, 0),        # one byte past
        golden.Descriptor(golden.READ, 1, base, 2, 100, limit - base),   # second row past
        golden.Descriptor(golden.READ, 1, base, 3, 100, bench.full),     # wraps the space
        golden.Descriptor(golden.WRITE, 1, limit, 2, 2, 1),              # write, past
        golden.Descriptor(golden.WRITE, 1, 0, 2, 3 * lanes + 1, 100),    # write, below
    ):
        rows = bench.random_rows(desc) if desc.direction == golden.WRITE else None
        code, reads, issued, _, _ = await run_one(desc, rows)
        assert code == golden.WINDOW and issued == 0
        if desc.direction == golden.READ:
            assert reads == [0] * golden.chip_beats(desc, lanes)
        assert np.array_equal(bench.ram_view(), bench.memory)
    # Another class is not limited by class 1's window; an empty window refuses everything.
    other = golden.Descriptor(golden.READ, 0, base - 1, 1, 8, 0)
    assert (await run_one(other))[0] == golden.OK
    bench.set_window(3, 100, 99)
    assert (await run_one(golden.Descriptor(golden.READ, 3, 100, 1, 1, 0)))[0] == golden.WINDOW
    bench.set_window(3, 0, bench.full)
    bench.set_window(1, 0, bench.full)

    for desc in (golden.Descriptor(golden.READ, 3, 64, 0, 10, 0),
                 golden.Descriptor(golden.WRITE, 0, 64, 3, 0, 0)):
        code, reads, issued, _, _ = await run_one(desc, bench.random_rows(desc))
        assert code == golden.EMPTY and reads == [] and issued == 0

    # Bus errors: a fault region in the middle of each transfer, then a clean transfer.
    for trial in range(args["error_trials"]):
        fault_code = (golden.SLVERR, golden.DECERR)[trial % 2]
        direction = (golden.READ, golden.WRITE)[trial // 2 % 2]
        # Rows do not overlap here, so that each destination byte has one new value.
        desc = bench.random_desc(direction, 3 * ema.max_burst * lanes, 3, span=MEMORY_BYTES // 2,
                                 overlap=False)
        bursts = golden.plan_bursts(desc, lanes, ema.max_burst, ema.addr_width)
        victim = bursts[r.randrange(len(bursts))]
        lo = victim.addr + lanes * r.randrange(victim.beats)
        bench.faults.ranges = [(lo, lo + lanes, fault_code)]
        if direction == golden.READ:
            want_code, want = golden.read(bench.memory, desc, ema, 0, bench.full,
                                          lambda a: bench.faults.response(a, lanes))
            code, reads, issued, _, _ = await run_one(desc)
            assert code == want_code == fault_code
            assert reads == want
            assert issued <= bursts.index(victim) + 1 + ema.outstanding
        else:
            rows = bench.random_rows(desc)
            code, _, issued, beats, strobes = await run_one(desc, rows)
            assert code == fault_code
            _, written = golden.write(bench.memory, desc, beats, ema, 0, bench.full)
            ram = bench.ram_view()
            dest = np.zeros(MEMORY_BYTES, dtype=bool)
            for row in range(desc.rows):
                a = desc.row_addr(row, ema.addr_width)
                dest[a:a + desc.row_bytes] = True
            assert np.array_equal(ram[~dest], bench.memory[~dest]), "wrote outside"
            assert np.all((ram == bench.memory) | (ram == written)), "wrote wrong data"
            assert np.array_equal(ram[lo:lo + lanes], bench.memory[lo:lo + lanes]), \
                "the failing beat must not be written"
            assert sum(bin(s).count("1") for s in strobes) == \
                golden.traffic(desc, ema, issued)["bytes"]
            bench.memory = ram.copy()
        bench.faults.ranges = []
        # Recovery: the same transfer again succeeds exactly.
        if direction == golden.READ:
            code, reads, _, _, _ = await run_one(desc)
            assert code == golden.OK
            assert reads == golden.read(bench.memory, desc, ema, 0, bench.full)[1]
        else:
            rows = bench.random_rows(desc)
            code, _, _, beats, _ = await run_one(desc, rows)
            assert code == golden.OK
            _, bench.memory = golden.write(bench.memory, desc, beats, ema, 0, bench.full)
            assert np.array_equal(bench.ram_view(), bench.memory)
    bench.check_counters()
    assert sum(bench.expected_traffic[(c, golden.READ, "beats")] for c in range(4)) == \
        bench.bus_log.r_beats
    assert sum(bench.expected_traffic[(c, golden.WRITE, "beats")] for c in range(4)) == \
        len(bench.bus_log.w_strobes)


def _sas_tile(kind, config, r):
    """A tile of scores in visit order: attention-structured, full-range random or extreme."""
    bits, lanes = config.pssa.score_bits, config.pssa.lanes
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if config.pssa.signed_scores \
        else (0, (1 << bits) - 1)
    if kind == "structured":
        from sw.data.attention import self_attention
        att = self_attention(size=8, score_bits=bits)
        order = pssa_golden.patch_order(8, 8, config.pssa.patch_h, config.pssa.patch_w)
        return np.clip(att.scores[order][:, :61], lo, hi), hi // 8
    rows, keys = config.pssa.patch_rows * 2 + 3, 3 * lanes + 1
    if kind == "random":
        return np.array([[r.randint(lo, hi) for _ in range(keys)] for _ in range(rows)]), \
            r.randint(lo, hi)
    # All at the threshold (every score kept) or all below it (none kept).
    return np.full((rows, keys), hi if kind == "max" else lo), hi


def _score_beats(config, layout, tile):
    lanes = config.pssa.lanes
    per_row = -(-tile.shape[1] // lanes)
    padded = np.zeros((tile.shape[0], per_row * lanes), dtype=np.int64)
    padded[:, :tile.shape[1]] = tile
    return [layout.const([int(v) for v in padded[row, k * lanes:(k + 1) * lanes]]).as_bits()
            for row in range(tile.shape[0]) for k in range(per_row)]


@cocotb.test()
async def sas_tiles_travel_compressed(dut):
    """SAS tiles (attention-structured, full-range random, all-max, all-min) written through
    the PSSA encoder land in DRAM as exactly the golden codec's words, the status reports
    their length, the counters see only the coded bytes, and reading them back through the
    decoder returns exactly the pruned tile. Window refusals, misaligned addresses and a bus
    error in a coded read end cleanly and the next tile works."""
    bench = Bench(dut, test_args()["pause"])
    await bench.start()
    if not bench.sas:
        await _sas_class_is_plain(bench)
        return
    await bench.clear_counters()
    config, ema, lanes = bench.config, bench.ema, bench.lanes
    from hw.pssa import PSSALayouts
    beat_layout = PSSALayouts(config).beat
    sas = golden.CLASSES.index("sas")
    addr = 3 * 4096 - 5 * lanes   # the coded run crosses a 4 KB boundary

    async def write_tile(tile, threshold, policy, at):
        dut.sas_threshold.value = threshold & ((1 << config.pssa.score_bits) - 1)
        dut.sas_policy.value = policy
        beats = _score_beats(config, beat_layout, tile)
        feeder = cocotb.start_soon(bench.score_source.send(beats))
        desc = golden.Descriptor(golden.WRITE, sas, at, tile.shape[0], tile.shape[1], 0)
        aw = len(bench.bus_log.aw)
        (status,), _ = await bench.run([(desc, [])], timeout_cycles=50_000)
        await wait_until(dut.clk, feeder.done, 100, "scores consumed")
        return status, bench.bus_log.aw[aw:]

    async def read_tile(shape, words, policy, at):
        dut.sas_policy.value = policy
        first = len(bench.score_sink.items)
        desc = golden.Descriptor(golden.READ, sas, at, shape[0], shape[1], words)
        (status,), _ = await bench.run([(desc, None)], timeout_cycles=50_000)
        got = [[int(v) for v in beat_layout.from_bits(b)]
               for b in bench.score_sink.items[first:]]
        return status, got

    cases = [("structured", pssa_golden.CHAIN), ("random", pssa_golden.ANCHOR),
             ("max", pssa_golden.CHAIN), ("min", pssa_golden.ANCHOR)]
    for kind, policy in cases:
        tile, threshold = _sas_tile(kind, config, bench.r)
        coded = pssa_golden.encode(tile, threshold, policy, config)
        image = np.frombuffer(coded.to_bytes(), dtype=np.uint8)
        status, bursts = await write_tile(tile, threshold, policy, addr)
        assert status.code.value == golden.OK, kind
        assert status.words == len(coded.words), kind
        bench.memory[addr:addr + image.size] = image
        assert np.array_equal(bench.ram_view(), bench.memory), kind
        run = golden.Descriptor(golden.WRITE, sas, addr, 1, image.size, 0)
        assert bursts == _plan(bench, run)
        bench.account(run, None)

        status, got = await read_tile(tile.shape, len(coded.words), policy, addr)
        assert status.code.value == golden.OK, kind
        want = _score_beats(config, beat_layout, pssa_golden.prune(tile, threshold))
        assert got == [[int(v) for v in beat_layout.from_bits(b)] for b in want], kind
        bench.account(golden.Descriptor(golden.READ, sas, addr, 1, image.size, 0), None)

    # Windows: a SAS write needs room for its reserved (worst-case) coded length; one byte
    # less is refused: the encoder still takes the scores and nothing is written. A misaligned
    # address is refused before anything is taken.
    tile, threshold = _sas_tile("random", config, bench.r)
    reserved = golden.sas_reserved_words(*tile.shape, config) * lanes
    bench.set_window(sas, addr, addr + reserved - 2)
    status, bursts = await write_tile(tile, threshold, 0, addr)
    assert status.code.value == golden.WINDOW and bursts == []
    assert np.array_equal(bench.ram_view(), bench.memory)
    bench.set_window(sas, addr, addr + reserved - 1)
    status, bursts = await write_tile(tile, threshold, 0, addr)
    assert status.code.value == golden.OK
    image = np.frombuffer(pssa_golden.encode(tile, threshold, 0, config).to_bytes(),
                          dtype=np.uint8)
    bench.memory[addr:addr + image.size] = image
    assert np.array_equal(bench.ram_view(), bench.memory)
    bench.account(golden.Descriptor(golden.WRITE, sas, addr, 1, image.size, 0), None)
    bench.set_window(sas, 0, addr + 8)
    status, got = await read_tile(tile.shape, 5, 0, addr)
    assert status.code.value == golden.WINDOW and got == []
    bench.set_window(sas, 0, bench.full)
    desc = golden.Descriptor(golden.WRITE, sas, addr + 1, 4, 4, 0)
    (status,), _ = await bench.run([(desc, [])], timeout_cycles=1000)
    assert status.code.value == golden.SHAPE
    assert np.array_equal(bench.ram_view(), bench.memory)

    # A bus error in the middle of a coded write: the encoder still takes every score, the
    # words after the error are dropped, and nothing outside the coded run is written.
    tile, threshold = _sas_tile("random", config, bench.r)
    coded = pssa_golden.encode(tile, threshold, pssa_golden.ANCHOR, config)
    image = np.frombuffer(coded.to_bytes(), dtype=np.uint8)
    fault = addr + (len(coded.words) // 2) * lanes
    bench.faults.ranges = [(fault, fault + lanes, golden.SLVERR)]
    status, bursts = await write_tile(tile, threshold, pssa_golden.ANCHOR, addr)
    assert status.code.value == golden.SLVERR and status.words == len(coded.words)
    run = golden.Descriptor(golden.WRITE, sas, addr, 1, image.size, 0)
    assert bursts == _plan(bench, run)[:len(bursts)]
    ram = bench.ram_view()
    outside = np.ones(MEMORY_BYTES, dtype=bool)
    outside[addr:addr + image.size] = False
    assert np.array_equal(ram[outside], bench.memory[outside])
    inside = ram[addr:addr + image.size]
    assert np.all((inside == bench.memory[addr:addr + image.size]) | (inside == image))
    bench.account(run, len(bursts))
    bench.memory = ram.copy()
    bench.faults.ranges = []

    # A bus error in the middle of a coded read: the status names it, nothing hangs, and the
    # same tile reads back exactly once the fault is gone.
    tile, threshold = _sas_tile("structured", config, bench.r)
    coded = pssa_golden.encode(tile, threshold, 0, config)
    status, bursts = await write_tile(tile, threshold, 0, addr)
    assert status.code.value == golden.OK
    image = np.frombuffer(coded.to_bytes(), dtype=np.uint8)
    bench.memory[addr:addr + image.size] = image
    bench.account(golden.Descriptor(golden.WRITE, sas, addr, 1, image.size, 0), None)
    fault = addr + (len(coded.words) // 2) * lanes
    bench.faults.ranges = [(fault, fault + lanes, golden.DECERR)]
    ar = len(bench.bus_log.ar)
    status, got = await read_tile(tile.shape, len(coded.words), 0, addr)
    assert status.code.value == golden.DECERR
    assert len(got) <= tile.shape[0] * -(-tile.shape[1] // config.pssa.lanes)
    bench.account(golden.Descriptor(golden.READ, sas, addr, 1, image.size, 0),
                  len(bench.bus_log.ar) - ar)
    bench.faults.ranges = []
    status, got = await read_tile(tile.shape, len(coded.words), 0, addr)
    assert status.code.value == golden.OK
    want = _score_beats(config, beat_layout, pssa_golden.prune(tile, threshold))
    assert got == [[int(v) for v in beat_layout.from_bits(b)] for b in want]
    bench.account(golden.Descriptor(golden.READ, sas, addr, 1, image.size, 0), None)
    bench.check_counters()


async def _sas_class_is_plain(bench):
    """Without the codec, SAS descriptors are 2-D transfers like any other class."""
    sas = golden.CLASSES.index("sas")
    desc = golden.Descriptor(golden.WRITE, sas, 4096 - 7, 3, 5 * bench.lanes + 2, 300)
    beats = bench.chip_input(desc, bench.random_rows(desc))
    (status,), _ = await bench.run([(desc, beats)], timeout_cycles=10_000)
    assert status.code.value == golden.OK
    _, bench.memory = golden.write(bench.memory, desc, beats, bench.ema, 0, bench.full)
    assert np.array_equal(bench.ram_view(), bench.memory)
    back = golden.Descriptor(golden.READ, sas, desc.addr, desc.rows, desc.row_bytes, 300)
    (status,), reads = await bench.run([(back, None)], timeout_cycles=10_000)
    assert status.code.value == golden.OK
    assert reads == golden.read(bench.memory, back, bench.ema, 0, bench.full)[1]
