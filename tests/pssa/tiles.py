"""Score tiles shared by the PSSA tests: random, extreme and attention-structured, with the
configs they run on."""

import math

import numpy as np

from sw.config import load_config
from sw.data.attention import self_attention
from sw.golden.pssa import patch_order

__all__ = ["CONFIGS", "config", "score_range", "random_tile", "extreme_tile",
           "structured_tile"]

#: Named configs the tests run on: the default, and a signed, narrow-bus, odd-lane one.
CONFIGS = {
    "default": [],
    "signed-l5-w32": ["pssa.signed_scores=true", "pssa.score_bits=6", "pssa.lanes=5",
                      "pssa.patch_h=2", "pssa.patch_w=3", "pssa.max_keys=40",
                      "pssa.max_rows=64", "ema.data_width=32"],
}


def config(name):
    return load_config(overrides=CONFIGS[name])


def score_range(cfg):
    bits = cfg.pssa.score_bits
    if cfg.pssa.signed_scores:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def random_tile(cfg, rows, keys, rng):
    lo, hi = score_range(cfg)
    return rng.integers(lo, hi + 1, size=(rows, keys))


def extreme_tile(cfg, rows, keys, which):
    lo, hi = score_range(cfg)
    return np.full((rows, keys), lo if which == "min" else hi, dtype=np.int64)


def structured_tile(cfg, rows, keys, sharpness=2.0):
    """Rows in patch visit order from the self-attention of a latent of about 16 x 16 (tiled
    by the config's patches), shifted into the config's score range."""
    p = cfg.pssa
    step = math.lcm(p.patch_h, p.patch_w)
    side = -(-16 // step) * step
    attention = self_attention(size=side, sharpness=sharpness, score_bits=p.score_bits)
    order = patch_order(side, side, p.patch_h, p.patch_w)
    scores = attention.scores[order][:rows, :keys]
    lo, _ = score_range(cfg)
    return scores + lo

