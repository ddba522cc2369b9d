"""Amaranth-simulator tests of the DBSC pieces: the PE on every slice/sign corner, the array's
timing model, command errors, and small tiles of both arrays against the golden model."""

import itertools

import numpy as np
import pytest
from amaranth.hdl import Fragment

from hw.dbsc import BitParallelArray, Command, DBSCArray, Mode, Precision, SlicePE
from hw.dbsc.pe import slice_layout
from sw.bench.dbsc import random_tile, simulate_tiles
from sw.config import ProcessorConfig
from sw.flows.amsim import run_simulation
from sw.golden import dbsc as golden


def dbsc_config(**overrides):
    return ProcessorConfig().replace(**{f"dbsc.{k}": v for k, v in overrides.items()}).dbsc


def issue_order(x, high, cfg):
    """The slices a PE receives for activation ``x``: top first, low ones skipped when low."""
    s = golden.slices(np.array([x]), cfg)[0]
    count = cfg.slices_high if high else cfg.slices_low
    return [(int(s[i]) & ((1 << cfg.slice_bits) - 1), i * cfg.slice_bits, i == cfg.slices_high - 1)
            for i in reversed(range(cfg.slices_high - count, cfg.slices_high))]


def corner_activations(cfg):
    """Every combination of per-slice corners (each slice at 0, 1 and its signed/unsigned
    extremes), which covers -2^(b-1), -1, 0 and 2^(b-1)-1; with 2-bit slices, every value."""
    k = cfg.slice_bits
    top = sorted({-(1 << (k - 1)), -1, 0, 1, (1 << (k - 1)) - 1})
    lower = sorted({0, 1, (1 << (k - 1)) - 1, 1 << (k - 1), (1 << k) - 1})
    out = []
    for combo in itertools.product(*([lower] * (cfg.slices_high - 1) + [top])):
        out.append(int(golden.from_slices(np.array(combo), cfg)))
    return out


@pytest.mark.parametrize("overrides", [{}, {"slice_bits": 2},
                                       {"act_bits_high": 12, "act_bits_low": 4}],
                         ids=["s4", "s2", "h12"])
def test_pe_every_slice_corner_both_modes(overrides):
    """OS: the PE accumulates a dot product of corner activations and extreme weights, at
    both precisions. WS: stationary extreme weights (loaded through the shadow register,
    swapped in on the first slice) times every corner activation plus extreme partial sums."""
    cfg = dbsc_config(**overrides)
    max_shift = cfg.act_bits_high - cfg.slice_bits
    pe = SlicePE(cfg.slice_bits, cfg.weight_bits, cfg.acc_bits, max_shift)
    layout = slice_layout(cfg.slice_bits, max_shift)
    wlo, whi = golden.weight_range(cfg)
    acts = corner_activations(cfg)
    weights = [wlo, whi, -1]
    psums = [-(1 << (cfg.acc_bits - 2)), (1 << (cfg.acc_bits - 2)) - 1, 0]
    checked = []

    async def send(ctx, x, high, first, last, swap=False, w_in=0):
        order = issue_order(x, high, cfg)
        for i, (value, shift, top) in enumerate(order):
            ctx.set(pe.act_in, layout.const({
                "value": value, "shift": shift, "top": top, "valid": 1,
                "first": first and i == 0, "last": last and i == len(order) - 1,
                "swap": swap and i == 0}))
            ctx.set(pe.w_in, w_in)
            await ctx.tick()
        ctx.set(pe.act_in, layout.const({"valid": 0}))

    async def result(ctx):
        # The last slice entered one tick ago; the sum comes ``latency`` ticks after it.
        for _ in range(pe.latency - 1):
            assert not ctx.get(pe.psum_valid)
            await ctx.tick()
        assert ctx.get(pe.psum_valid)
        return ctx.get(pe.psum_out)

    async def testbench(ctx):
        ctx.set(pe.advance, 1)
        for high in (True, False):
            # Output-stationary: one long sum.
            ctx.set(pe.os_mode, 1)
            expect = 0
            pairs = [(x, w) for x in acts for w in (wlo, whi)]
            for i, (x, w) in enumerate(pairs):
                x_eff = x if high else int(golden.to_low_precision(np.array([x]), cfg)[0])
                expect += x_eff * w
                await send(ctx, x, high, i == 0, i == len(pairs) - 1, w_in=w)
            assert await result(ctx) == expect
            checked.append(len(pairs))
            # Weight-stationary: one product per token, plus the partial sum from above.
            ctx.set(pe.os_mode, 0)
            for w in weights:
                ctx.set(pe.load, 1)
                ctx.set(pe.load_data, w)
                await ctx.tick()
                ctx.set(pe.load, 0)
                for i, x in enumerate(acts):
                    psum = psums[i % len(psums)]
                    x_eff = x if high else int(golden.to_low_precision(np.array([x]), cfg)[0])
                    # Held from the first slice until the PE takes the sum.
                    ctx.set(pe.psum_in, psum)
                    await send(ctx, x, high, True, True, swap=i == 0)
                    assert await result(ctx) == x_eff * w + psum, (x, w, psum, high)
                    checked.append(1)

    run_simulation(pe, testbench, deadline_cycles=200_000)
    assert len(checked) == 2 * (1 + len(weights) * len(acts))


