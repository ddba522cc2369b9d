"""Model inputs measured by running the blocks' golden models on the structured data set.

These are cheap enough to run on every ``sdproc reproduce`` (a few seconds at 64 x 64). The
golden models are bit-exact with the RTL (their cocotb tests check it), so the sizes and
shares they give are the ones the hardware would produce on the same data; they are tagged
``modeled`` because no RTL was simulated to get them. Each function returns ``None`` with a
reason when a block's golden model is not in the checkout yet.
"""

from __future__ import annotations

import math

import numpy as np

from sw.config import ProcessorConfig

__all__ = ["ASSUMPTIONS", "PSSA_ERROR_BUDGET", "PROMPT_TOKENS", "pssa_threshold",
           "pssa_compression", "tips_low_share"]

#: Largest relative squared error of the attention output ``A V`` that pruning may cause (M1);
#: the PSSA benchmark's limit, so both pick the same threshold on the same data.
PSSA_ERROR_BUDGET = 0.01
#: Prompt tokens of the structured cross-attention data (``sw.data.attention`` default).
PROMPT_TOKENS = range(1, 9)

ASSUMPTIONS = {
    "M1": f"PSSA threshold policy (as the PSSA benchmark's): the largest threshold T whose "
          f"pruning changes the attention output A V of the structured data by a relative "
          f"squared error ||A' V - A V||^2 / ||A V||^2 of at most {PSSA_ERROR_BUDGET:.0%}. "
          f"The paper does not give its threshold.",
    "M2": "TIPS policy: threshold mode with tau = the mean importance of the tile (pixels at "
          "or above the average text relevance run at high precision), token mask = the "
          "prompt tokens (no start token, no padding). The paper does not give its policy.",
    "M3": "The structured attention data of sw/data/attention.py (photograph-derived latent "
          "features, seeded projections) stands in for Stable Diffusion's activations.",
}


def _relative_error(probs, values, kept) -> float:
    full = probs @ values
    dropped = np.where(kept, 0.0, probs) @ values
    return float((dropped ** 2).sum() / (full ** 2).sum())


def pssa_threshold(scores, probs, values, budget: float = PSSA_ERROR_BUDGET) -> int:
    """Largest threshold whose pruning error stays within ``budget`` (the error grows with the
    threshold, so a bisection finds it)."""
    lo, hi = 0, int(scores.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _relative_error(probs, values, scores >= mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def pssa_compression(config: ProcessorConfig, size: int = 64,
                     budget: float = PSSA_ERROR_BUDGET, threshold: int | None = None):
    """Compressed bits per SAS entry of the PSSA golden codec on one structured head.

    Returns ``(details, None)`` or ``(None, reason)``; ``details`` has ``bits_per_entry``,
    ``threshold``, ``kept_fraction``, ``relative_error`` and ``size``.
    """
    try:
        from sw.data.attention import self_attention
        from sw.golden import pssa
    except ImportError as e:
        return None, f"PSSA golden model or data not in this checkout ({e})"
    p = config.pssa
    if size % p.patch_h or size % p.patch_w:
        return None, f"latent side {size} is not tiled by {p.patch_h} x {p.patch_w} patches"
    att = self_attention(size=size, score_bits=p.score_bits)
    order = pssa.patch_order(size, size, p.patch_h, p.patch_w)
    scores = np.asarray(att.scores)[order]
    probs = np.asarray(att.probs)[order]
    if threshold is None:
        threshold = pssa_threshold(scores, probs, att.values, budget)
    kept = scores >= threshold
    bits = pssa.encoded_bits(scores, threshold, pssa.CHAIN, p.lanes, p.score_bits,
                             p.patch_rows)
    return {"bits_per_entry": bits / scores.size, "threshold": threshold,
            "kept_fraction": float(kept.mean()),
            "relative_error": _relative_error(probs, att.values, kept), "size": size}, None


def tips_low_share(config: ProcessorConfig, size: int = 64):
    """Share of pixels the TIPS golden model puts at low precision on structured
    cross-attention. Returns ``(details, None)`` or ``(None, reason)``."""
    try:
        from sw.data.attention import cross_attention
        from sw.golden import tips
    except ImportError as e:
        return None, f"TIPS golden model or data not in this checkout ({e})"
    t = config.tips
    probs = cross_attention(size=size, heads=t.heads, tokens=t.tokens,
                            prompt_tokens=PROMPT_TOKENS, prob_bits=t.prob_bits)
    mask = np.zeros(t.tokens, dtype=bool)
    mask[list(PROMPT_TOKENS)] = True
    r = tips.importance(probs, mask)
    tau = math.ceil(float(r.mean()))
    high = tips.select_threshold(r, tau)
    return {"low_share": 1.0 - float(high.mean()), "tau": tau, "size": size}, None
