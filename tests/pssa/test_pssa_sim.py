"""Amaranth-simulator tests of the PSSA sub-units (chunk coder/parser) and a short
encoder -> decoder tile, against the golden codec."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.pssa import ChunkCoder, ChunkParser, ErrorCode, PSSADecoder, PSSAEncoder, Policy
from sw.config import ProcessorConfig, load_config
from sw.flows.amsim import run_simulation, stream_put, stream_recv, stream_send
from sw.golden import pssa as golden
from tests.pssa.tiles import (CONFIGS, config, extreme_tile, random_tile, score_range,
                              structured_tile)


#: Extra corners for the Amaranth-simulator run only: one lane with 2-bit scores on a
#: 128-bit bus (a chunk is far narrower than a word), and 16 lanes of 16-bit signed scores on
#: a 32-bit bus (a chunk is up to 273 bits, many words).
EXTRA_CONFIGS = {
    "l1-b2-w128": ["pssa.lanes=1", "pssa.score_bits=2", "pssa.patch_h=1", "pssa.patch_w=1",
                   "pssa.max_keys=16", "pssa.max_rows=32", "ema.data_width=128"],
    "l16-b16-w32": ["pssa.lanes=16", "pssa.score_bits=16", "pssa.signed_scores=true",
                    "pssa.patch_h=2", "pssa.patch_w=2", "pssa.max_keys=64", "ema.data_width=32"],
}
ALL_CONFIGS = [*CONFIGS, *EXTRA_CONFIGS]


def _config(name):
    return config(name) if name in CONFIGS else load_config(overrides=EXTRA_CONFIGS[name])


def _beats(cfg, count, rng):
    """Random beats plus all-minimum and all-maximum ones."""
    lo, hi = score_range(cfg)
    lanes = cfg.pssa.lanes
    beats = [[lo] * lanes, [hi] * lanes]
    beats += [list(rng.integers(lo, hi + 1, lanes)) for _ in range(count)]
    return beats


def _run_combinational(dut, bench):
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("config_name", ALL_CONFIGS)
def test_chunk_coder_matches_golden(config_name):
    cfg = _config(config_name)
    p = cfg.pssa
    dut = ChunkCoder(cfg)
    rng = np.random.default_rng(7)
    lo, hi = score_range(cfg)
    cases = []
    for beat in _beats(cfg, 300, rng):
        threshold = int(rng.choice([lo, hi, int(rng.integers(lo, hi + 1))]))
        cases.append((beat, int(rng.integers(0, p.lanes + 1)), threshold,
                      int(rng.integers(0, 1 << p.lanes))))

    async def bench(ctx):
        for beat, valid, threshold, reference in cases:
            # The coder takes the pruned bitmap (the encoder prunes one stage earlier).
            chunk, length, mask = golden.code_beat(beat, valid, threshold, reference,
                                                   p.score_bits)
            ctx.set(dut.scores, dut.scores.shape().const(beat))
            ctx.set(dut.mask, mask)
            ctx.set(dut.reference, reference)
            header, payload, kept = (ctx.get(dut.header), ctx.get(dut.payload),
                                     ctx.get(dut.kept))
            header_bits = 1 + p.lanes if header & 1 else 1
            # Header then payload is the golden chunk; both are zero above their lengths.
            assert header >> header_bits == 0 and payload >> (kept * p.score_bits) == 0
            assert (header | payload << header_bits, header_bits + kept * p.score_bits) == \
                (chunk, length), (beat, valid, threshold, reference)
            assert kept == bin(mask).count("1")

    _run_combinational(dut, bench)


@pytest.mark.parametrize("config_name", ALL_CONFIGS)
def test_chunk_parser_matches_golden(config_name):
    cfg = _config(config_name)
    p = cfg.pssa
    dut = ChunkParser(cfg)
    rng = np.random.default_rng(8)
    r = random.Random(8)
    width = p.lanes * p.score_bits
    cases = [(r.getrandbits(width), r.getrandbits(p.lanes)) for _ in range(400)]
    cases += [((1 << width) - 1, (1 << p.lanes) - 1), ((1 << width) - 1, 0),
              (0, (1 << p.lanes) - 1)]
    # Payloads of coded beats too, with their kept bitmaps.
    for beat in _beats(cfg, 100, rng):
        chunk, _, mask = golden.code_beat(beat, p.lanes, r.choice(beat), 0, p.score_bits)
        header_bits = 1 + p.lanes if chunk & 1 else 1
        cases.append((chunk >> header_bits, mask))

    async def bench(ctx):
        for payload, mask in cases:
            ctx.set(dut.payload, payload)
            ctx.set(dut.mask, mask)
            # A payload parses as a chunk with a clear flag against its own bitmap.
            scores, _, _, _ = golden.parse_beat(payload << 1, p.lanes, mask, p.lanes,
                                                p.score_bits, p.signed_scores)
            got = [int(v) for v in ctx.get(dut.scores)]
            assert got == scores, (hex(payload), mask)

    _run_combinational(dut, bench)


def _loop(cfg, tiles, gap):
    """Encode each tile, check words and metadata against the golden codec, decode the
    golden words and check the pruned scores."""
    encoder, decoder = PSSAEncoder(cfg), PSSADecoder(cfg)
    lanes = cfg.pssa.lanes
    enc_layouts, dec_layouts = encoder.layouts, decoder.layouts
    expected = [golden.encode(s, t, pol, cfg) for s, t, pol in tiles]

    def beats_of(scores):
        rows, keys = scores.shape
        padded = np.zeros((rows, -(-keys // lanes) * lanes), dtype=np.int64)
        padded[:, :keys] = scores
        return [enc_layouts.beat.const(list(b)) for b in padded.reshape(-1, lanes)]

    async def encode_bench(ctx):
        r = random.Random(1)
        for (scores, threshold, policy), want in zip(tiles, expected):
            await stream_put(ctx, encoder.cmd, enc_layouts.encoder_command.const({
                "n_rows": scores.shape[0], "n_keys": scores.shape[1],
                "threshold": threshold, "policy": Policy(policy)}))
            await stream_send(ctx, encoder.scores, beats_of(scores), r, gap)

    async def encode_check(ctx):
        r = random.Random(2)
        for want in expected:
            words = await stream_recv(ctx, encoder.out, len(want.words), r, gap)
            assert [int(w) for w in words] == list(want.words)
            meta, = await stream_recv(ctx, encoder.meta, 1, r, gap)
            assert (meta.words, meta.bits, meta.kept) == (len(want.words), want.bits, want.kept)
            assert not ctx.get(encoder.error)

    async def decode_bench(ctx):
        r = random.Random(3)
        for (scores, _, policy), want in zip(tiles, expected):
            await stream_put(ctx, decoder.cmd, dec_layouts.decoder_command.const({
                "n_rows": scores.shape[0], "n_keys": scores.shape[1],
                "policy": Policy(policy), "words": len(want.words)}))
            await stream_send(ctx, decoder.inp, want.words, r, gap)

    async def decode_check(ctx):
        r = random.Random(4)
        for scores, threshold, _ in tiles:
            rows, keys = scores.shape
            beats = await stream_recv(ctx, decoder.scores, rows * -(-keys // lanes), r, gap)
            got = np.array([[int(v) for v in b] for b in beats]).reshape(rows, -1)[:, :keys]
            assert (got == golden.prune(scores, threshold)).all()
            await ctx.tick().until(decoder.done)
            assert ctx.get(decoder.error_code) == ErrorCode.NONE

    run_simulation(encoder, encode_bench, encode_check, deadline_cycles=20_000)
    run_simulation(decoder, decode_bench, decode_check, deadline_cycles=20_000)


@pytest.mark.parametrize("config_name", ALL_CONFIGS)
def test_encoder_decoder_tiles(config_name):
    cfg = _config(config_name)
    rng = np.random.default_rng(3)
    lo, hi = score_range(cfg)
    lanes = cfg.pssa.lanes
    tiles = [
        (structured_tile(cfg, 24, 3 * lanes + 1), lo + 2, golden.CHAIN),
        (random_tile(cfg, 7, lanes - 1 if lanes > 1 else 1, rng), (lo + hi) // 2,
         golden.ANCHOR),
        (random_tile(cfg, 3, 2 * lanes, rng), hi, golden.CHAIN),
    ]
    _loop(cfg, tiles, gap=0.3)


@pytest.mark.parametrize("config_name", ALL_CONFIGS)
def test_header_ahead_corners(config_name):
    """The corners of the header-ahead order through both sides, with stalls on every
    stream: a tile of one beat (no header between its first header and its payload), rows of
    one beat under both policies (each reference is the previous beat's bitmap), full-range
    random and extreme tiles, and a tile of one beat whose payload is empty."""
    cfg = _config(config_name)
    rng = np.random.default_rng(11)
    lo, hi = score_range(cfg)
    lanes = cfg.pssa.lanes
    tiles = [
        (extreme_tile(cfg, 1, lanes, "max"), hi, golden.CHAIN),
        (random_tile(cfg, 9, lanes, rng), (lo + hi) // 2, golden.CHAIN),
        (random_tile(cfg, 9, lanes, rng), (lo + hi) // 2, golden.ANCHOR),
        (random_tile(cfg, 5, 2 * lanes + 1, rng), lo, golden.ANCHOR),
        (extreme_tile(cfg, 4, lanes + 1, "min"), lo + 1, golden.CHAIN),
        (extreme_tile(cfg, 1, 1, "min"), hi, golden.ANCHOR),
    ]
    _loop(cfg, tiles, gap=0.4)


@pytest.mark.parametrize("field,value,message", [
    ("pssa.max_rows", 0, "pssa.max_rows=0 must be an integer in [1, 65536]"),
    ("pssa.lanes", 65, "pssa.lanes=65 must be an integer in [1, 64]"),
    ("pssa.signed_scores", 1, "pssa.signed_scores=1 must be true or false"),
])
def test_config_rejects_bad_fields(field, value, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ProcessorConfig().replace(**{field: value})


def test_config_names_every_bad_field():
    with pytest.raises(ValueError) as info:
        ProcessorConfig().replace(**{"pssa.max_keys": 4, "pssa.lanes": 8, "pssa.max_rows": -1})
    assert "pssa.max_keys=4 must be at least pssa.lanes=8" in str(info.value)
    assert "pssa.max_rows=-1" in str(info.value)


async def _cycles_until(ctx, signal, limit=20):
    """Clock edges after the current one until ``signal`` is high, plus one: the cycle
    count from a handshake to a valid output, as ``latency`` counts it."""
    for cycles in range(1, limit):
        if ctx.get(signal):
            return cycles
        await ctx.tick()
    raise AssertionError(f"{signal!r} stayed low")


def test_encoder_latency():
    """A tile's only beat, whose payload (emitted alone at the tile's end) fills a word, makes
    that word valid ``latency`` cycles after the beat's handshake."""
    cfg = config("default")
    dut = PSSAEncoder(cfg)
    lanes, hi = cfg.pssa.lanes, score_range(cfg)[1]
    assert cfg.pssa.max_chunk_bits >= cfg.ema.data_width
    seen = {}

    async def bench(ctx):
        ctx.set(dut.out.ready, 1)
        ctx.set(dut.meta.ready, 1)
        await stream_put(ctx, dut.cmd, dut.layouts.encoder_command.const({
            "n_rows": 1, "n_keys": lanes, "threshold": 0, "policy": Policy.CHAIN}))
        ctx.set(dut.scores.valid, 1)
        ctx.set(dut.scores.payload, dut.layouts.beat.const([hi] * lanes))
        await ctx.tick().until(dut.scores.ready)
        ctx.set(dut.scores.valid, 0)
        seen["cycles"] = await _cycles_until(ctx, dut.out.valid)

    run_simulation(dut, bench, deadline_cycles=100)
    assert seen["cycles"] == dut.latency


