"""cocotb testbenches for the DBSC array, run on its emitted Verilog against the golden model."""

import warnings

warnings.filterwarnings("error", category=DeprecationWarning)
warnings.filterwarnings("default", category=DeprecationWarning, module=r"cocotbext\.")

import cocotb  # noqa: E402
import numpy as np  # noqa: E402
from cocotb.triggers import RisingEdge  # noqa: E402

from hw.dbsc.command import (Command, Mode, Precision, act_layout, result_layout,  # noqa: E402
                             weight_layout)
from sw.flows.cocotb_lib import (StreamSink, StreamSource, config_from_env, rng,  # noqa: E402
                                 start, test_args, wait_until)
from sw.golden import dbsc as golden  # noqa: E402


def command_bits(mode, precision, m, k):
    return Command.const({"mode": mode, "precision": precision, "m": m, "k": k}).as_bits()


def make_tiles(cfg, r):
    """Tiles covering the issue's list: full-range random operands, all-minimum and
    all-maximum operands, every precision source and map (all high, all low, random), partial
    groups and chunks, the maximum k and m, alternating dataflows."""
    modes = [mode for mode, ok in ((Mode.WS, cfg.supports_ws), (Mode.OS, cfg.supports_os)) if ok]
    lo, hi = golden.act_range(cfg)
    wlo, whi = golden.weight_range(cfg)
    small_m = min(cfg.max_m, cfg.rows + 1)
    plans = [
        # (m, k, operands, precision source, precision map)
        (1, 1, "random", Precision.BITMAP, "random"),
        (small_m, cfg.max_k, "random", Precision.BITMAP, "random"),
        (cfg.max_m, min(cfg.max_k, 2 * cfg.rows + 1), "random", Precision.BITMAP, "random"),
        (small_m, cfg.rows + 1, "min", Precision.ALL_HIGH, "high"),
        (small_m, cfg.rows + 1, "max", Precision.ALL_HIGH, "high"),
        (small_m, cfg.rows + 1, "min", Precision.ALL_LOW, "low"),
        (small_m, cfg.rows + 1, "max", Precision.BITMAP, "low"),
        (small_m, cfg.rows + 1, "min", Precision.BITMAP, "high"),
        (small_m, 3, "random", Precision.ALL_LOW, "low"),
        (small_m, 2, "random", Precision.ALL_HIGH, "high"),
    ]
    tiles = []
    for i, (m, k, operands, precision, prec_map) in enumerate(plans):
        a = r.integers(lo, hi + 1, (m, k))
        w = r.integers(wlo, whi + 1, (k, cfg.cols))
        if operands == "min":
            a[:], w[:] = lo, wlo
        elif operands == "max":
            a[:], w[:] = hi, whi
        if prec_map == "random":
            high = r.random(m) < 0.5
        else:
            high = np.full(m, prec_map == "high")
        tiles.append((modes[i % len(modes)], precision, a, w, high))
    return tiles


async def run_tile(dut, cfg, sources, sink, tile):
    """Send one tile through the streams and return its result rows."""
    mode, precision, a, w, high = tile
    cmd, prec_src, act_src, wgt_src = sources
    prec, act, wgt = golden.stream_beats(a, w, high, mode == Mode.OS, cfg)
    if precision != Precision.BITMAP:
        prec = []
    act_l, wgt_l, res_l = act_layout(cfg), weight_layout(cfg), result_layout(cfg)
    start_count = len(sink.items)
    await cmd.send([command_bits(mode, precision, *a.shape)])
    senders = [cocotb.start_soon(prec_src.send(prec)),
               cocotb.start_soon(act_src.send([act_l.const(b).as_bits() for b in act])),
               cocotb.start_soon(wgt_src.send([wgt_l.const(b).as_bits() for b in wgt]))]
    budget = 50 * (len(act) * cfg.slices_high + cfg.rows + cfg.cols) + 500
    await sink.wait_for(start_count + a.shape[0], timeout_cycles=budget)
    for sender in senders:
        await sender
    await wait_until(dut.clk, lambda: not dut.busy.value, 50, "busy to fall")
    rows = sink.items[start_count:]
    return np.array([[int(v) for v in res_l.from_bits(raw)] for raw in rows], dtype=np.int64)


