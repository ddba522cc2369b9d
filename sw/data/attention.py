"""Attention maps with real spatial structure, built from photographs shipped by scikit-image.

This is a *proxy* for Stable Diffusion's activations, not the real thing: no U-Net weights are
involved. A photograph stands in for the decoded image; each latent pixel gets a feature vector
from the 8 x 8 block of image pixels it covers (as a VAE's 8x downsampling would), mixed by a
fixed seeded random projection and a nonlinearity, plus a small 2-D positional term, then
LayerNorm. Queries, keys and values are fixed seeded projections of those features with head
dimension 40 (Stable Diffusion's 64 x 64 layers: 320 channels, 8 heads). Because keys are
correlated with queries, a pixel attends to pixels that look alike and are near, so neighbouring
query rows have similar attention rows: the structure PSSA exploits.

``sharpness`` multiplies the logits ``q . k / sqrt(head_dim)``: larger values give peakier
softmax rows (fewer large probabilities), smaller values flatter ones.

All functions are deterministic for given arguments; the feature maps are cached.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["IMAGES", "latent_features", "SelfAttention", "self_attention", "cross_attention",
           "quantize_rows"]

#: Photographs from ``skimage.data`` that may be used.
IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "cat")

#: Pixels of the image behind one latent pixel along each axis (the VAE's downsampling).
_BLOCK = 8
#: Width of the CLIP text embedding that cross-attention keys are projected from.
_TEXT_WIDTH = 768


def _photo(image: str) -> np.ndarray:
    import skimage.data

    if image not in IMAGES:
        raise ValueError(f"image={image!r} must be one of {', '.join(IMAGES)}")
    rgb = np.asarray(getattr(skimage.data, image)(), dtype=np.float64) / 255.0
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return rgb[top:top + side, left:left + side, :3]


def _positional(size: int, width: int) -> np.ndarray:
    """2-D sinusoidal position code, ``width`` columns (half for y, half for x)."""
    quarter = width // 4
    freqs = 1.0 / (size ** (np.arange(quarter) / max(quarter, 1)))
    ys, xs = np.divmod(np.arange(size * size), size)
    parts = []
    for coord in (ys, xs):
        angles = coord[:, None] * freqs[None, :] * np.pi / 2
        parts += [np.sin(angles), np.cos(angles)]
    code = np.concatenate(parts, axis=1)
    return np.pad(code, ((0, 0), (0, width - code.shape[1])))


def _layer_norm(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.sqrt((x * x).mean(axis=1, keepdims=True) + 1e-6)


@functools.lru_cache(maxsize=16)
def _features_cached(size: int, channels: int, image: str, seed: int) -> np.ndarray:
    from skimage.transform import resize

    photo = resize(_photo(image), (size * _BLOCK, size * _BLOCK), anti_aliasing=True)
    blocks = photo.reshape(size, _BLOCK, size, _BLOCK, 3).transpose(0, 2, 1, 3, 4)
    local = blocks.reshape(size * size, _BLOCK * _BLOCK * 3)
    local = local - local.mean(axis=0)
    # Context from a 3 x 3 neighbourhood of block means, like a conv stack's receptive field.
    means = np.pad(blocks.mean(axis=(2, 3)), ((1, 1), (1, 1), (0, 0)), mode="edge")
    context = np.concatenate([means[dy:dy + size, dx:dx + size].reshape(size * size, 3)
                              for dy in range(3) for dx in range(3)], axis=1)
    context = context - context.mean(axis=0)
    descriptor = np.concatenate([local / local.std(), 2.0 * context / context.std()], axis=1)
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((descriptor.shape[1], channels)) / np.sqrt(descriptor.shape[1])
    features = np.tanh(descriptor @ mix) + 0.5 * _positional(size, channels)
    features = _layer_norm(features)
    features.setflags(write=False)
    return features


def latent_features(size: int = 64, channels: int = 320, image: str = "astronaut",
                    seed: int = 0) -> np.ndarray:
    """Latent-like feature maps of a photograph.

    Returns
    -------
    numpy.ndarray
        Shape ``(size * size, channels)``, float64, read-only; row ``y * size + x`` is latent
        pixel ``(y, x)`` (raster order). Each row is LayerNorm-ed (zero mean, unit variance).
    """
    if not (isinstance(size, int) and 2 <= size <= 256):
        raise ValueError(f"size={size!r} must be an integer in [2, 256]")
    if not (isinstance(channels, int) and 4 <= channels <= 4096):
        raise ValueError(f"channels={channels!r} must be an integer in [4, 4096]")
    return _features_cached(size, channels, image, seed)


def quantize_rows(probs: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned ``bits``-wide codes, each row scaled so that its maximum is the largest code."""
    top = (1 << bits) - 1
    peak = probs.max(axis=-1, keepdims=True)
    codes = np.rint(probs / np.where(peak > 0, peak, 1.0) * top)
    return codes.astype(np.int64)