@pytest.mark.parametrize("stall_after", range(SlicePE.latency - 1))
def test_pe_holds_everything_while_stalled(stall_after):
    """A stall at any point of the PE's pipeline freezes the product in flight and ignores
    the slice presented meanwhile; the sum comes ``latency`` advancing cycles after its slice."""
    cfg = dbsc_config()
    pe = SlicePE(cfg.slice_bits, cfg.weight_bits, cfg.acc_bits, 4)
    layout = slice_layout(cfg.slice_bits, 4)

    async def testbench(ctx):
        ctx.set(pe.os_mode, 1)
        ctx.set(pe.advance, 1)
        ctx.set(pe.w_in, -128)
        ctx.set(pe.act_in, layout.const({"value": 0b1000, "shift": 4, "top": 1, "valid": 1,
                                          "first": 1, "last": 1}))
        await ctx.tick()
        ctx.set(pe.act_in, layout.const({"valid": 0}))
        for _ in range(stall_after):
            await ctx.tick()
        ctx.set(pe.advance, 0)
        ctx.set(pe.act_in, layout.const({"value": 7, "shift": 0, "valid": 1, "first": 1,
                                          "last": 1}))
        for _ in range(5):
            await ctx.tick()
            assert not ctx.get(pe.psum_valid) and ctx.get(pe.w_out) == -128
        ctx.set(pe.advance, 1)
        ctx.set(pe.act_in, layout.const({"valid": 0}))
        for _ in range(pe.latency - 1 - stall_after):
            assert not ctx.get(pe.psum_valid)
            await ctx.tick()
        assert ctx.get(pe.psum_valid) and ctx.get(pe.psum_out) == (-8 << 4) * -128
        for _ in range(pe.latency + 1):
            await ctx.tick()
            assert not ctx.get(pe.psum_valid)

    run_simulation(pe, testbench, deadline_cycles=100)


def test_pe_rejects_no_dataflow():
    with pytest.raises(ValueError, match="has_ws or has_os"):
        SlicePE(4, 8, 20, 4, has_ws=False, has_os=False)


SMALL = {"rows": 2, "cols": 3, "max_k": 16, "max_m": 9}


@pytest.mark.parametrize("cls", [DBSCArray, BitParallelArray])
@pytest.mark.parametrize("overrides", [SMALL, dict(SMALL, slice_bits=2, rows=3, cols=2),
                                       dict(SMALL, act_bits_high=12, act_bits_low=8)],
                         ids=["2x3", "3x2s2", "h12l8"])
