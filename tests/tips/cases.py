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


def _tau(cfg, r, importance, style):
    if style == "at":  # an existing importance: pixels equal to tau are high
        return int(importance[r.integers(len(importance))])
    if style == "above":  # just above an existing importance: those pixels are low
        return int(min(importance[r.integers(len(importance))] + 1,
                       (1 << cfg.importance_bits) - 1))
    if style == "zero":
        return 0
    if style == "max":
        return (1 << cfg.importance_bits) - 1
    raise ValueError(style)


def make_tile(cfg, r, kind, pixels, mode, mask_style="random", ratio=None, tau_style="at"):
    """One valid tile: a dict with the command fields, mask, input beats and expected
    outputs (bitmap words, high and low counts). ``ratio=None`` picks one of 0, 1, a random
    ratio and 0.448."""
    probs = _probs(cfg, r, kind, pixels)
    mask = _mask(cfg, r, mask_style)
    importance = golden.importance(probs, mask)
    if mode == golden.THRESHOLD:
        tau = _tau(cfg, r, importance, tau_style)
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
    """A run's worth of tiles: every kind in both modes on small tiles (random pixel counts,
    mostly not multiples of ``lanes``), thresholds on, above and beyond the importances,
    ratios 0, 1, 1 / 2^ratio_bits, 0.448 and random, ``full_tiles`` tiles of ``max_pixels``,
    and each refusable command followed by a valid tile."""
    r = np.random.default_rng(seed)
    ratio, threshold = golden.RATIO, golden.THRESHOLD
    some_ratio = int(r.integers(1, cfg.ratio_one))
    paper_ratio = golden.ratio_code(0.448, cfg.ratio_bits)
    # (kind, mode, mask, ratio or tau style)
    specs = [
        ("random", ratio, "random", some_ratio),
        ("random", ratio, "prompt", paper_ratio),
        ("random", threshold, "prompt", "at"),
        ("random", threshold, "random", "above"),
        ("random", threshold, "full", "max"),
        ("all_max", ratio, "full", paper_ratio),
        ("all_max", threshold, "prompt", "at"),
        ("all_zero", ratio, "empty", some_ratio),
        ("all_zero", threshold, "full", "zero"),
        ("ties", ratio, "prompt", paper_ratio),
        ("ties", ratio, "full", some_ratio),
        ("ties", threshold, "full", "at"),
        ("ties", threshold, "empty", "above"),
        ("low", ratio, "random", paper_ratio),
        ("low", threshold, "random", "at"),
    ]
    tiles = []
    for kind, mode, mask, setting in specs:
        # Ties need enough pixels to collide.
        fewest = max(1, small_pixels // 2) if kind == "ties" else 1
        pixels = int(r.integers(fewest, small_pixels + 1))
        if mode == ratio:
            tiles.append(make_tile(cfg, r, kind, pixels, mode, mask, ratio=setting))
        else:
            tiles.append(make_tile(cfg, r, kind, pixels, mode, mask, tau_style=setting))
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