@dataclass(frozen=True)
class SelfAttention:
    """One self-attention head on a ``size x size`` latent (``N = size * size``).

    Attributes
    ----------
    probs : numpy.ndarray
        ``N x N`` float64 softmax probabilities, row = query pixel (raster order).
    scores : numpy.ndarray
        ``N x N`` int64 unsigned codes of ``probs``, per row (row maximum -> ``2^bits - 1``).
    values : numpy.ndarray
        ``N x head_dim`` float64 value vectors.
    size : int
        Latent side.
    score_bits : int
        Width of ``scores``.
    """

    probs: np.ndarray
    scores: np.ndarray
    values: np.ndarray
    size: int
    score_bits: int


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=-1, keepdims=True)
    return logits


def self_attention(size: int = 64, head_dim: int = 40, sharpness: float = 2.0,
                   score_bits: int = 8, image: str = "astronaut", seed: int = 0,
                   channels: int = 320, key_alignment: float = 0.8) -> SelfAttention:
    """One self-attention head of the feature maps of :func:`latent_features`.

    ``q = X Wq``, ``k = X Wk``, ``v = X Wv`` with seeded Gaussian projections (variance
    ``1 / channels``); ``Wk = key_alignment * Wq + sqrt(1 - key_alignment^2) * R`` so that
    similar pixels score high, as trained self-attention does. Logits are
    ``sharpness * q . k / sqrt(head_dim)``.
    """
    if not 0.0 <= key_alignment <= 1.0:
        raise ValueError(f"key_alignment={key_alignment!r} must be in [0, 1]")
    if not 1 <= score_bits <= 16:
        raise ValueError(f"score_bits={score_bits!r} must be an integer in [1, 16]")
    features = latent_features(size, channels, image, seed)
    rng = np.random.default_rng([seed, 1])
    scale = 1.0 / np.sqrt(channels)
    w_q = rng.standard_normal((channels, head_dim)) * scale
    w_r = rng.standard_normal((channels, head_dim)) * scale
    w_v = rng.standard_normal((channels, head_dim)) * scale
    w_k = key_alignment * w_q + np.sqrt(1.0 - key_alignment ** 2) * w_r
    q, k, v = features @ w_q, features @ w_k, features @ w_v
    probs = _softmax(sharpness * (q @ k.T) / np.sqrt(head_dim))
    for array in (probs, v):
        array.setflags(write=False)
    scores = quantize_rows(probs, score_bits)
    scores.setflags(write=False)
    return SelfAttention(probs=probs, scores=scores, values=v, size=size, score_bits=score_bits)


def cross_attention(size: int = 64, heads: int = 8, tokens: int = 77,
                    prompt_tokens=range(1, 9), prob_bits: int = 8, sharpness: float = 2.0,
                    image: str = "astronaut", seed: int = 0, channels: int = 320,
                    head_dim: int = 40, start_bias: float = 6.0,
                    region_radius: float = 0.12) -> np.ndarray:
    """Quantized cross-attention probabilities of latent pixels over text tokens.

    Keys come from a fixed seeded text embedding (``tokens x 768``) projected per head. Each
    prompt token is tied to one seeded image location: its key is pulled towards the mean query
    of the pixels within ``region_radius * size`` of that location, so the pixels that look like
    that region attend to the token (importance with spatial structure). Token 0 (the start
    token) gets ``start_bias`` added to its logits, as it soaks up much of the attention in
    Stable Diffusion. Tokens outside ``prompt_tokens`` (padding) keep their text-only keys.

    Returns
    -------
    numpy.ndarray
        Shape ``(heads, size * size, tokens)``, int64 codes ``round(p * (2^prob_bits - 1))``
        of the softmax over tokens (absolute, not per-row scaled, so importance sums compare
        across pixels).
    """
    prompt = sorted(set(int(t) for t in prompt_tokens))
    if any(not 0 <= t < tokens for t in prompt):
        raise ValueError(f"prompt_tokens={prompt!r} must lie in [0, {tokens - 1}]")
    if not 1 <= prob_bits <= 16:
        raise ValueError(f"prob_bits={prob_bits!r} must be an integer in [1, 16]")
    features = latent_features(size, channels, image, seed)
    n = size * size
    rng = np.random.default_rng([seed, 2])
    text = rng.standard_normal((tokens, _TEXT_WIDTH))
    anchors = rng.integers(0, size, size=(len(prompt), 2))
    ys, xs = np.divmod(np.arange(n), size)
    top = (1 << prob_bits) - 1
    out = np.empty((heads, n, tokens), dtype=np.int64)
    for head in range(heads):
        w_q = rng.standard_normal((channels, head_dim)) / np.sqrt(channels)
        w_t = rng.standard_normal((_TEXT_WIDTH, head_dim)) / np.sqrt(_TEXT_WIDTH)
        q = features @ w_q
        keys = text @ w_t
        for (ay, ax), token in zip(anchors, prompt):
            near = (ys - ay) ** 2 + (xs - ax) ** 2 <= (region_radius * size) ** 2
            region = q[near].mean(axis=0)
            region *= np.sqrt(head_dim) / (np.linalg.norm(region) + 1e-12)
            keys[token] = 0.3 * keys[token] + region
        logits = sharpness * (q @ keys.T) / np.sqrt(head_dim)
        logits[:, 0] += start_bias
        out[head] = np.rint(_softmax(logits) * top).astype(np.int64)
    out.setflags(write=False)
    return out