def test_decoder_latency_and_output_stall():
    """The word that brings the buffered bits to a longest step plus a header (the second
    one here; the opening step, the first header alone, went after the first word) makes
    the first beat valid ``latency`` cycles after its handshake; with
    ``scores`` then held not ready, the pipeline fills and stops taking words without losing
    any, and the tile decodes exactly once released."""
    cfg = config("default")
    dut = PSSADecoder(cfg)
    lanes, width = cfg.pssa.lanes, cfg.ema.data_width
    scores = structured_tile(cfg, 16, 4 * lanes)
    threshold = 2
    want = golden.encode(scores, threshold, golden.CHAIN, cfg)
    assert width < cfg.pssa.max_chunk_bits + 1 + lanes <= 2 * width
    assert len(want.words) > 8
    seen = {}

    async def bench(ctx):
        await stream_put(ctx, dut.cmd, dut.layouts.decoder_command.const({
            "n_rows": scores.shape[0], "n_keys": scores.shape[1], "policy": Policy.CHAIN,
            "words": len(want.words)}))
        await stream_put(ctx, dut.inp, want.words[0])
        assert not ctx.get(dut.scores.valid)
        ctx.set(dut.inp.valid, 1)
        ctx.set(dut.inp.payload, want.words[1])
        await ctx.tick().until(dut.inp.ready)
        ctx.set(dut.inp.valid, 0)
        seen["cycles"] = await _cycles_until(ctx, dut.scores.valid)
        await stream_send(ctx, dut.inp, want.words[2:], random.Random(5), 0.2)

    async def check(ctx):
        await ctx.tick().until(dut.scores.valid)
        # Held: the decoder must stop at its buffer's capacity, then resume exactly.
        await ctx.tick().repeat(60)
        assert ctx.get(dut.busy) and ctx.get(dut.scores.valid)
        beats = await stream_recv(ctx, dut.scores, 16 * 4, random.Random(6), 0.3)
        got = np.array([[int(v) for v in b] for b in beats]).reshape(16, -1)
        assert (got == golden.prune(scores, threshold)).all()
        await ctx.tick().until(dut.done)
        assert ctx.get(dut.error_code) == ErrorCode.NONE

    run_simulation(dut, bench, check, deadline_cycles=2000)
    assert seen["cycles"] == dut.latency
