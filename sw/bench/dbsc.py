"""DBSC benchmark: cycle counts of the generated RTL in Amaranth's simulator, and synthesis of
DBSC next to the bit-parallel baseline when ``sw.flows.synth`` is available.

Figures (``.venv/bin/sdproc bench --only dbsc``):

- ``utilization_ws`` / ``utilization_os``: useful slice-MACs / (PEs x cycles), from the command
  handshake to the last result handshake (fill and drain included), a large all-high tile,
  operands always valid and results always ready.
- ``low_to_high_cycle_ratio``: cycles of the same tile all low / all high (WS and OS).
- ``mixed_cycle_ratio_44_8``: the same with 44.8 % of the tokens low (OS with the tokens
  ordered by precision, see docs/dbsc.md; WS in any order).
- ``baseline_same_size_cycles_*``: the bit-parallel baseline with the same ``rows x cols`` on
  the same tiles (twice the peak 8-bit throughput of DBSC with two slices).
- ``dbsc_*`` / ``dbsc_baseline_*``: synthesis of the two registered blocks, the baseline at
  equal peak 8-bit throughput (``cols / slices_high`` columns), via ``sw.flows.synth``.
- ``generate_seconds_paper`` (wall), ``generate_cpu_seconds_paper``,
  ``generate_peak_rss_mib_paper``: ``sdproc generate --preset paper --block dbsc`` in a child
  process (several CPU minutes).
"""

import importlib.util
import random
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from amaranth.sim import Simulator

from hw.dbsc import BitParallelArray, Command, DBSCArray, Mode, Precision
from hw.dbsc.command import act_layout, result_layout, weight_layout
from sw.flows.emit import REPO_ROOT
from sw.golden import dbsc as golden

__all__ = ["MAX_SIMULATED_PES", "SYNTH_TARGETS", "TIPS_LOW_SHARE", "simulate_tiles",
           "random_tile", "generate_paper", "run"]


def random_tile(cfg, m, k, low_share, r: np.random.Generator, order_by_precision=False):
    """Full-range random activations (m x k), weights (k x cols) and a precision map with
    ``round(low_share * m)`` low tokens, at random positions or (``order_by_precision``) high
    ones first."""
    lo, hi = golden.act_range(cfg)
    wlo, whi = golden.weight_range(cfg)
    a = r.integers(lo, hi + 1, (m, k))
    w = r.integers(wlo, whi + 1, (k, cfg.cols))
    high = np.ones(m, dtype=bool)
    low_count = int(round(low_share * m))
    if order_by_precision:
        high[m - low_count:] = False
    else:
        high[r.choice(m, low_count, replace=False)] = False
    return a, w, high


