"""Golden model of TIPS, the text-based important-pixel selector (docs/tips.md).

Everything here is exact integer arithmetic and written independently of the hardware's
algorithm: the ratio mode sorts (a stable sort on ``-r``) where the RTL does a bitwise search
for the cut value, so agreement between the two is a real check.

Array conventions: probabilities ``A`` have shape ``(heads, pixels, tokens)`` and hold unsigned
``prob_bits``-wide codes; a token mask is a boolean array of ``tokens`` entries; a bitmap is a
boolean array of ``pixels`` entries, True = high precision.
"""

import numpy as np

__all__ = ["THRESHOLD", "RATIO", "importance", "ratio_code", "needed_high", "select_threshold",
           "select_ratio", "select", "input_beats", "bitmap_words", "mask_bits"]

#: Run-time selection modes, encoded as the hardware's ``mode`` command field.
THRESHOLD = 0
RATIO = 1


def importance(probs, token_mask) -> np.ndarray:
    """``r_i = sum over heads and masked tokens of A[h, i, t]`` (int64, one per pixel)."""
    probs = np.asarray(probs, dtype=np.int64)
    mask = np.asarray(token_mask, dtype=bool)
    if probs.ndim != 3 or mask.shape != (probs.shape[2],):
        raise ValueError(f"probs must be (heads, pixels, tokens) and the mask (tokens,); got "
                         f"{probs.shape} and {mask.shape}")
    return probs[:, :, mask].sum(axis=(0, 2))


def ratio_code(rho: float, ratio_bits: int) -> int:
    """The run-time ratio register for a fraction ``rho`` in [0, 1]: ``round(rho * 2^bits)``."""
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho={rho} must be in [0, 1]")
    return int(round(rho * (1 << ratio_bits)))


def needed_high(ratio: int, pixels: int, ratio_bits: int) -> int:
    """``ceil(ratio * pixels / 2^ratio_bits)``: the high-precision count in ratio mode."""
    return -(-(ratio * pixels) >> ratio_bits)


def select_threshold(r, tau: int) -> np.ndarray:
    """Pixel ``i`` is high precision when ``r_i >= tau``."""
    return np.asarray(r, dtype=np.int64) >= tau


def select_ratio(r, need: int) -> np.ndarray:
    """The ``need`` pixels with the largest ``r_i``, ties broken by lower pixel index."""
    r = np.asarray(r, dtype=np.int64)
    if not 0 <= need <= len(r):
        raise ValueError(f"need={need} must be in [0, {len(r)}]")
    order = np.argsort(-r, kind="stable")
    bitmap = np.zeros(len(r), dtype=bool)
    bitmap[order[:need]] = True
    return bitmap


def select(probs, token_mask, mode: int, tau: int = 0, ratio: int = 0,
           ratio_bits: int = 16) -> np.ndarray:
    """The precision bitmap of one tile, as the hardware's command ``(mode, tau, ratio)``
    computes it."""
    r = importance(probs, token_mask)
    if mode == THRESHOLD:
        return select_threshold(r, tau)
    if mode == RATIO:
        return select_ratio(r, needed_high(ratio, len(r), ratio_bits))
    raise ValueError(f"mode={mode} must be {THRESHOLD} (threshold) or {RATIO} (ratio)")


def input_beats(probs, lanes: int) -> np.ndarray:
    """The input stream of one tile, ``(pixels * beats_per_pixel, lanes)``.

    Pixel-major; within a pixel head-major then token, ``lanes`` values per beat, lane 0 first;
    each pixel starts a new beat and its last beat is zero-padded.
    """
    probs = np.asarray(probs, dtype=np.int64)
    heads, pixels, tokens = probs.shape
    per_pixel = probs.transpose(1, 0, 2).reshape(pixels, heads * tokens)
    beats = -(-heads * tokens // lanes)
    padded = np.zeros((pixels, beats * lanes), dtype=np.int64)
    padded[:, :heads * tokens] = per_pixel
    return padded.reshape(pixels * beats, lanes)


def bitmap_words(bitmap, lanes: int) -> list[int]:
    """The bitmap packed ``lanes`` pixels per word: bit ``j`` of word ``k`` is pixel
    ``k * lanes + j``; the last word's unused bits are 0."""
    bitmap = np.asarray(bitmap, dtype=bool)
    words = []
    for start in range(0, len(bitmap), lanes):
        words.append(sum(1 << j for j, bit in enumerate(bitmap[start:start + lanes]) if bit))
    return words


def mask_bits(token_mask) -> int:
    """The token-mask register: bit ``t`` set when token ``t`` counts."""
    return sum(1 << t for t, bit in enumerate(np.asarray(token_mask, dtype=bool)) if bit)
