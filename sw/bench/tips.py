"""TIPS benchmark: low-precision share, FFN error of the selection, and RTL throughput.

Figures (``sdproc bench --only tips`` -> ``build/bench/tips.json``):

* ``low_precision_share_ratio`` / ``_threshold``: the share of FFN work (tokens weighted by FFN
  MACs over the U-Net's four resolutions) that TIPS leaves at low precision, on the structured
  cross-attention proxy of :mod:`sw.data.attention` (golden model). Ratio mode keeps
  ``1 - 0.448`` of each tile high (the paper's 44.8 % low); threshold mode uses ``tau`` =
  ``ceil(THRESHOLD_FRACTION * heads * (2^prob_bits - 1))``: a pixel stays high when, averaged
  over heads, at least that fraction of its attention goes to the prompt's tokens.
* ``ffn_error_tips`` / ``_random`` / ``_all_low``: relative MSE of the first GEGLU linear layer
  (C -> 8C, 64 x 64 latent) computed by the DBSC golden model with TIPS's ratio-mode selection,
  a random selection of the same size, and every token low, against every token high.
* ``scores_per_cycle_*``: probabilities consumed per clock cycle, counted in an Amaranth
  simulation of the RTL on one tile (at most ``RTL_TILE_PIXELS`` pixels) of the same data;
  ``model_scores_per_cycle_max_pixels_tile_*`` the same for a ``max_pixels`` tile from the
  latency formula :meth:`hw.tips.TIPS.tile_cycles` (a model, checked against the RTL by the
  tests).

These are proxies: the attention and latent features come from a photograph, not from Stable
Diffusion, so they say nothing about image quality (see docs/tips.md).
"""

import numpy as np
from amaranth.lib import data

from hw.tips import TIPS, Mode, command_layout, tile_cycles
from sw.data.attention import cross_attention, latent_features
from sw.flows.amsim import run_simulation, stream_put
from sw.golden import dbsc as dbsc_golden
from sw.golden import tips as golden

__all__ = ["PAPER_LOW_SHARE", "THRESHOLD_FRACTION", "PROMPT_TOKENS", "LEVELS", "RTL_TILE_PIXELS",
           "run"]

#: The paper's share of FFN work at low precision.
PAPER_LOW_SHARE = 0.448
#: Threshold mode: the head-averaged share of attention on prompt tokens that keeps a pixel high.
THRESHOLD_FRACTION = 0.5
#: The prompt's tokens: the start token (0) and the padding after them do not count.
PROMPT_TOKENS = range(1, 9)
#: U-Net resolutions: (latent side, channels C, transformer blocks). Stable Diffusion v1.x.
LEVELS = ((64, 320, 5), (32, 640, 5), (16, 1280, 5), (8, 1280, 1))
#: GEGLU FFN MACs per token: C -> 8C (value and gate halves), then 4C -> C.
FFN_MACS_PER_CHANNEL_SQUARED = 8 + 4
#: Largest tile simulated on the RTL.
RTL_TILE_PIXELS = 256
#: Seeds of the proxy data, the FFN weights and the random selection.
DATA_SEED, WEIGHT_SEED, RANDOM_SEED = 0, 1, 2


def _mask(tokens):
    mask = np.zeros(tokens, dtype=bool)
    mask[[t for t in PROMPT_TOKENS if t < tokens]] = True
    return mask