def simulate_tiles(dut, tiles, gap=0.0, seed=0, deadline_cycles=2_000_000):
    """Run ``tiles`` (``(mode, precision, a, w, high)``) back to back through ``dut`` in
    Amaranth's simulator, one cycle per Python step.

    Every stream idles with probability ``gap`` per beat (``res.ready`` too). Returns one
    ``(results, cycles)`` per tile: the result rows as an int64 array, and the cycles from the
    command handshake to the last result handshake, inclusive.
    """
    cfg = dut.config
    act_l, wgt_l, res_l = act_layout(cfg), weight_layout(cfg), result_layout(cfg)
    r = random.Random(seed)
    out = []

    def pause():
        return gap > 0 and r.random() < gap

    async def testbench(ctx):
        for mode, precision, a, w, high in tiles:
            m_tokens, k = a.shape
            prec, act, wgt = golden.stream_beats(a, w, high, mode == Mode.OS, cfg)
            if precision != Precision.BITMAP:
                prec = []
            act = [act_l.const(beat) for beat in act]
            wgt = [wgt_l.const(beat) for beat in wgt]
            command = Command.const({"mode": mode, "precision": precision.value,
                                     "m": m_tokens, "k": k})
            ctx.set(dut.cmd.payload, command)
            ctx.set(dut.cmd.valid, 1)
            while not (await ctx.tick().sample(dut.cmd.ready))[2]:
                pass
            ctx.set(dut.cmd.valid, 0)
            streams = [(dut.prec, prec), (dut.act, act), (dut.wgt, wgt)]
            sent = [0, 0, 0]
            offered = [False, False, False]
            results = []
            cycles = 0
            while len(results) < m_tokens:
                for i, (port, beats) in enumerate(streams):
                    if not offered[i] and sent[i] < len(beats) and not pause():
                        offered[i] = True
                    ctx.set(port.valid, offered[i])
                    if offered[i]:
                        ctx.set(port.payload, beats[sent[i]])
                ctx.set(dut.res.ready, not pause())
                sampled = await ctx.tick().sample(
                    dut.prec.ready, dut.act.ready, dut.wgt.ready, dut.res.valid,
                    dut.res.ready, dut.res.payload)
                readies, (res_valid, res_ready, payload) = sampled[2:5], sampled[5:]
                cycles += 1
                for i in range(3):
                    if offered[i] and readies[i]:
                        offered[i] = False
                        sent[i] += 1
                if res_valid and res_ready:
                    results.append([int(v) for v in res_l.from_bits(payload.as_value().value)])
            for port, _ in streams:
                ctx.set(port.valid, 0)
            ctx.set(dut.res.ready, 0)
            while ctx.get(dut.busy):
                await ctx.tick()
            assert sent == [len(prec), len(act), len(wgt)], "operands left over"
            out.append((np.array(results, dtype=np.int64), cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    finished = []

    async def watchdog(ctx):
        for _ in range(deadline_cycles):
            if finished:
                return
            await ctx.tick()
        raise AssertionError(f"tiles did not finish within {deadline_cycles} cycles")

    async def tracked(ctx):
        await testbench(ctx)
        finished.append(True)

    sim.add_testbench(tracked)
    sim.add_testbench(watchdog)
    sim.run()
    return out


#: Synthesis targets of the side-by-side comparison (generic gates, ECP5 LUTs without DSPs).
SYNTH_TARGETS = ("generic", "ecp5-nodsp")

#: Larger arrays (the paper preset) would take hours in Amaranth's simulator.
MAX_SIMULATED_PES = 256

#: The paper's share of FFN tokens TIPS runs at low precision.
TIPS_LOW_SHARE = 0.448


def _tile_shape(cfg):
    """A large tile the array simulates in seconds: every token slot, k a multiple of rows."""
    k = min(cfg.max_k, 8 * cfg.rows * max(1, 16 // cfg.rows))
    return cfg.max_m, k


def run(config):
    cfg = config.dbsc
    if cfg.pes > MAX_SIMULATED_PES:
        return {"skipped": f"{cfg.pes} PEs are too many to simulate cycle by cycle in "
                           f"Amaranth's simulator (at most {MAX_SIMULATED_PES}); the cycle "
                           f"formulas of docs/dbsc.md apply at any size"}
    dut = DBSCArray(cfg)
    m_tokens, k = _tile_shape(cfg)
    r = np.random.default_rng(2024)
    figures = {"tile_m": m_tokens, "tile_k": k, "tile_n": cfg.cols, "pes": cfg.pes,
               "source": "cycle counts of the generated RTL in Amaranth's simulator"}
    modes = [mode for mode, ok in ((Mode.WS, cfg.supports_ws), (Mode.OS, cfg.supports_os)) if ok]
    tiles = []
    for mode in modes:
        for low_share in (0.0, 1.0, TIPS_LOW_SHARE):
            a, w, high = random_tile(cfg, m_tokens, k, low_share, r, order_by_precision=True)
            tiles.append((mode, Precision.BITMAP, a, w, high))
    measured = simulate_tiles(dut, tiles)
    cycles = {}
    for (mode, _, a, w, high), (got, count) in zip(tiles, measured):
        if not np.array_equal(got, golden.matmul(a, w, high, cfg)):
            raise AssertionError(f"DBSC {mode.name} results differ from the golden model")
        share = round(float(1 - high.mean()), 3)
        cycles[(mode, share)] = count
        name = mode.name.lower()
        figures[f"cycles_{name}_low_share_{share}"] = count
        if share == 0.0:
            useful = golden.useful_slice_macs(high, k, cfg.cols, cfg)
            figures[f"utilization_{name}"] = round(useful / (cfg.pes * count), 4)
            figures[f"ideal_cycles_{name}"] = dut.ideal_cycles(
                mode, k, golden.slice_counts(high, cfg).tolist())
    for mode in modes:
        name = mode.name.lower()
        high_cycles = cycles[(mode, 0.0)]
        figures[f"low_to_high_cycle_ratio_{name}"] = round(cycles[(mode, 1.0)] / high_cycles, 4)
        mixed = [v for (md, share), v in cycles.items() if md == mode and 0 < share < 1]
        figures[f"mixed_cycle_ratio_44_8_{name}"] = round(mixed[0] / high_cycles, 4)
        figures[f"mixed_low_share_{name}"] = [share for (md, share) in cycles
                                              if md == mode and 0 < share < 1][0]
    first = modes[0].name.lower()
    figures["low_to_high_cycle_ratio"] = figures[f"low_to_high_cycle_ratio_{first}"]
    figures["mixed_cycle_ratio_44_8"] = figures[f"mixed_cycle_ratio_44_8_{first}"]
    figures["low_to_high_target"] = cfg.act_bits_low / cfg.act_bits_high

    # The bit-parallel baseline on the same high and low tiles: precision saves it nothing.
    baseline = BitParallelArray(cfg)
    mode = modes[0]
    base_tiles = [t for t in tiles if t[0] == mode][:2]
    for (_, _, a, w, high), (got, count) in zip(base_tiles, simulate_tiles(baseline, base_tiles)):
        if not np.array_equal(got, golden.matmul(a, w, high, cfg)):
            raise AssertionError("baseline results differ from the golden model")
        label = "high" if high.all() else "low"
        figures[f"baseline_same_size_cycles_{mode.name.lower()}_{label}"] = count
    figures.update(_synthesis(config))
    figures.update(generate_paper())
    return figures


def generate_paper(preset="paper"):
    """Wall time, CPU time and peak memory of ``sdproc generate --preset <preset> --block
    dbsc`` in a child process (the elaboration must scale to the paper-size array)."""
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "sw.cli", "generate", "--preset", preset,
                        "--block", "dbsc", "--out", out], check=True, cwd=REPO_ROOT,
                       stdout=subprocess.DEVNULL)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {f"generate_seconds_{preset}": round(wall, 1),
            f"generate_cpu_seconds_{preset}": round(cpu, 1),
            # ru_maxrss is in KiB on Linux: the largest child so far.
            f"generate_peak_rss_mib_{preset}": round(after.ru_maxrss / 1024)}


def _synthesis(config):
    """DBSC next to the registered baseline (equal peak 8-bit throughput) through
    ``sw.flows.synth``, when that flow is part of the checkout."""
    if importlib.util.find_spec("sw.flows.synth") is None:
        return {"synthesis": "sw.flows.synth not available"}
    from hw import registry
    from sw.flows.synth import synthesize

    out = {}
    for block in ("dbsc", "dbsc_baseline"):
        component = registry.build(block, config)
        cfg = component.config
        out[f"{block}_peak_8bit_macs_per_cycle"] = cfg.pes / component.slices_high
        for row in synthesize(component, block, config, SYNTH_TARGETS):
            target = row["target"]
            if row["status"] != "ok":
                out[f"{block}_{target}_status"] = row["status"]
                continue
            for key in ("cells", "transistors", "depth", "ff", "lut", "fmax_mhz"):
                if row.get(key) is not None:
                    out[f"{block}_{target}_{key}"] = row[key]
    return out
