"""Golden model of the DBSC array: exact against numpy int64 arithmetic on every value."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sw.config import ProcessorConfig
from sw.golden import dbsc as golden

CONFIGS = {
    "default": {},
    "slice2": {"dbsc.slice_bits": 2},
    "high12": {"dbsc.act_bits_high": 12, "dbsc.act_bits_low": 4},
    "slice2_high6_low2": {"dbsc.slice_bits": 2, "dbsc.act_bits_high": 6,
                          "dbsc.act_bits_low": 2, "dbsc.weight_bits": 5},
    "all_high": {"dbsc.act_bits_low": 8},
}


@pytest.fixture(params=sorted(CONFIGS))
def cfg(request):
    return ProcessorConfig().replace(**CONFIGS[request.param]).dbsc


def every_activation(cfg):
    lo, hi = golden.act_range(cfg)
    return np.arange(lo, hi + 1, dtype=np.int64)


def test_slices_reassemble_every_value(cfg):
    x = every_activation(cfg)
    s = golden.slices(x, cfg)
    assert s.shape == (x.size, cfg.slices_high)
    np.testing.assert_array_equal(golden.from_slices(s, cfg), x)
    k = cfg.slice_bits
    assert s[:, :-1].min(initial=0) >= 0 and s[:, :-1].max(initial=0) < 1 << k
    assert s[:, -1].min() == -(1 << (k - 1)) and s[:, -1].max() == (1 << (k - 1)) - 1


def test_low_precision_is_top_slices(cfg):
    x = every_activation(cfg)
    s = golden.slices(x, cfg)
    skipped = cfg.slices_high - cfg.slices_low
    top_only = golden.from_slices(np.concatenate(
        [np.zeros_like(s[:, :skipped]), s[:, skipped:]], axis=1), cfg)
    low = golden.to_low_precision(x, cfg)
    np.testing.assert_array_equal(low, top_only)
    step = 1 << (cfg.act_bits_high - cfg.act_bits_low)
    np.testing.assert_array_equal(low, np.floor(x / step).astype(np.int64) * step)
    assert np.all((x - low >= 0) & (x - low < step))


def test_matmul_every_value_pair(cfg):
    # One row per activation value, one column per weight value: every product appears.
    x = every_activation(cfg)
    lo, hi = golden.weight_range(cfg)
    w = np.arange(lo, hi + 1, dtype=np.int64)
    a = x[:, None]
    high = golden.matmul(a, w[None, :], np.ones(x.size, bool), cfg)
    np.testing.assert_array_equal(high, np.outer(x, w))
    low = golden.matmul(a, w[None, :], np.zeros(x.size, bool), cfg)
    np.testing.assert_array_equal(low, np.outer(golden.to_low_precision(x, cfg), w))


def test_matmul_mixed_rows_at_max_k(cfg):
    r = np.random.default_rng(3)
    lo, hi = golden.act_range(cfg)
    wlo, whi = golden.weight_range(cfg)
    m, k, n = 9, cfg.max_k, 5
    a = r.integers(lo, hi + 1, (m, k))
    a[0] = lo  # the largest-magnitude sum the accumulator must hold
    w = r.integers(wlo, whi + 1, (k, n))
    w[:, 0] = wlo
    high = r.random(m) < 0.5
    got = golden.matmul(a, w, high, cfg)
    expect = np.where(high[:, None], a, golden.to_low_precision(a, cfg)) @ w
    np.testing.assert_array_equal(got, expect)
    bound = 1 << (cfg.acc_bits - 1)
    assert got[0, 0] == lo * wlo * k and -bound <= got[0, 0] < bound


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(CONFIGS)), st.data())
def test_slice_properties(name, data):
    cfg = ProcessorConfig().replace(**CONFIGS[name]).dbsc
    lo, hi = golden.act_range(cfg)
    x = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=16)))
    s = golden.slices(x, cfg)
    np.testing.assert_array_equal(golden.from_slices(s, cfg), x)
    # The top slice carries the sign; clearing it leaves the unsigned low part.
    assert np.all((s[:, -1] < 0) == (x < 0))
    low_part = x - (s[:, -1] << (cfg.slice_bits * (cfg.slices_high - 1)))
    assert np.all((low_part >= 0) & (low_part < 1 << (cfg.slice_bits * (cfg.slices_high - 1))))


def test_out_of_range_rejected(cfg):
    lo, hi = golden.act_range(cfg)
    with pytest.raises(ValueError, match="activations"):
        golden.slices(np.array([hi + 1]), cfg)
    with pytest.raises(ValueError, match="activations"):
        golden.to_low_precision(np.array([lo - 1]), cfg)
    wlo, _ = golden.weight_range(cfg)
    with pytest.raises(ValueError, match="weights"):
        golden.matmul(np.zeros((1, 1), int), np.array([[wlo - 1]]), [True], cfg)
    with pytest.raises(ValueError, match="high_rows"):
        golden.matmul(np.zeros((2, 1), int), np.zeros((1, 1), int), [True], cfg)


def test_slice_counts_and_useful_macs(cfg):
    high = np.array([True, False, False, True])
    np.testing.assert_array_equal(golden.slice_counts(high, cfg),
                                  [cfg.slices_high, cfg.slices_low, cfg.slices_low,
                                   cfg.slices_high])
    assert golden.useful_slice_macs(high, 7, 3, cfg) == \
        (2 * cfg.slices_high + 2 * cfg.slices_low) * 21