@cocotb.test()
async def tiles_match_golden(dut):
    """Every tile of :func:`make_tiles`, back to back, under each pause setting of the
    test arguments (operand sources and result sink pausing at random)."""
    cfg = config_from_env().dbsc
    args = test_args()
    r = rng()
    np_r = np.random.default_rng(r.getrandbits(32))
    await start(dut)
    checked = 0
    for in_pause, out_pause in args["pauses"]:
        sources = (StreamSource(dut, "cmd", pause=in_pause, r=r),
                   StreamSource(dut, "prec", pause=in_pause, r=r),
                   StreamSource(dut, "act", pause=in_pause, r=r),
                   StreamSource(dut, "wgt", pause=in_pause, r=r))
        sink = StreamSink(dut, "res", pause=out_pause, r=r)
        task = cocotb.start_soon(sink.run())
        expected_rows = 0
        for tile in make_tiles(cfg, np_r):
            mode, precision, a, w, high = tile
            expected_rows += a.shape[0]
            got = await run_tile(dut, cfg, sources, sink, tile)
            expect = golden.matmul(a, w, high, cfg)
            assert np.array_equal(got, expect), (
                f"{mode.name} {precision.name} m={a.shape[0]} k={a.shape[1]} pauses "
                f"{in_pause}/{out_pause}:\n got {got.tolist()}\n expected {expect.tolist()}")
            assert not dut.error.value
            checked += 1
        for _ in range(5):  # nothing extra may come out
            await RisingEdge(dut.clk)
        task.cancel()
        assert len(sink.items) == expected_rows, "results beyond the tiles' rows"
    assert checked == len(args["pauses"]) * 10


@cocotb.test()
async def bad_commands_flag_error(dut):
    """Commands outside the limits, the reserved precision and a dataflow the build lacks are
    rejected: ``done`` and ``error`` rise, nothing is consumed or produced, no hang; the next
    good tile computes correctly and clears ``error``."""
    cfg = config_from_env().dbsc
    r = rng()
    np_r = np.random.default_rng(r.getrandbits(32))
    await start(dut)
    good_mode = Mode.WS if cfg.supports_ws else Mode.OS
    bad = [(good_mode, Precision.ALL_HIGH.value, 0, 1),
           (good_mode, Precision.ALL_HIGH.value, 1, 0),
           (good_mode, Precision.ALL_HIGH.value, cfg.max_m + 1, 1),
           (good_mode, Precision.ALL_HIGH.value, 1, cfg.max_k + 1),
           (good_mode, 3, 1, 1)]
    if not cfg.supports_ws:
        bad.append((Mode.WS, Precision.ALL_HIGH.value, 1, 1))
    if not cfg.supports_os:
        bad.append((Mode.OS, Precision.ALL_HIGH.value, 1, 1))
    cmd = StreamSource(dut, "cmd")
    for fields in bad:
        for name in ("act", "wgt", "prec"):
            getattr(dut, f"{name}__valid").value = 1
        dut.res__ready.value = 1
        await cmd.send([command_bits(*fields)])
        await wait_until(dut.clk, lambda: bool(dut.done.value), 5, "done")
        assert dut.error.value and not dut.busy.value, fields
        for _ in range(10):
            await RisingEdge(dut.clk)
            assert not (dut.act__ready.value or dut.wgt__ready.value or dut.prec__ready.value
                        or dut.res__valid.value or dut.busy.value), fields
    for name in ("act", "wgt", "prec"):
        getattr(dut, f"{name}__valid").value = 0
    sources = (cmd, StreamSource(dut, "prec"), StreamSource(dut, "act"),
               StreamSource(dut, "wgt"))
    sink = StreamSink(dut, "res")
    task = cocotb.start_soon(sink.run())
    lo, hi = golden.act_range(cfg)
    wlo, whi = golden.weight_range(cfg)
    a = np_r.integers(lo, hi + 1, (2, 3))
    w = np_r.integers(wlo, whi + 1, (3, cfg.cols))
    high = np.array([True, False])
    got = await run_tile(dut, cfg, sources, sink, (good_mode, Precision.BITMAP, a, w, high))
    task.cancel()
    assert np.array_equal(got, golden.matmul(a, w, high, cfg))
    assert not dut.error.value
