"""Amaranth-simulator unit tests of the EMA sub-units (burst planner, read and write aligners)
against the golden model, plus parameter validation."""

import random

import numpy as np
import pytest
from amaranth.lib.wiring import In

from hw.ema import (AXI4LiteSignature, AXI4Signature, BurstPlanner, CodedBurstPlanner,
                    EMAController, ReadAligner, WriteAligner)
from hw.ema.align import read_beat_layout, track_layout, write_beat_layout
from hw.ema.layouts import burst_layout, descriptor_layout, window_layout
from sw.bench.ema import ideal_memory
from sw.config import ProcessorConfig
from sw.flows.amsim import run_simulation, stream_recv, stream_send
from sw.golden import ema as golden

CONFIGS = {
    "default": {},
    "32bit-burst4": {"ema.data_width": 32, "ema.max_burst": 4},
    "128bit-burst256": {"ema.data_width": 128, "ema.max_burst": 256},
}


def _ema(name):
    return ProcessorConfig().replace(**CONFIGS[name]).ema


def _random_desc(r, ema, direction=golden.READ, max_row_bytes=200, max_rows=4):
    # Start addresses near 4 KB boundaries half of the time, to cross them often.
    if r.random() < 0.5:
        addr = r.randrange(1, 64) * 4096 - r.randrange(0, 3 * ema.data_bytes + 1)
    else:
        addr = r.randrange(0, 1 << 18)
    row_bytes = r.choice([1, ema.data_bytes, r.randrange(1, max_row_bytes + 1)])
    rows = r.randrange(1, max_rows + 1)
    stride = r.choice([row_bytes, row_bytes + r.randrange(0, 3 * 4096), 4096 - 3])
    return golden.Descriptor(direction, r.randrange(4), addr, rows, row_bytes, stride)


def _desc_const(ema, d):
    return descriptor_layout(ema).const({
        "direction": d.direction, "tclass": d.tclass, "addr": d.addr, "rows": d.rows,
        "row_bytes": d.row_bytes, "stride": d.stride})


def _track_const(ema, d, b, phantom=False):
    return track_layout(ema).const({"burst": {
        "addr": b.addr, "len": b.beats - 1, "offset": b.offset, "row_first": b.row_first,
        "row_last": b.row_last, "last": b.last}, "row_bytes": d.row_bytes, "phantom": phantom,
        "single": b.beats == 1, "late_first": bool(b.row_first and b.offset),
        "row_whole": d.row_bytes >= ema.data_bytes, "row_more": d.row_bytes > ema.data_bytes})


