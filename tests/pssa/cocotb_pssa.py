"""cocotb testbenches of the PSSA codec build (encoder and decoder side by side), run on its
emitted Verilog and compared with the golden codec bit for bit."""

import warnings

warnings.filterwarnings("error", category=DeprecationWarning)
warnings.filterwarnings("default", category=DeprecationWarning, module=r"cocotbext\.")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import cocotb  # noqa: E402
import numpy as np  # noqa: E402
from cocotb.triggers import RisingEdge  # noqa: E402

from hw.pssa import ErrorCode, Policy, PSSALayouts  # noqa: E402
from sw.flows.cocotb_lib import (StreamSink, StreamSource, config_from_env, rng,  # noqa: E402
                                 start, test_args, wait_until)
from sw.golden import pssa as golden  # noqa: E402
from tests.pssa.tiles import (extreme_tile, random_tile, score_range,  # noqa: E402
                              structured_tile)

REASON_CODES = {None: ErrorCode.NONE, "command": ErrorCode.COMMAND,
                "truncated": ErrorCode.TRUNCATED, "bad_lane": ErrorCode.BAD_LANE,
                "length": ErrorCode.LENGTH, "padding": ErrorCode.PADDING}
#: (input pause, output pause) probabilities every testbench runs under.
PAUSES = [(0.0, 0.0), (0.3, 0.5)]


class DoneMonitor:
    """Records ``error_code`` at every ``done`` pulse of one side."""

    def __init__(self, dut, side):
        self.clk = dut.clk
        self.done = getattr(dut, f"{side}__done")
        self.code = getattr(dut, f"{side}__error_code")
        self.codes = []

    async def run(self):
        while True:
            await RisingEdge(self.clk)
            if self.done.value:
                self.codes.append(int(self.code.value))


def tile_plan(cfg, r):
    """(scores, threshold, policy) tiles: structured data under both policies, random data,
    all-minimum and all-maximum tiles, keep-all and prune-all thresholds, a single row, n_keys
    not a multiple of lanes; thresholds and policies change from tile to tile."""
    p = cfg.pssa
    lo, hi = score_range(cfg)
    lanes, max_keys = p.lanes, p.max_keys
    seed = np.random.default_rng(r.getrandbits(32))
    wide = min(max_keys, 8 * lanes + 3)
    return [
        (structured_tile(cfg, 3 * p.patch_rows, wide), lo + 2, golden.CHAIN),
        (structured_tile(cfg, 2 * p.patch_rows + 1, wide), lo + 1, golden.ANCHOR),
        (random_tile(cfg, 6, min(max_keys, 2 * lanes + 1), seed), (lo + hi) // 2,
         golden.ANCHOR),
        (extreme_tile(cfg, 3, lanes, "max"), hi, golden.CHAIN),
        (extreme_tile(cfg, 4, min(max_keys, lanes + 2), "min"), lo + 1, golden.CHAIN),
        (extreme_tile(cfg, 2, 3, "min"), lo, golden.ANCHOR),
        (random_tile(cfg, 1, max_keys, seed), int(seed.integers(lo, hi + 1)), golden.CHAIN),
        (random_tile(cfg, p.patch_rows + 2, min(max_keys, lanes - 1) or 1, seed), lo,
         golden.ANCHOR),
    ]


