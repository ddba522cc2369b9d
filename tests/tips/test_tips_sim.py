"""Amaranth-simulator tests of TIPS: the masked lane sum, and whole tiles against the golden
model on small configurations (fast; the cocotb tests cover the emitted Verilog)."""

import random

import numpy as np
import pytest
from amaranth.lib import data

from hw.tips import TIPS, MaskedLaneSum, Mode, command_layout
from sw.config import ProcessorConfig, load_config
from sw.flows.amsim import run_simulation, stream_put, stream_send
from sw.golden import tips as golden
from tests.tips.cases import make_tile, tile_sequence

# 10-bit importances searched 3 bits per pass (the top digit only partly used).
SMALL = {"tips.heads": 3, "tips.tokens": 10, "tips.prob_bits": 5, "tips.max_pixels": 37,
         "tips.lanes": 4, "tips.ratio_bits": 8, "tips.search_bits": 3}
# 4-bit importances searched in one pass; 3 values in 8 lanes.
ONE_BEAT = {"tips.heads": 1, "tips.tokens": 3, "tips.prob_bits": 2, "tips.max_pixels": 9,
            "tips.lanes": 8, "tips.ratio_bits": 3, "tips.search_bits": 4}


def small_config(**overrides):
    return ProcessorConfig().replace(**{**SMALL, **overrides})


@pytest.mark.parametrize("value_bits,lanes", [(8, 8), (5, 3), (2, 1)])
def test_masked_lane_sum(value_bits, lanes):
    """Random, all-maximum and all-zero beats under random, full and empty masks."""
    dut = MaskedLaneSum(value_bits, lanes)
    layout = data.ArrayLayout(value_bits, lanes)
    r = np.random.default_rng(value_bits * 100 + lanes)
    top = (1 << value_bits) - 1
    beats = [np.full(lanes, top), np.zeros(lanes, dtype=int)]
    beats += list(r.integers(0, top + 1, (200, lanes)))
    masks = [(1 << lanes) - 1, 0] + [int(x) for x in r.integers(0, 1 << lanes, len(beats) - 2)]

    async def tb(ctx):
        for beat, mask in zip(beats, masks):
            ctx.set(dut.values, layout.const([int(v) for v in beat]))
            ctx.set(dut.mask, mask)
            ctx.set(dut.en, 1)
            await ctx.tick()
            ctx.set(dut.en, 0)
            # A later beat without ``en`` must not reach the sum.
            ctx.set(dut.values, layout.const([top] * lanes))
            ctx.set(dut.mask, (1 << lanes) - 1)
            await ctx.tick().repeat(dut.latency - 1)
            expected = sum(int(v) for j, v in enumerate(beat) if mask >> j & 1)
            assert ctx.get(dut.sum) == expected
            await ctx.tick()
            assert ctx.get(dut.sum) == expected, "sum must hold while en is low"
        # Back to back: one beat per cycle, each sum ``latency`` cycles after its beat.
        sums = [sum(int(v) for j, v in enumerate(beat) if mask >> j & 1)
                for beat, mask in zip(beats, masks)]
        ctx.set(dut.en, 1)
        for cycle in range(len(beats) + dut.latency):
            if cycle < len(beats):
                ctx.set(dut.values, layout.const([int(v) for v in beats[cycle]]))
                ctx.set(dut.mask, masks[cycle])
            await ctx.tick()
            if cycle >= dut.latency - 1 and cycle - dut.latency + 1 < len(beats):
                assert ctx.get(dut.sum) == sums[cycle - dut.latency + 1]

    run_simulation(dut, tb, deadline_cycles=10 * len(beats))