@pytest.mark.parametrize("name", CONFIGS)
def test_planner_matches_golden_plan(name):
    ema = _ema(name)
    r = random.Random(name)
    descs = [_random_desc(r, ema) for _ in range(25)]
    # A row far longer than a burst, starting just before a 4 KB boundary.
    descs.append(golden.Descriptor(0, 0, 3 * 4096 - 5, 2, 40 * ema.max_burst * ema.data_bytes
                                   // 8 + 9, 8192))
    expected = [b for d in descs for b in golden.plan_bursts(d, ema.data_bytes, ema.max_burst,
                                                               ema.addr_width)]
    dut = BurstPlanner(ema)
    layout = burst_layout(ema)
    got = []

    async def feed(ctx):
        await stream_send(ctx, dut.cmd, [_desc_const(ema, d) for d in descs],
                          random.Random(1), gap=0.3)

    async def drain(ctx):
        got.extend(await stream_recv(ctx, dut.burst, len(expected), random.Random(2), gap=0.3))

    run_simulation(dut, feed, drain, deadline_cycles=20 * len(expected) + 2000)
    want = [layout.const({"addr": b.addr, "len": b.beats - 1, "offset": b.offset,
                          "row_first": b.row_first, "row_last": b.row_last,
                          "last": b.last}).as_bits() for b in expected]
    assert [layout.const(g).as_bits() if not isinstance(g, int) else g for g in got] == want
    for b in expected:
        assert b.addr % 4096 + b.beats * ema.data_bytes <= 4096
        assert 1 <= b.beats <= ema.max_burst


@pytest.mark.parametrize("shape", ["long_row", "one_burst_rows"])
def test_planner_latency_and_rate(shape):
    """The first burst comes ``latency`` cycles after the command; then one per cycle, also
    when every row is a single burst (each row's start is decided a row ahead)."""
    ema = _ema("32bit-burst4")
    dut = BurstPlanner(ema)
    if shape == "long_row":
        desc = golden.Descriptor(0, 0, 0, 1, 20 * 4 * ema.data_bytes, 0)
    else:
        desc = golden.Descriptor(0, 0, 100, 20, 5, 4096 + 5)
    count = len(golden.plan_bursts(desc, ema.data_bytes, ema.max_burst, ema.addr_width))
    seen = []

    async def tb(ctx):
        ctx.set(dut.burst.ready, 1)
        ctx.set(dut.cmd.payload, _desc_const(ema, desc))
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        cycle = 1
        while len(seen) < count:
            if ctx.get(dut.burst.valid):
                seen.append(cycle)
            await ctx.tick()
            cycle += 1

    run_simulation(dut, tb, deadline_cycles=500)
    assert seen == list(range(dut.latency, dut.latency + count))


def _memory(r, size=1 << 19):
    return np.frombuffer(r.randbytes(size), dtype=np.uint8).copy()


def _bus_beats(memory, bursts, data_bytes):
    beats = []
    for b in bursts:
        for k in range(b.beats):
            addr = (b.addr + k * data_bytes) % memory.size
            beats.append(int.from_bytes(memory[addr:addr + data_bytes].tobytes(), "little"))
    return beats


@pytest.mark.parametrize("name", CONFIGS)
def test_read_aligner_matches_golden(name):
    ema = _ema(name)
    r = random.Random("read" + name)
    memory = _memory(r)
    descs = [_random_desc(r, ema) for _ in range(12)]
    # Extreme data: all-ones memory rows next to the random ones.
    memory[:4096] = 0xFF
    descs.append(golden.Descriptor(0, 1, 5, 3, 3 * ema.data_bytes + 2, 1000))
    for d in descs:
        dut = ReadAligner(ema)
        bursts = golden.plan_bursts(d, ema.data_bytes, ema.max_burst, ema.addr_width)
        beats = _bus_beats(memory, bursts, ema.data_bytes)
        _, expected = golden.read(memory, d, ema, 0, (1 << ema.addr_width) - 1)
        got = []

        async def tracks(ctx, d=d, bursts=bursts):
            await stream_send(ctx, dut.info, [_track_const(ema, d, b) for b in bursts],
                              random.Random(3), gap=0.2)

        async def data(ctx, beats=beats):
            layout = read_beat_layout(ema)
            await stream_send(ctx, dut.beat, [layout.const({"data": v, "error": 0})
                                              for v in beats], random.Random(4), gap=0.3)

        async def drain(ctx, n=len(expected)):
            got.extend(await stream_recv(ctx, dut.o, n, random.Random(5), gap=0.3))

        run_simulation(dut, tracks, data, drain, deadline_cycles=10 * len(beats) + 500)
        assert got == expected, d


@pytest.mark.parametrize("name", CONFIGS)
def test_read_aligner_error_and_phantom(name):
    """After a failing beat the data is zero (the controller raises ``zero``), and phantom
    bursts still produce their on-chip beats without bus beats."""
    ema = _ema(name)
    r = random.Random("err" + name)
    memory = _memory(r)
    d = golden.Descriptor(0, 2, 4096 - 7, 3, 5 * ema.data_bytes + 3, 4096 + 24)
    bursts = golden.plan_bursts(d, ema.data_bytes, ema.max_burst, ema.addr_width)
    fail_addr = bursts[1].addr + ema.data_bytes * (bursts[1].beats - 1)
    failing = {fail_addr}
    status, expected = golden.read(memory, d, ema, 0, (1 << 32) - 1,
                                   lambda a: golden.SLVERR if a in failing else golden.OK)
    assert status == golden.SLVERR
    real = bursts[:3]
    beats = _bus_beats(memory, real, ema.data_bytes)
    dut = ReadAligner(ema)
    got = []
    bus_beats = []

    async def tracks(ctx):
        await stream_send(ctx, dut.info, [_track_const(ema, d, b, phantom=i >= 3)
                                          for i, b in enumerate(bursts)], random.Random(6), 0.2)

    async def data(ctx):
        layout = read_beat_layout(ema)
        addrs = [b.addr + k * ema.data_bytes for b in real for k in range(b.beats)]
        for addr, value in zip(addrs, beats):
            await stream_send(ctx, dut.beat, [layout.const({"data": value,
                                                            "error": addr in failing})])
            if addr in failing:
                ctx.set(dut.zero, 1)

    async def drain(ctx):
        got.extend(await stream_recv(ctx, dut.o, len(expected), random.Random(7), gap=0.3))

    async def count(ctx):
        async for _, _, beat in ctx.tick().sample(dut.bus_beat):
            bus_beats.append(beat)

    run_simulation(dut, tracks, data, drain, processes=[count], deadline_cycles=2000)
    assert got == expected
    assert sum(bus_beats) == len(beats)


@pytest.mark.parametrize("name", CONFIGS)
def test_write_aligner_matches_golden(name):
    ema = _ema(name)
    r = random.Random("write" + name)
    descs = [_random_desc(r, ema, golden.WRITE) for _ in range(12)]
    descs.append(golden.Descriptor(1, 3, 4096 - 1, 2, 2 * ema.data_bytes + 1, 77))
    layout = write_beat_layout(ema)
    for d in descs:
        rows = np.frombuffer(r.randbytes(d.rows * d.row_bytes), dtype=np.uint8)
        if d is descs[-1]:
            rows = np.full(d.rows * d.row_bytes, 0xFF, dtype=np.uint8)
        chip = golden.rows_to_beats(rows.reshape(d.rows, d.row_bytes), ema.data_bytes)
        # Padding lanes carry garbage: the aligner must strobe them off.
        pad = [v | (r.getrandbits(ema.data_width) & ~((1 << 8 * (d.row_bytes % ema.data_bytes
               or ema.data_bytes)) - 1)) if (k + 1) % -(-d.row_bytes // ema.data_bytes) == 0
               else v for k, v in enumerate(chip)]
        expected = golden.write_beats(d, chip, ema)
        bursts = golden.plan_bursts(d, ema.data_bytes, ema.max_burst, ema.addr_width)
        dut = WriteAligner(ema)
        got = []

        async def tracks(ctx, d=d, bursts=bursts):
            await stream_send(ctx, dut.info, [_track_const(ema, d, b) for b in bursts],
                              random.Random(8), gap=0.2)

        async def data(ctx, pad=pad):
            await stream_send(ctx, dut.i, pad, random.Random(9), gap=0.3)

        async def drain(ctx, n=len(expected)):
            got.extend(await stream_recv(ctx, dut.w, n, random.Random(10), gap=0.3))

        run_simulation(dut, tracks, data, drain, deadline_cycles=10 * len(expected) + 500)
        beats = [layout.from_bits(g) if isinstance(g, int) else g for g in got]
        observed = []
        for beat, (_, _, strb, _) in zip(beats, expected):
            mask = sum(0xFF << 8 * k for k in range(ema.data_bytes) if strb >> k & 1)
            observed.append((int(beat.data) & mask, int(beat.strb), bool(beat.last)))
        assert observed == [(data, strb, last) for _, data, strb, last in expected], d


def test_write_aligner_phantom_consumes_input_without_beats():
    ema = _ema("default")
    d = golden.Descriptor(1, 0, 3, 4, 3 * ema.data_bytes, 1 << 12)
    bursts = golden.plan_bursts(d, ema.data_bytes, ema.max_burst, ema.addr_width)
    n_chip = golden.chip_beats(d, ema.data_bytes)
    dut = WriteAligner(ema)
    done = []

    async def tracks(ctx):
        await stream_send(ctx, dut.info, [_track_const(ema, d, b, phantom=True) for b in bursts])

    async def data(ctx):
        await stream_send(ctx, dut.i, list(range(n_chip)), random.Random(11), gap=0.3)

    async def watch(ctx):
        async for _, _, w_valid, finished in ctx.tick().sample(dut.w.valid, dut.desc_done):
            assert not w_valid
            if finished:
                done.append(1)

    run_simulation(dut, tracks, data, processes=[watch], deadline_cycles=1000)
    assert done == [1]


def test_axi_signatures_reject_bad_widths():
    with pytest.raises(ValueError, match=r"addr_width=8 .*data_width=24 .*id_width=0"):
        AXI4Signature(addr_width=8, data_width=24, id_width=0)
    with pytest.raises(ValueError, match="data_width=128"):
        AXI4LiteSignature(addr_width=32, data_width=128)
    sig = AXI4Signature(addr_width=32, data_width=64, id_width=2)
    assert sig == AXI4Signature(addr_width=32, data_width=64, id_width=2)
    assert sig.members["wstrb"].shape == 8
    assert sig.members["bresp"].flow == In


def test_config_rejects_bad_ema_fields():
    with pytest.raises(ValueError) as info:
        ProcessorConfig().replace(**{"ema.data_width": 48, "ema.rows_bits": 0,
                                     "ema.counter_bits": 65, "ema.max_burst": 257})
    text = str(info.value)
    for field in ("ema.data_width=48", "ema.rows_bits=0", "ema.counter_bits=65",
                  "ema.max_burst=257"):
        assert field in text


@pytest.mark.parametrize("direction", [golden.READ, golden.WRITE])
def test_controller_issue_latency_and_data(direction):
    """The first address handshake comes ``issue_latency`` cycles after the descriptor's, the
    first read beat ``read_latency`` cycles after the R beat that completes it, and a transfer
    through an always-ready memory model moves the golden bytes."""
    ema = _ema("default")
    dut = EMAController(ProcessorConfig())
    r = random.Random(direction)
    memory = bytearray(r.randbytes(1 << 16))
    before = np.frombuffer(bytes(memory), dtype=np.uint8).copy()
    desc = golden.Descriptor(direction, 1, 4096 - 13, 3, 45, 1000)
    rows = np.frombuffer(r.randbytes(3 * 45), dtype=np.uint8).reshape(3, 45)
    chip = golden.rows_to_beats(rows, ema.data_bytes)
    windows = window_layout(ema)
    seen = {}

    async def drive(ctx):
        ctx.set(dut.window_base, windows.const([0] * 4))
        ctx.set(dut.window_limit, windows.const([(1 << 32) - 1] * 4))
        ctx.set(dut.status.ready, 1)
        await stream_send(ctx, dut.desc, [_desc_const(ema, desc)])
        cycle = 0
        while not ctx.get(dut.m_axi.arvalid | dut.m_axi.awvalid):
            await ctx.tick()
            cycle += 1
        # Counting the handshake cycle itself.
        seen["latency"] = cycle + 1

    async def data(ctx):
        if direction == golden.WRITE:
            await stream_send(ctx, dut.wr_data, chip, random.Random(1), gap=0.3)
        else:
            seen["read"] = await stream_recv(ctx, dut.rd_data, len(chip), random.Random(2),
                                             gap=0.3)

    async def status(ctx):
        seen["status"] = (await stream_recv(ctx, dut.status, 1))[0]

    async def watch(ctx):
        r_beats, first_out, cycle = [], None, 0
        async for _, _, rvalid, rready, out_valid in ctx.tick().sample(
                dut.m_axi.rvalid, dut.m_axi.rready, dut.rd_data.valid):
            if rvalid and rready:
                r_beats.append(cycle)
            if out_valid and first_out is None:
                first_out = cycle
                # The row starts mid-beat: its first on-chip beat needs two DRAM beats.
                seen["read_latency"] = first_out - r_beats[1]
            cycle += 1

    run_simulation(dut, drive, data, status, processes=[ideal_memory(dut, memory), watch],
                   deadline_cycles=2000)
    assert seen["latency"] == dut.issue_latency
    assert seen["status"].code.value == golden.OK
    if direction == golden.READ:
        assert seen["read_latency"] == dut.read_latency
        assert seen["read"] == golden.read(before, desc, ema, 0, (1 << 32) - 1)[1]
    else:
        _, after = golden.write(before, desc, chip, ema, 0, (1 << 32) - 1)
        assert np.array_equal(np.frombuffer(bytes(memory), dtype=np.uint8), after)


def test_controller_counters_latency_and_clear():
    """Every cycle's beats, bursts and stall cycles reach ``counters`` ``counter_latency``
    cycles later; a clear has the same latency and drops the events of its cycle and before,
    also in the middle of a transfer; in the cycle after a status handshake, the counters
    hold the whole traffic of its descriptor."""
    config = ProcessorConfig().replace(**{"ema.sas_codec": False})
    ema = config.ema
    dut = EMAController(config)
    r = random.Random(3)
    memory = bytearray(r.randbytes(1 << 16))
    read = golden.Descriptor(golden.READ, 1, 4096 - 13, 3, 45, 1000)
    write = golden.Descriptor(golden.WRITE, 3, 200, 4, 70, 300)
    read_beats = 3 * -(-45 // ema.data_bytes)
    rows = np.frombuffer(r.randbytes(4 * 70), dtype=np.uint8).reshape(4, 70)
    chip = golden.rows_to_beats(rows, ema.data_bytes)
    windows = window_layout(ema)
    lag = dut.counter_latency
    kinds = ("beats", "bursts", "stalls")
    checked = {"cycles": 0, "clears": 0, "final": False}

    async def drive(ctx):
        ctx.set(dut.window_base, windows.const([0] * 4))
        ctx.set(dut.window_limit, windows.const([(1 << 32) - 1] * 4))
        ctx.set(dut.status.ready, 1)
        await stream_send(ctx, dut.desc, [_desc_const(ema, read), _desc_const(ema, write)])

    async def data(ctx):
        await stream_recv(ctx, dut.rd_data, read_beats, random.Random(2), gap=0.3)
        await stream_send(ctx, dut.wr_data, chip, random.Random(1), gap=0.3)

    async def watch(ctx):
        axi = dut.m_axi
        keys = [(read.tclass, golden.READ), (write.tclass, golden.WRITE)]
        # ``counted[t]``: the counts with each event counted at the end of its own cycle.
        counted = [{key: dict.fromkeys(kinds, 0) for key in keys}]
        statuses = 0
        read_beats_seen = 0
        while not checked["final"]:
            (_, _, clear, arv, arr, awv, awr, rv, rr, wv, wr, busy, stv, counters) = \
                await ctx.tick().sample(dut.counters_clear, axi.arvalid, axi.arready,
                                        axi.awvalid, axi.awready, axi.rvalid, axi.rready,
                                        axi.wvalid, axi.wready, dut.busy, dut.status.valid,
                                        dut.counters)
            cycle = len(counted) - 1
            if cycle >= lag:
                for (tclass, direction), counts in counted[cycle - lag + 1].items():
                    got = counters[tclass][direction]
                    assert {kind: int(getattr(got, kind)) for kind in kinds} == counts, cycle
                checked["cycles"] += 1
            if statuses == 2:
                got = counters[write.tclass][golden.WRITE]
                for kind, value in golden.traffic(write, ema).items():
                    assert int(getattr(got, kind)) == value, kind
                checked["final"] = True
            read_running = statuses == 0
            beat = (rv and rr) if read_running else (wv and wr)
            events = {keys[0]: {"beats": rv and rr, "bursts": arv and arr,
                                "stalls": read_running and busy and not beat},
                      keys[1]: {"beats": wv and wr, "bursts": awv and awr,
                                "stalls": not read_running and busy and not beat}}
            counted.append({key: {kind: 0 if clear else counts[kind] + bool(events[key][kind])
                                  for kind in kinds}
                            for key, counts in counted[-1].items()})
            checked["clears"] += bool(clear)
            read_beats_seen += bool(rv and rr)
            ctx.set(dut.counters_clear, read_beats_seen == 4 and not checked["clears"])
            statuses += bool(stv)

    run_simulation(dut, drive, data, watch, processes=[ideal_memory(dut, memory)],
                   deadline_cycles=3000)
    assert checked["clears"] == 1 and checked["cycles"] > 50


def test_coded_planner_latency_and_rate():
    """A known run's first burst comes ``latency`` cycles after the command, the next ones
    every other cycle."""
    ema = _ema("32bit-burst4")
    dut = CodedBurstPlanner(ema, 20)
    words = 5 * ema.max_burst
    seen = []

    async def tb(ctx):
        ctx.set(dut.burst.ready, 1)
        ctx.set(dut.cmd.payload, dut.cmd.payload.shape().const(
            {"addr": 0, "words": words, "finished": 1}))
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        cycle = 1
        while len(seen) < 5:
            if ctx.get(dut.burst.valid):
                seen.append(cycle)
            await ctx.tick()
            cycle += 1

    run_simulation(dut, tb, deadline_cycles=500)
    assert seen == list(range(dut.latency, dut.latency + 10, 2))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("known", [False, True])
def test_coded_planner_matches_golden_split(name, known):
    """A coded run (words trickling in, or all known up front) is split like a one-row
    descriptor of the same bytes, and no burst is planned before its words exist."""
    ema = _ema(name)
    r = random.Random(f"{name}{known}")
    dut = CodedBurstPlanner(ema, 20)
    for words in (1, ema.max_burst, ema.max_burst + 1, 3 * ema.max_burst + 5):
        addr = 2 * 4096 - ema.data_bytes * r.randrange(1, 2 * ema.max_burst)
        run = golden.Descriptor(golden.WRITE, 2, addr, 1, words * ema.data_bytes, 0)
        expected = [(b.addr, b.beats - 1) for b in golden.plan_bursts(
            run, ema.data_bytes, ema.max_burst, ema.addr_width)]
        got = []
        produced = []
        cmd = dut.cmd.payload.shape().const({"addr": addr, "words": words if known else 0,
                                             "finished": known})

        async def feed(ctx, words=words, cmd=cmd):
            await stream_send(ctx, dut.cmd, [cmd])
            count = words if known else 0
            while count < words:
                step = r.random() < 0.6
                ctx.set(dut.produced, step)
                count += step
                produced.append(count)
                await ctx.tick()
            ctx.set(dut.produced, 0)
            ctx.set(dut.finished, 1)
            await ctx.tick()
            ctx.set(dut.finished, 0)

        async def drain(ctx, n=len(expected), words=words):
            planned = 0
            while len(got) < n:
                ctx.set(dut.burst.ready, r.random() < 0.7)
                _, _, valid, ready, payload = await ctx.tick().sample(
                    dut.burst.valid, dut.burst.ready, dut.burst.payload)
                if valid and ready:
                    planned += payload.len + 1
                    # Planned beats exist, and one more unless the run is complete.
                    have = produced[-1] if produced else words
                    assert planned <= have and (planned < have or payload.last)
                    got.append((payload.addr, payload.len, payload.last))
            ctx.set(dut.burst.ready, 0)

        run_simulation(dut, feed, drain, deadline_cycles=20 * words + 200)
        assert [(a, n) for a, n, _ in got] == expected
        assert [last for _, _, last in got] == [False] * (len(got) - 1) + [True]


@pytest.mark.parametrize("lanes,keys", [(8, 64), (8, 61), (5, 40), (1, 7)])
def test_sas_reservation_bounds_every_coded_tile(lanes, keys):
    """The window a SAS write reserves holds every coding: all scores kept, checkerboard
    bitmaps (a non-zero XOR in every beat) and random tiles, under both policies."""
    from sw.golden import pssa as pssa_golden

    config = ProcessorConfig().replace(**{"pssa.lanes": lanes, "pssa.max_keys": 64})
    rows = 2 * config.pssa.patch_rows + 1
    top = (1 << config.pssa.score_bits) - 1
    rng = np.random.default_rng(lanes * keys)
    alternating = np.where((np.arange(rows)[:, None] + np.arange(keys)) % 2, top, 0)
    tiles = [np.full((rows, keys), top), alternating,
             rng.integers(0, top + 1, size=(rows, keys))]
    reserved = golden.sas_reserved_words(rows, keys, config)
    for tile in tiles:
        for policy in (pssa_golden.CHAIN, pssa_golden.ANCHOR):
            coded = pssa_golden.encode(tile, 1, policy, config)
            assert len(coded.words) <= reserved