def _beats(layouts, lanes, scores):
    rows, keys = scores.shape
    padded = np.zeros((rows, -(-keys // lanes) * lanes), dtype=np.int64)
    padded[:, :keys] = scores
    return [layouts.beat.const([int(v) for v in b]).as_bits()
            for b in padded.reshape(-1, lanes)]


def _unpack(layouts, raw_beats):
    return [[int(v) for v in layouts.beat.from_bits(raw)] for raw in raw_beats]


def _encoder_command(layouts, n_rows, n_keys, threshold, policy):
    return layouts.encoder_command.const({"n_rows": n_rows, "n_keys": n_keys,
                                          "threshold": threshold,
                                          "policy": Policy(policy)}).as_bits()


def _decoder_command(layouts, n_rows, n_keys, policy, words):
    return layouts.decoder_command.const({"n_rows": n_rows, "n_keys": n_keys,
                                          "policy": Policy(policy), "words": words}).as_bits()


def _start_monitors(dut, side, sinks):
    monitor = DoneMonitor(dut, side)
    tasks = [cocotb.start_soon(monitor.run())]
    tasks += [cocotb.start_soon(sink.run()) for sink in sinks]
    return monitor, tasks


@cocotb.test()
async def encoder_matches_golden(dut):
    """Encoder words and metadata equal the golden codec's for every tile of the plan, with
    rejected commands in between, under no and random pauses on every stream."""
    cfg = config_from_env()
    layouts = PSSALayouts(cfg)
    lanes = cfg.pssa.lanes
    r = rng()
    await start(dut)
    tiles = tile_plan(cfg, r)
    commands, beats, expected_words, expected_meta, expected_codes = [], [], [], [], []
    for index, (scores, threshold, policy) in enumerate(tiles):
        if index == 2:  # rejected commands: no words, zero metadata, no scores consumed
            for n_rows, n_keys in [(0, lanes), (1, 0)]:
                commands.append(_encoder_command(layouts, n_rows, n_keys, threshold, policy))
                expected_meta.append((0, 0, 0))
                expected_codes.append(ErrorCode.COMMAND)
        want = golden.encode(scores, threshold, policy, cfg)
        commands.append(_encoder_command(layouts, *scores.shape, threshold, policy))
        beats += _beats(layouts, lanes, scores)
        expected_words += want.words
        expected_meta.append((len(want.words), want.bits, want.kept))
        expected_codes.append(ErrorCode.NONE)
    for in_pause, out_pause in PAUSES:
        out = StreamSink(dut, "encoder__out", out_pause, r)
        meta = StreamSink(dut, "encoder__meta", out_pause, r)
        monitor, tasks = _start_monitors(dut, "encoder", [out, meta])
        cocotb.start_soon(StreamSource(dut, "encoder__cmd", in_pause, r).send(commands))
        await StreamSource(dut, "encoder__scores", in_pause, r).send(beats)
        await meta.wait_for(len(commands), timeout_cycles=20 * (len(beats) + 100))
        for _ in range(5):
            await RisingEdge(dut.clk)
        for task in tasks:
            task.cancel()
        got_meta = [layouts.metadata.from_bits(m) for m in meta.items]
        assert [(m.words, m.bits, m.kept) for m in got_meta] == expected_meta
        assert out.items == list(expected_words), f"pauses {in_pause}/{out_pause}"
        assert monitor.codes == [int(c.value) for c in expected_codes]


def corrupted_tiles(cfg, r):
    """(words, n_rows, n_keys, policy) tiles: well-formed ones and every kind of malformed one
    (truncated, extra word, key past the row, non-zero padding, bad command, random bit
    flips), each followed by a well-formed tile."""
    p = cfg.pssa
    lanes, width = p.lanes, cfg.ema.data_width
    lo, hi = score_range(cfg)
    seed = np.random.default_rng(r.getrandbits(32))
    tiles = []
    for scores, threshold, policy in tile_plan(cfg, r)[:3]:
        tiles.append((list(golden.encode(scores, threshold, policy, cfg).words),
                      *scores.shape, policy))
    good = tiles[0]
    words, n_rows, n_keys, policy = good
    tiles.append((words[:-1], n_rows, n_keys, policy))
    tiles.append(good)
    tiles.append((words + [r.getrandbits(width)], n_rows, n_keys, policy))
    full = extreme_tile(cfg, 2, lanes + 2, "max")
    tiles.append((list(golden.encode(full, hi, golden.CHAIN, cfg).words), 2, lanes + 1,
                  golden.CHAIN))
    tiles.append(good)
    bits = golden.encode(*tile_plan(cfg, r)[0], cfg).bits
    if bits % width:
        tiles.append((words[:-1] + [words[-1] | 1 << (width - 1)], n_rows, n_keys, policy))
    tiles.append(([r.getrandbits(width) for _ in range(3)], 0, n_keys, policy))
    tiles.append(good)
    for _ in range(4):
        flipped = list(words)
        bit = r.randrange(len(flipped) * width)
        flipped[bit // width] ^= 1 << (bit % width)
        tiles.append((flipped, n_rows, n_keys, policy))
        tiles.append(good)
    scores = random_tile(cfg, 5, min(p.max_keys, 3 * lanes), seed)
    tiles.append((list(golden.encode(scores, lo, golden.ANCHOR, cfg).words), 5,
                  scores.shape[1], golden.ANCHOR))
    return tiles


@cocotb.test()
async def decoder_matches_golden(dut):
    """Decoder beats and error codes equal the golden decoder's on well-formed and malformed
    tiles; after every malformed tile the next one decodes correctly; no beat past a tile."""
    cfg = config_from_env()
    layouts = PSSALayouts(cfg)
    r = rng()
    await start(dut)
    tiles = corrupted_tiles(cfg, r)
    commands, words, expected_beats, expected_codes = [], [], [], []
    for tile_words, n_rows, n_keys, policy in tiles:
        commands.append(_decoder_command(layouts, n_rows, n_keys, policy, len(tile_words)))
        words += tile_words
        beats, reason = golden.decode_prefix(tile_words, n_rows, n_keys, policy, cfg)
        expected_beats += beats
        expected_codes.append(int(REASON_CODES[reason].value))
    reasons = {code for code in expected_codes}
    assert reasons >= {int(c.value) for c in ErrorCode} - {int(ErrorCode.PADDING.value)}, \
        "the plan must exercise every error"
    for in_pause, out_pause in PAUSES:
        out = StreamSink(dut, "decoder__scores", out_pause, r)
        monitor, tasks = _start_monitors(dut, "decoder", [out])
        cocotb.start_soon(StreamSource(dut, "decoder__cmd", in_pause, r).send(commands))
        await StreamSource(dut, "decoder__inp", in_pause, r).send(words)
        await wait_until(dut.clk, lambda: len(monitor.codes) >= len(commands),
                         20 * (len(words) + len(expected_beats) + 100), "every tile's done")
        for _ in range(5):
            await RisingEdge(dut.clk)
        for task in tasks:
            task.cancel()
        assert monitor.codes == expected_codes, f"pauses {in_pause}/{out_pause}"
        assert _unpack(layouts, out.items) == expected_beats, f"pauses {in_pause}/{out_pause}"


@cocotb.test()
async def encoder_decoder_loop(dut):
    """The hardware encoder's words, moved by the testbench as DRAM would (with random
    stalls), decode in the hardware decoder to exactly the pruned scores; thresholds and
    policies change from tile to tile."""
    cfg = config_from_env()
    layouts = PSSALayouts(cfg)
    lanes = cfg.pssa.lanes
    r = rng()
    await start(dut)
    tiles = tile_plan(cfg, r)
    for in_pause, out_pause in PAUSES:
        enc_out = StreamSink(dut, "encoder__out", out_pause, r)
        enc_meta = StreamSink(dut, "encoder__meta", out_pause, r)
        dec_out = StreamSink(dut, "decoder__scores", out_pause, r)
        tasks = [cocotb.start_soon(s.run()) for s in (enc_out, enc_meta, dec_out)]
        commands = [_encoder_command(layouts, *s.shape, t, pol) for s, t, pol in tiles]
        beats = [b for s, _, _ in tiles for b in _beats(layouts, lanes, s)]
        cocotb.start_soon(StreamSource(dut, "encoder__cmd", in_pause, r).send(commands))
        cocotb.start_soon(StreamSource(dut, "encoder__scores", in_pause, r).send(beats))
        dec_cmd = StreamSource(dut, "decoder__cmd", in_pause, r)
        dec_inp = StreamSource(dut, "decoder__inp", in_pause, r)
        offset = 0
        for index, (scores, _, policy) in enumerate(tiles):
            await enc_meta.wait_for(index + 1, timeout_cycles=20 * (len(beats) + 100))
            count = layouts.metadata.from_bits(enc_meta.items[index]).words
            await wait_until(dut.clk, lambda: len(enc_out.items) >= offset + count,
                             20 * (len(beats) + 100), "the tile's words")
            await dec_cmd.send([_decoder_command(layouts, *scores.shape, policy, count)])
            await dec_inp.send(enc_out.items[offset:offset + count])
            offset += count
        total = sum(s.shape[0] * -(-s.shape[1] // lanes) for s, _, _ in tiles)
        await dec_out.wait_for(total, timeout_cycles=20 * (total + 100))
        for _ in range(5):
            await RisingEdge(dut.clk)
        for task in tasks:
            task.cancel()
        got = _unpack(layouts, dec_out.items)
        assert len(got) == total
        for scores, threshold, _ in tiles:
            rows, keys = scores.shape
            n = rows * -(-keys // lanes)
            decoded = np.array(got[:n]).reshape(rows, -1)[:, :keys]
            got = got[n:]
            assert (decoded == golden.prune(scores, threshold)).all()


@cocotb.test()
async def sustained_throughput(dut):
    """Streams one tile (``args["data"]``: structured or random) through each side without
    stalls, checks the result and writes the cycle counts to ``args["report"]`` (read by
    ``sw/bench/pssa.py``)."""
    cfg = config_from_env()
    args = test_args()
    layouts = PSSALayouts(cfg)
    lanes = cfg.pssa.lanes
    await start(dut)
    if args["data"] == "structured":
        scores = structured_tile(cfg, args["rows"], args["keys"])
    else:
        scores = random_tile(cfg, args["rows"], args["keys"], np.random.default_rng(0))
    threshold = score_range(cfg)[0] + args["threshold_offset"]
    want = golden.encode(scores, threshold, golden.CHAIN, cfg)
    beats = _beats(layouts, lanes, scores)
    cycle = [0]

    async def count():
        while True:
            await RisingEdge(dut.clk)
            cycle[0] += 1

    counter = cocotb.start_soon(count())
    out = StreamSink(dut, "encoder__out")
    meta = StreamSink(dut, "encoder__meta")
    sinks = [cocotb.start_soon(s.run()) for s in (out, meta)]
    await StreamSource(dut, "encoder__cmd").send(
        [_encoder_command(layouts, *scores.shape, threshold, golden.CHAIN)])
    begin = cycle[0]
    await StreamSource(dut, "encoder__scores").send(beats)
    encoder_cycles = cycle[0] - begin
    await meta.wait_for(1, timeout_cycles=10 * len(beats))
    assert out.items == list(want.words)

    decoded = StreamSink(dut, "decoder__scores")
    sinks.append(cocotb.start_soon(decoded.run()))
    await StreamSource(dut, "decoder__cmd").send(
        [_decoder_command(layouts, *scores.shape, golden.CHAIN, len(want.words))])
    begin = cycle[0]
    cocotb.start_soon(StreamSource(dut, "decoder__inp").send(list(want.words)))
    await decoded.wait_for(len(beats), timeout_cycles=10 * len(beats))
    decoder_cycles = cycle[0] - begin
    for task in sinks + [counter]:
        task.cancel()
    got = np.array(_unpack(layouts, decoded.items)).reshape(scores.shape[0], -1)
    assert (got[:, :scores.shape[1]] == golden.prune(scores, threshold)).all()
    Path(args["report"]).write_text(json.dumps({
        "beats": len(beats), "scores": int(scores.size), "words": len(want.words),
        "bits": want.bits, "encoder_cycles": encoder_cycles, "decoder_cycles": decoder_cycles,
    }))