def test_tiles_against_golden_under_backpressure(cls, overrides):
    """Back-to-back tiles alternating WS/OS with random, all-high, all-low and mixed maps,
    extreme operands, partial groups and chunks, the maximum k and m; random gaps on every
    stream."""
    cfg = dbsc_config(**overrides)
    dut = cls(cfg)
    r = np.random.default_rng(7)
    lo, hi = golden.act_range(cfg)
    wlo, whi = golden.weight_range(cfg)
    tiles = []
    # (1, max_k): one token's running sum read back chunk after chunk.
    shapes = [(1, 1), (5, 3), (cfg.max_m, cfg.max_k), (4, 7), (1, cfg.max_k)]
    for i, (m, k) in enumerate(shapes * 2):
        mode = (Mode.WS, Mode.OS)[i % 2]
        a, w, high = random_tile(cfg, m, k, r.random(), r)
        if i == 2:
            a[:], w[:] = lo, wlo
        if i == 7:
            a[:], w[:] = hi, whi
        precision = [Precision.BITMAP, Precision.ALL_HIGH, Precision.ALL_LOW][i % 3]
        if precision != Precision.BITMAP:
            high[:] = precision == Precision.ALL_HIGH
        tiles.append((mode, precision, a, w, high))
    for gap in (0.0, 0.35):
        for (mode, precision, a, w, high), (got, _) in zip(tiles, simulate_tiles(
                dut, tiles, gap=gap, seed=int(gap * 100))):
            np.testing.assert_array_equal(got, golden.matmul(a, w, high, cfg),
                                          err_msg=f"{mode} {precision} {a.shape} gap {gap}")


@pytest.mark.parametrize("cls", [DBSCArray, BitParallelArray])
def test_cycles_match_timing_model(cls):
    """Without stalls, a tile takes exactly ``ideal_cycles``: low tokens cost no slice
    cycles in DBSC (and all of them in the baseline)."""
    cfg = dbsc_config(**SMALL)
    dut = cls(cfg)
    r = np.random.default_rng(3)
    tiles = []
    for mode in (Mode.WS, Mode.OS):
        for m, k, low_share in [(1, 1, 0.0), (1, 1, 1.0), (9, 16, 0.5), (7, 16, 0.0)]:
            a, w, high = random_tile(cfg, m, k, low_share, r, order_by_precision=True)
            tiles.append((mode, Precision.BITMAP, a, w, high))
    for (mode, _, a, w, high), (got, cycles) in zip(tiles, simulate_tiles(dut, tiles)):
        np.testing.assert_array_equal(got, golden.matmul(a, w, high, cfg))
        slices = np.where(high, dut.slices_high, dut.slices_low).tolist()
        assert cycles == dut.ideal_cycles(mode, a.shape[1], slices), (mode, a.shape, high)


@pytest.mark.parametrize("mode", [Mode.WS, Mode.OS])
def test_result_latency(mode):
    """The first result comes ``ws_latency`` / ``os_latency`` cycles after the last
    activation beat, for both slice counts."""
    cfg = dbsc_config(rows=3, cols=5)
    dut = DBSCArray(cfg)
    for precision, slices in ((Precision.ALL_HIGH, cfg.slices_high),
                              (Precision.ALL_LOW, cfg.slices_low)):
        seen = {}

        async def testbench(ctx):
            ctx.set(dut.cmd.payload, Command.const({"mode": mode, "precision": precision.value,
                                                    "m": 1, "k": 1}))
            ctx.set(dut.cmd.valid, 1)
            await ctx.tick()
            ctx.set(dut.cmd.valid, 0)
            for port in (dut.act, dut.wgt):
                ctx.set(port.valid, 1)
            ctx.set(dut.res.ready, 1)
            for cycle in range(40):
                _, _, act_ready, wgt_ready, res_valid = await ctx.tick().sample(
                    dut.act.ready, dut.wgt.ready, dut.res.valid)
                if act_ready:
                    seen["act"] = cycle
                    ctx.set(dut.act.valid, 0)
                if wgt_ready:
                    ctx.set(dut.wgt.valid, 0)
                if res_valid and "res" not in seen:
                    seen["res"] = cycle

        run_simulation(dut, testbench, deadline_cycles=100)
        expect = dut.ws_latency(slices) if mode == Mode.WS else dut.os_latency(slices)
        assert seen["res"] - seen["act"] == expect