def _attention(cfg, size, channels):
    return cross_attention(size=size, heads=cfg.heads, tokens=cfg.tokens,
                           prompt_tokens=[t for t in PROMPT_TOKENS if t < cfg.tokens],
                           prob_bits=cfg.prob_bits, image="astronaut", seed=DATA_SEED,
                           channels=channels, head_dim=channels // cfg.heads)


def _tiled(r, cfg, choose):
    """The bitmap the hardware produces when the image is split into raster-order tiles of
    ``max_pixels`` pixels, each selected on its own."""
    return np.concatenate([choose(r[start:start + cfg.max_pixels])
                           for start in range(0, len(r), cfg.max_pixels)])


def _ratio_code(cfg):
    return golden.ratio_code(1.0 - PAPER_LOW_SHARE, cfg.ratio_bits)


def _tau(cfg):
    return int(np.ceil(THRESHOLD_FRACTION * cfg.heads * ((1 << cfg.prob_bits) - 1)))


def _selections(cfg, importance):
    ratio = _ratio_code(cfg)
    by_ratio = _tiled(importance, cfg, lambda r: golden.select_ratio(
        r, golden.needed_high(ratio, len(r), cfg.ratio_bits)))
    by_threshold = golden.select_threshold(importance, _tau(cfg))
    return by_ratio, by_threshold


def _low_shares(cfg):
    mask = _mask(cfg.tokens)
    work = {"ratio": 0.0, "threshold": 0.0}
    total = 0.0
    per_level = {}
    first = None
    for size, channels, blocks in LEVELS:
        probs = _attention(cfg, size, channels)
        importance = golden.importance(probs, mask)
        by_ratio, by_threshold = _selections(cfg, importance)
        macs_per_token = blocks * FFN_MACS_PER_CHANNEL_SQUARED * channels ** 2
        for name, bitmap in (("ratio", by_ratio), ("threshold", by_threshold)):
            work[name] += macs_per_token * np.count_nonzero(~bitmap)
        total += macs_per_token * len(importance)
        per_level[f"{size}x{size}"] = {"ratio": round(float(np.mean(~by_ratio)), 4),
                                       "threshold": round(float(np.mean(~by_threshold)), 4)}
        if first is None:
            first = (probs, importance, by_ratio)
    shares = {name: round(value / total, 4) for name, value in work.items()}
    return shares, per_level, first


def _ffn_errors(config, selected_high):
    """Relative MSE of the C -> 8C layer for three selections of the same 64 x 64 latent."""
    dbsc = config.dbsc
    size, channels, _ = LEVELS[0]
    features = latent_features(size, channels, image="astronaut", seed=DATA_SEED)
    top = (1 << (dbsc.act_bits_high - 1)) - 1
    # Symmetric per-tensor scale: the largest magnitude maps to the largest code.
    scale = np.abs(features).max() / top
    acts = np.clip(np.rint(features / scale), -top - 1, top).astype(np.int64)
    w_top = (1 << (dbsc.weight_bits - 1)) - 1
    weights = np.random.default_rng(WEIGHT_SEED).integers(-w_top - 1, w_top + 1,
                                                          (channels, 8 * channels))
    tokens = len(acts)
    # Each output row depends only on its own token's precision, so two products give the
    # mixed-precision output of any selection row by row.
    all_high = dbsc_golden.matmul(acts, weights, np.ones(tokens, dtype=bool), dbsc)
    all_low = dbsc_golden.matmul(acts, weights, np.zeros(tokens, dtype=bool), dbsc)
    reference = float(np.sum(all_high.astype(np.float64) ** 2))

    def error(high):
        mixed = np.where(high[:, None], all_high, all_low)
        return float(np.sum((mixed - all_high).astype(np.float64) ** 2)) / reference

    random_high = np.zeros(tokens, dtype=bool)
    shuffled = np.random.default_rng(RANDOM_SEED).permutation(tokens)
    random_high[shuffled[:np.count_nonzero(selected_high)]] = True
    return {
        "ffn_error_tips": error(selected_high),
        "ffn_error_random": error(random_high),
        "ffn_error_all_low": error(np.zeros(tokens, dtype=bool)),
        "ffn_activation_scale": float(scale),
    }


def _rtl_tile(config, probs, mask, mode, tau, ratio):
    """Simulate one tile on the RTL; return (accumulation cycles, tile cycles, bitmap words)."""
    cfg = config.tips
    dut = TIPS(config)
    cmd_layout = command_layout(cfg)
    probs_layout = data.ArrayLayout(cfg.prob_bits, cfg.lanes)
    beats = [probs_layout.const([int(v) for v in beat])
             for beat in golden.input_beats(probs, cfg.lanes)]
    pixels = probs.shape[1]
    counts = {}
    words = []

    async def tb(ctx):
        ctx.set(dut.bitmap.ready, 1)
        ctx.set(dut.token_mask, golden.mask_bits(mask))
        await stream_put(ctx, dut.cmd, cmd_layout.const(
            {"mode": Mode(mode), "pixels": pixels, "tau": tau, "ratio": ratio}))
        cycles = 0
        sent = 0
        while True:
            if sent < len(beats):
                ctx.set(dut.probs.payload, beats[sent])
            ctx.set(dut.probs.valid, sent < len(beats))
            _, _, ready, bm_valid, bm_payload = await ctx.tick().sample(
                dut.probs.ready, dut.bitmap.valid, dut.bitmap.payload)
            cycles += 1
            if ready and sent < len(beats):
                sent += 1
                if sent == len(beats):
                    counts["accumulate"] = cycles
            if bm_valid:
                words.append(bm_payload)
            # Counted as tile_cycles counts: clock edges until status.valid is high.
            if ctx.get(dut.status.valid):
                break
        counts["tile"] = cycles

    run_simulation(dut, tb, deadline_cycles=10 * dut.tile_cycles(Mode.RATIO, pixels) + 100)
    return counts["accumulate"], counts["tile"], words


def run(config) -> dict:
    cfg = config.tips
    shares, per_level, (probs, importance, by_ratio) = _low_shares(cfg)
    results = {
        "low_precision_share_ratio": shares["ratio"],
        "low_precision_share_threshold": shares["threshold"],
        "low_precision_share_per_level": per_level,
        "ratio_code": _ratio_code(cfg),
        "tau": _tau(cfg),
        "tile_pixels": cfg.max_pixels,
    }
    results.update(_ffn_errors(config, by_ratio))

    # One tile of real data through the RTL, in both modes; capped so that the paper preset's
    # 4096-pixel tiles do not take minutes in the Python simulator (tile_cycles models those).
    pixels = min(cfg.max_pixels, probs.shape[1], RTL_TILE_PIXELS)
    tile = probs[:, :pixels, :]
    mask = _mask(cfg.tokens)
    values = pixels * cfg.values_per_pixel
    for name, mode, tau, ratio in (("threshold", golden.THRESHOLD, _tau(cfg), 0),
                                   ("ratio", golden.RATIO, 0, _ratio_code(cfg))):
        accumulate, total, words = _rtl_tile(config, tile, mask, mode, tau, ratio)
        expected = golden.select(tile, mask, mode, tau=tau, ratio=ratio,
                                 ratio_bits=cfg.ratio_bits)
        results[f"rtl_matches_golden_{name}"] = words == golden.bitmap_words(expected,
                                                                             cfg.lanes)
        results[f"scores_per_cycle_tile_{name}"] = round(values / total, 3)
        results["scores_per_cycle_accumulation"] = round(values / accumulate, 3)
    results["rtl_tile_pixels"] = pixels
    full = cfg.max_pixels * cfg.values_per_pixel
    for name, mode in (("threshold", Mode.THRESHOLD), ("ratio", Mode.RATIO)):
        results[f"model_scores_per_cycle_max_pixels_tile_{name}"] = round(
            full / tile_cycles(cfg, mode, cfg.max_pixels), 3)
    return results
