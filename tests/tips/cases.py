"""Tile stimuli for the TIPS hardware tests, with the golden model's expected outputs.

Shared by the Amaranth-simulator tests and the cocotb testbench so that both drive the same
kinds of tiles: full-range random, all-maximum and all-zero probabilities, heavy ties, empty,
full and prompt-like token masks, both modes with thresholds on and around the importances,
ratios 0, 1 and in between, and refused commands.
"""

import numpy as np

from sw.golden import tips as golden

__all__ = ["KINDS", "make_tile", "make_error", "tile_sequence"]

KINDS = ("random", "all_max", "all_zero", "ties", "low")


def _probs(cfg, r, kind, pixels):
    top = (1 << cfg.prob_bits) - 1
    shape = (cfg.heads, pixels, cfg.tokens)
    if kind == "random":
        return r.integers(0, top + 1, shape)
    if kind == "all_max":
        return np.full(shape, top)
    if kind == "all_zero":
        return np.zeros(shape, dtype=np.int64)
    if kind == "ties":
        # Few distinct importances: whole pixels copy one of three patterns.
        patterns = r.integers(0, top + 1, (3, cfg.heads, cfg.tokens))
        return patterns[r.integers(0, 3, pixels)].transpose(1, 0, 2)
    if kind == "low":
        return r.integers(0, 2, shape)
    raise ValueError(kind)


def _mask(cfg, r, style):
    mask = np.zeros(cfg.tokens, dtype=bool)
    if style == "full":
        mask[:] = True
    elif style == "prompt":
        # Start token excluded, then the prompt's tokens, then padding excluded.
        mask[1:1 + r.integers(1, cfg.tokens + 1)] = True
    elif style == "random":
        mask[:] = r.integers(0, 2, cfg.tokens).astype(bool)
    elif style != "empty":
        raise ValueError(style)
    return mask


def make_tile(cfg, r, kind, pixels, mode, mask_style="random", ratio=None):
    """One valid tile: a dict with the command fields, mask, input beats and expected
    outputs (bitmap words, high and low counts)."""
    probs = _probs(cfg, r, kind, pixels)
    mask = _mask(cfg, r, mask_style)
    importance = golden.importance(probs, mask)
    limit = 1 << cfg.importance_bits
    if mode == golden.THRESHOLD:
        # On an existing importance (ties at the threshold), or the extremes 0 and above max.
        tau = int(r.choice([int(importance[r.integers(pixels)]),
                            int(importance[r.integers(pixels)]) + 1, 0, limit - 1]))
        ratio = 0
    else:
        tau = 0
        if ratio is None:
            ratio = int(r.choice([0, cfg.ratio_one, int(r.integers(0, cfg.ratio_one + 1)),
                                  golden.ratio_code(0.448, cfg.ratio_bits)]))
    bitmap = golden.select(probs, mask, mode, tau=tau, ratio=ratio, ratio_bits=cfg.ratio_bits)
    return {
        "kind": kind, "mode": mode, "pixels": pixels, "tau": tau, "ratio": ratio,
        "mask": golden.mask_bits(mask),
        "beats": [[int(v) for v in beat] for beat in golden.input_beats(probs, cfg.lanes)],
        "words": golden.bitmap_words(bitmap, cfg.lanes),
        "high": int(bitmap.sum()), "low": int(pixels - bitmap.sum()), "error": False,
    }


def make_error(cfg, r, reason):
    """A command the hardware must refuse, without data."""
    mode, pixels, ratio = golden.THRESHOLD, 1 + int(r.integers(cfg.max_pixels)), 0
    if reason == "zero_pixels":
        pixels = 0
    elif reason == "too_many_pixels":
        pixels = cfg.max_pixels + 1 + int(r.integers((1 << cfg.max_pixels.bit_length())
                                                     - cfg.max_pixels - 1))
    elif reason == "ratio_above_one":
        mode = golden.RATIO
        ratio = cfg.ratio_one + 1 + int(r.integers(cfg.ratio_one - 1))
    else:
        raise ValueError(reason)
    return {"kind": reason, "mode": mode, "pixels": pixels, "tau": 0, "ratio": ratio,
            "mask": int(r.integers(1 << min(cfg.tokens, 62))), "beats": [], "words": [],
            "high": 0, "low": 0, "error": True}


def tile_sequence(cfg, seed, small_pixels, full_tiles=1):
    """A run's worth of tiles: every kind in both modes on small tiles (pixel counts that are
    and are not multiples of ``lanes``), ``full_tiles`` tiles of ``max_pixels``, and each
    refusable command followed by a valid tile."""
    r = np.random.default_rng(seed)
    tiles = []
    masks = ("random", "prompt", "full", "empty")
    for i, kind in enumerate(KINDS):
        for mode in (golden.RATIO, golden.THRESHOLD):
            pixels = int(r.integers(1, small_pixels + 1))
            tiles.append(make_tile(cfg, r, kind, pixels, mode, masks[(i + mode) % len(masks)]))
    tiles.append(make_tile(cfg, r, "ties", 1, golden.RATIO, "full", ratio=cfg.ratio_one))
    tiles.append(make_tile(cfg, r, "random", small_pixels, golden.RATIO, "prompt", ratio=0))
    tiles.append(make_tile(cfg, r, "random", cfg.lanes + 1, golden.RATIO, "prompt", ratio=1))
    reasons = ["zero_pixels", "ratio_above_one"]
    if (1 << cfg.max_pixels.bit_length()) - 1 > cfg.max_pixels:
        reasons.append("too_many_pixels")
    for reason in reasons:
        tiles.append(make_error(cfg, r, reason))
        tiles.append(make_tile(cfg, r, "random", int(r.integers(1, small_pixels + 1)),
                               golden.RATIO, "random"))
    for _ in range(full_tiles):
        tiles.append(make_tile(cfg, r, "random", cfg.max_pixels, golden.RATIO, "prompt",
                               ratio=golden.ratio_code(0.448, cfg.ratio_bits)))
    return tiles