@pytest.mark.parametrize("dataflow,bad", [
    ("both", {"m": 0}), ("both", {"k": 0}), ("both", {"m": 10}), ("both", {"k": 17}),
    ("both", {"precision": 3}), ("ws", {"mode": Mode.OS}), ("os", {"mode": Mode.WS}),
])
def test_bad_command_flags_error_and_next_command_works(dataflow, bad):
    cfg = dbsc_config(**SMALL, dataflow=dataflow)
    dut = DBSCArray(cfg)
    good_mode = Mode.OS if dataflow == "os" else Mode.WS
    fields = {"mode": good_mode, "precision": Precision.ALL_HIGH.value, "m": 2, "k": 3}

    async def testbench(ctx):
        ctx.set(dut.cmd.payload, Command.const(dict(fields, **bad)))
        ctx.set(dut.cmd.valid, 1)
        for port in (dut.act, dut.wgt, dut.prec):
            ctx.set(port.valid, 1)
        _, _, ready = await ctx.tick().sample(dut.cmd.ready)
        assert ready
        ctx.set(dut.cmd.valid, 0)
        assert ctx.get(dut.done) and ctx.get(dut.error) and not ctx.get(dut.busy)
        for _ in range(20):
            assert not (ctx.get(dut.act.ready) or ctx.get(dut.wgt.ready)
                        or ctx.get(dut.prec.ready) or ctx.get(dut.res.valid))
            await ctx.tick()
            assert not ctx.get(dut.done)
        assert ctx.get(dut.error)
        for port in (dut.act, dut.wgt, dut.prec):
            ctx.set(port.valid, 0)

    run_simulation(dut, testbench, deadline_cycles=100)
    r = np.random.default_rng(0)
    a, w, high = random_tile(cfg, 2, 3, 0.0, r)
    (got, _), = simulate_tiles(dut, [(good_mode, Precision.ALL_HIGH, a, w, high)])
    np.testing.assert_array_equal(got, golden.matmul(a, w, high, cfg))


def test_error_clears_on_next_accepted_command():
    cfg = dbsc_config(**SMALL)
    dut = DBSCArray(cfg)

    async def testbench(ctx):
        for fields, error in (({"m": 0, "k": 1}, 1), ({"m": 1, "k": 1}, 0)):
            ctx.set(dut.cmd.payload, Command.const(dict(fields, mode=Mode.OS,
                                                        precision=Precision.ALL_LOW.value)))
            ctx.set(dut.cmd.valid, 1)
            await ctx.tick()
            ctx.set(dut.cmd.valid, 0)
            assert ctx.get(dut.error) == error
        assert ctx.get(dut.busy)

    run_simulation(dut, testbench, deadline_cycles=100)


def test_config_rejects_bad_fields_naming_each():
    with pytest.raises(ValueError) as info:
        dbsc_config(slice_bits=3, act_bits_low=6, dataflow="is")
    text = str(info.value)
    for name in ("dbsc.slice_bits", "dbsc.dataflow"):
        assert name in text
    with pytest.raises(ValueError, match=r"dbsc.act_bits_low=6 must be a multiple"):
        dbsc_config(act_bits_low=6)
    with pytest.raises(TypeError, match="DBSCConfig"):
        DBSCArray(ProcessorConfig())


def test_registered_blocks():
    """``dbsc`` is the configured array; ``dbsc_baseline`` has the same peak 8-bit
    throughput (a bit-parallel PE does ``slices_high`` slice-MACs per cycle)."""
    from hw import registry

    config = ProcessorConfig()
    dbsc = registry.build("dbsc", config)
    baseline = registry.build("dbsc_baseline", config)
    assert isinstance(dbsc, DBSCArray) and type(baseline) is BitParallelArray
    assert dbsc.config == config.dbsc
    assert baseline.config.cols * baseline.config.rows == config.dbsc.pes // dbsc.slices_high
    assert (baseline.slices_high, baseline.slices_low, baseline.max_shift) == (1, 1, 0)
    for component in (dbsc, baseline):
        Fragment.get(component, None)