def _drive(dut, cfg, tiles, in_gap, out_gap, seed, timing=None):
    """Run ``tiles`` back to back; check bitmap beats, the buffer and the status of each."""
    cmd_layout = command_layout(cfg.tips)
    probs_layout = data.ArrayLayout(cfg.tips.prob_bits, cfg.tips.lanes)
    words = cfg.tips.bitmap_words
    results = []

    async def producer(ctx):
        r = random.Random(seed)
        for index, tile in enumerate(tiles):
            # The consumer reads the whole buffer back before the next tile may overwrite it.
            while len(results) < index:
                await ctx.tick()
            ctx.set(dut.token_mask, tile["mask"])
            await stream_put(ctx, dut.cmd, cmd_layout.const(
                {"mode": Mode(tile["mode"]), "pixels": tile["pixels"], "tau": tile["tau"],
                 "ratio": tile["ratio"]}))
            ctx.set(dut.token_mask, 0)  # sampled with the command only
            await stream_send(ctx, dut.probs, [probs_layout.const(b) for b in tile["beats"]],
                              r, in_gap)

    async def consumer(ctx):
        r = random.Random(seed + 1)
        buffer_before = None
        for tile in tiles:
            got_words = []
            cycles = 0
            while True:
                ready_bitmap = int(not (out_gap and r.random() < out_gap))
                ready_status = int(not (out_gap and r.random() < out_gap))
                ctx.set(dut.bitmap.ready, ready_bitmap)
                ctx.set(dut.status.ready, ready_status)
                _, _, bm_valid, bm_payload, st_valid, st_payload = await ctx.tick().sample(
                    dut.bitmap.valid, dut.bitmap.payload, dut.status.valid, dut.status.payload)
                cycles += 1
                if bm_valid and ready_bitmap:
                    got_words.append(bm_payload)
                if st_valid and ready_status:
                    break
            ctx.set(dut.status.ready, 0)
            ctx.set(dut.bitmap.ready, 0)
            assert bool(st_payload.error) == tile["error"], tile["kind"]
            assert (st_payload.high, st_payload.low) == (tile["high"], tile["low"]), tile["kind"]
            assert (ctx.get(dut.high_count), ctx.get(dut.low_count)) == (tile["high"],
                                                                          tile["low"])
            assert ctx.get(dut.error) == tile["error"]
            assert got_words == tile["words"], f"{tile['kind']} mode {tile['mode']}"
            buffer = []
            for addr in range(words):
                ctx.set(dut.bitmap_read.addr, addr)
                await ctx.tick()
                buffer.append(ctx.get(dut.bitmap_read.data))
            if tile["error"]:
                assert buffer == buffer_before, "a refused command must not touch the buffer"
            else:
                assert buffer[:len(tile["words"])] == tile["words"]
            buffer_before = buffer
            results.append(cycles)

    run_simulation(dut, producer, consumer, deadline_cycles=200_000)
    return results


@pytest.mark.parametrize("overrides", [SMALL, ONE_BEAT], ids=["small", "one-beat"])
@pytest.mark.parametrize("in_gap,out_gap", [(0.0, 0.0), (0.4, 0.5)])
def test_tiles_match_golden(overrides, in_gap, out_gap):
    """Every tile kind, both modes, mask changes between tiles, refused commands, a full-size
    tile, with and without random input gaps and output backpressure."""
    cfg = ProcessorConfig().replace(**overrides)
    tiles = tile_sequence(cfg.tips, seed=7, small_pixels=min(cfg.tips.max_pixels, 11))
    _drive(TIPS(cfg), cfg, tiles, in_gap, out_gap, seed=11)


@pytest.mark.parametrize("mode", [golden.THRESHOLD, golden.RATIO])
def test_tile_cycles(mode):
    """With no gaps, a tile takes exactly ``tile_cycles`` from the command to its status."""
    cfg = small_config()
    dut = TIPS(cfg)
    r = np.random.default_rng(3)
    tile = make_tile(cfg.tips, r, "random", 13, mode)
    cmd_layout = command_layout(cfg.tips)
    probs_layout = data.ArrayLayout(cfg.tips.prob_bits, cfg.tips.lanes)
    measured = []

    async def tb(ctx):
        ctx.set(dut.bitmap.ready, 1)
        ctx.set(dut.probs.valid, 1)
        ctx.set(dut.probs.payload, probs_layout.const(tile["beats"][0]))
        ctx.set(dut.token_mask, tile["mask"])
        await stream_put(ctx, dut.cmd, cmd_layout.const(
            {"mode": Mode(mode), "pixels": tile["pixels"], "tau": tile["tau"],
             "ratio": tile["ratio"]}))
        cycles = 0
        sent = 0
        while not ctx.get(dut.status.valid):
            if sent < len(tile["beats"]):
                ctx.set(dut.probs.payload, probs_layout.const(tile["beats"][sent]))
            ctx.set(dut.probs.valid, sent < len(tile["beats"]))
            _, _, ready = await ctx.tick().sample(dut.probs.ready)
            if ready and sent < len(tile["beats"]):
                sent += 1
            cycles += 1
        measured.append(cycles)
        assert ctx.get(dut.status.payload.high) == tile["high"]

    run_simulation(dut, tb, deadline_cycles=10_000)
    assert measured == [dut.tile_cycles(mode, tile["pixels"])]


def test_invalid_parameters_named():
    with pytest.raises(ValueError) as info:
        load_config(overrides=["tips.lanes=0", "tips.ratio_bits=40", "tips.heads=65"])
    for field in ("tips.lanes=0", "tips.ratio_bits=40", "tips.heads=65"):
        assert field in str(info.value)
