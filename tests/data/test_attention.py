"""The attention data module: shapes, determinism, quantization and spatial structure."""

import numpy as np
import pytest

from sw.data.attention import (cross_attention, latent_features, quantize_rows,
                               self_attention)
from sw.golden.pssa import patch_order


def test_latent_features_shape_norm_and_determinism():
    x = latent_features(size=16, channels=64)
    assert x.shape == (256, 64) and x.dtype == np.float64
    # Float statistics of the proxy data set, not a hardware comparison: rounding tolerances
    # are the right check here (everything compared with the RTL is integer and exact).
    assert np.allclose(x.mean(axis=1), 0, atol=1e-9)
    assert np.allclose(x.std(axis=1), 1, atol=1e-3)
    assert not x.flags.writeable
    assert np.array_equal(x, latent_features(size=16, channels=64))
    assert not np.array_equal(x, latent_features(size=16, channels=64, seed=1))
    assert not np.array_equal(x, latent_features(size=16, channels=64, image="coffee"))


def test_neighbouring_pixels_have_similar_features():
    x = latent_features(size=32, channels=64)
    grid = x.reshape(32, 32, 64)
    near = (grid[:, 1:] * grid[:, :-1]).sum(axis=2).mean()
    far = (grid[:, 16:] * grid[:, :16]).sum(axis=2).mean()
    assert near > far + 10


@pytest.mark.parametrize("bad", [{"size": 1}, {"channels": 2}, {"image": "nope"}])
def test_latent_features_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        latent_features(**{"size": 8, "channels": 16, **bad})


def test_quantize_rows_maps_row_max_to_top_code():
    probs = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 0.0], [0.1, 0.0, 0.9]])
    codes = quantize_rows(probs, 8)
    assert codes.tolist() == [[255, 128, 128], [0, 0, 0], [28, 0, 255]]


def test_self_attention_probabilities_and_scores():
    a = self_attention(size=16, score_bits=8)
    assert a.probs.shape == (256, 256) and a.values.shape == (256, 40)
    assert np.allclose(a.probs.sum(axis=1), 1)  # float softmax rows; the quantized scores are exact
    assert (a.scores.max(axis=1) == 255).all() and a.scores.min() >= 0
    assert np.array_equal(a.scores, quantize_rows(a.probs, 8))
    assert np.array_equal(a.scores, self_attention(size=16).scores)


def test_sharpness_concentrates_attention():
    soft = (self_attention(size=16, sharpness=0.5).scores >= 2).mean()
    sharp = (self_attention(size=16, sharpness=4.0).scores >= 2).mean()
    assert sharp < soft


def test_rows_of_a_patch_are_more_alike_than_random_rows():
    """The structure PSSA relies on: kept bitmaps of consecutive rows in patch order differ
    in fewer places than bitmaps of random row pairs."""
    a = self_attention(size=16)
    mask = a.scores[patch_order(16, 16, 4, 4)] >= 2
    neighbour = (mask[1:] ^ mask[:-1]).mean()
    rng = np.random.default_rng(0)
    shuffled = mask[rng.permutation(len(mask))]
    random_pairs = (shuffled[1:] ^ shuffled[:-1]).mean()
    assert neighbour < 0.7 * random_pairs


def test_cross_attention_shape_range_and_spatial_importance():
    c = cross_attention(size=16, heads=2, tokens=77, prompt_tokens=range(1, 5))
    assert c.shape == (2, 256, 77)
    assert c.min() >= 0 and c.max() <= 255
    # Each row is a quantized softmax: the codes sum to about 255.
    assert np.abs(c.sum(axis=2) - 255).max() <= 77
    importance = c[:, :, 1:5].sum(axis=(0, 2)).reshape(16, 16)
    assert importance.max() > 2 * importance.min() + 1
    # Spatially smooth: neighbours closer than random pairs.
    flat = importance.ravel().astype(float)
    neighbour = np.abs(np.diff(importance, axis=1)).mean()
    rng = np.random.default_rng(0)
    random_pairs = np.abs(flat - flat[rng.permutation(flat.size)]).mean()
    assert neighbour < random_pairs


def test_cross_attention_rejects_bad_prompt():
    with pytest.raises(ValueError, match="prompt_tokens"):
        cross_attention(size=8, tokens=10, prompt_tokens=[12])
