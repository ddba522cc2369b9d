"""The TIPS golden model against its definition (docs/tips.md)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw.golden import tips as golden


def _brute_force_ratio(r, need):
    # The definition: pixel i is selected iff fewer than ``need`` pixels rank before it,
    # where j ranks before i when r_j > r_i, or r_j == r_i and j < i.
    r = list(r)
    return np.array([sum(1 for j, v in enumerate(r) if v > r[i] or (v == r[i] and j < i)) < need
                     for i in range(len(r))], dtype=bool)


def test_importance_sums_heads_and_masked_tokens():
    probs = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # (heads, pixels, tokens)
    mask = np.array([True, False, True, False])
    expected = [probs[h, i, t] for h in range(2) for i in range(3) for t in (0, 2)]
    r = golden.importance(probs, mask)
    assert r.tolist() == [sum(probs[h, i, t] for h in range(2) for t in (0, 2))
                          for i in range(3)]
    assert r.sum() == sum(expected)


def test_empty_and_full_mask():
    r = np.random.default_rng(0)
    probs = r.integers(0, 256, (8, 10, 77))
    assert golden.importance(probs, np.zeros(77, bool)).tolist() == [0] * 10
    assert golden.importance(probs, np.ones(77, bool)).tolist() == probs.sum(axis=(0, 2)).tolist()


def test_all_max_fits_importance_bits():
    from sw.config import TIPSConfig
    cfg = TIPSConfig()
    probs = np.full((cfg.heads, 3, cfg.tokens), (1 << cfg.prob_bits) - 1)
    r = golden.importance(probs, np.ones(cfg.tokens, bool))
    assert int(r.max()).bit_length() == cfg.importance_bits


def test_threshold_is_inclusive():
    r = np.array([5, 7, 7, 3, 8])
    assert golden.select_threshold(r, 7).tolist() == [False, True, True, False, True]
    assert golden.select_threshold(r, 0).all()
    assert not golden.select_threshold(r, 9).any()


def test_ratio_ties_go_to_lower_index():
    r = np.array([4, 9, 4, 4, 9, 1])
    assert golden.select_ratio(r, 3).tolist() == [True, True, False, False, True, False]
    assert golden.select_ratio(r, 4).tolist() == [True, True, True, False, True, False]


def test_all_equal_importances_take_the_first_pixels():
    r = np.full(11, 42)
    for need in range(12):
        assert golden.select_ratio(r, need).tolist() == [i < need for i in range(11)]


def test_ratio_zero_and_one():
    r = np.random.default_rng(1).integers(0, 100, 37)
    assert golden.needed_high(0, 37, 16) == 0
    assert golden.needed_high(1 << 16, 37, 16) == 37
    assert not golden.select(np.zeros((1, 37, 1)), [True], golden.RATIO, ratio=0).any()
    probs = r.reshape(1, 37, 1)
    assert golden.select(probs, [True], golden.RATIO, ratio=1 << 16).all()


def test_needed_high_rounds_up():
    # 0.448 is quantized to 29360 / 2^16 = 0.44799..., so 4096 pixels give exactly 1835.
    assert golden.ratio_code(0.448, 16) == 29360
    assert golden.needed_high(29360, 4096, 16) == 1835
    assert golden.needed_high(29360, 4095, 16) == 1835  # 1834.55 rounds up
    assert golden.needed_high(1, 4096, 16) == 1  # the smallest positive ratio still picks one
    assert golden.needed_high(1 << 15, 7, 16) == 4  # ceil(3.5)
    with pytest.raises(ValueError):
        golden.ratio_code(1.5, 16)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=40), st.data())
def test_ratio_matches_definition(values, draw):
    need = draw.draw(st.integers(0, len(values)))
    r = np.array(values)
    got = golden.select_ratio(r, need)
    assert got.sum() == need
    assert got.tolist() == _brute_force_ratio(r, need).tolist()


def test_input_beats_order_and_padding():
    heads, pixels, tokens, lanes = 2, 3, 5, 4  # 10 values per pixel: 3 beats, 2 padding lanes
    probs = np.arange(heads * pixels * tokens).reshape(heads, pixels, tokens) + 1
    beats = golden.input_beats(probs, lanes)
    assert beats.shape == (pixels * 3, lanes)
    for i in range(pixels):
        flat = beats[3 * i:3 * i + 3].reshape(-1)
        assert flat[:10].tolist() == [probs[h, i, t] for h in range(heads) for t in range(tokens)]
        assert flat[10:].tolist() == [0, 0]


def test_bitmap_words_when_pixels_not_a_multiple_of_lanes():
    bitmap = np.array([1, 0, 1, 1, 0, 0, 0, 1, 1, 1], dtype=bool)
    assert golden.bitmap_words(bitmap, 4) == [0b1101, 0b1000, 0b0011]
    assert golden.bitmap_words(bitmap, 16) == [0b1110001101]


def test_mask_bits():
    assert golden.mask_bits([False, True, True, False, True]) == 0b10110


def test_bad_shapes_and_mode_rejected():
    with pytest.raises(ValueError):
        golden.importance(np.zeros((2, 3)), np.ones(3, bool))
    with pytest.raises(ValueError):
        golden.select(np.zeros((1, 2, 3)), np.ones(3, bool), mode=2)
    with pytest.raises(ValueError):
        golden.select_ratio(np.zeros(3), 4)
