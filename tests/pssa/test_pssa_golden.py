"""Property-based tests of the golden codec: decode(encode(prune(S))) == prune(S) for every
input, the stream length formula, and rejection of malformed streams."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sw.config import ProcessorConfig
from sw.golden import pssa as golden

CONFIGS = [
    ProcessorConfig(),
    ProcessorConfig().replace(**{"pssa.lanes": 5, "pssa.score_bits": 6,
                                 "pssa.signed_scores": True, "pssa.patch_h": 1,
                                 "pssa.patch_w": 3, "ema.data_width": 32}),
    ProcessorConfig().replace(**{"pssa.lanes": 1, "pssa.score_bits": 2, "pssa.patch_h": 1,
                                 "pssa.patch_w": 1, "ema.data_width": 128}),
]


def _range(cfg):
    bits = cfg.pssa.score_bits
    return ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if cfg.pssa.signed_scores
            else (0, (1 << bits) - 1))


@st.composite
def tiles(draw):
    cfg = draw(st.sampled_from(CONFIGS))
    lo, hi = _range(cfg)
    rows = draw(st.integers(1, 20))
    keys = draw(st.integers(1, 3 * cfg.pssa.lanes + 2))
    kind = draw(st.sampled_from(["random", "min", "max", "sparse", "rows-alike"]))
    if kind == "random":
        scores = draw(hnp.arrays(np.int64, (rows, keys), elements=st.integers(lo, hi)))
    elif kind in ("min", "max"):
        scores = np.full((rows, keys), lo if kind == "min" else hi, dtype=np.int64)
    else:
        base = draw(hnp.arrays(np.int64, (1, keys), elements=st.integers(lo, hi)))
        noise = draw(hnp.arrays(np.bool_, (rows, keys)))
        scores = np.where(noise & (kind == "sparse"), lo, np.repeat(base, rows, axis=0))
    threshold = draw(st.one_of(st.sampled_from([lo, lo + 1, hi]), st.integers(lo, hi)))
    policy = draw(st.sampled_from([golden.CHAIN, golden.ANCHOR]))
    return cfg, scores, threshold, policy


@settings(max_examples=300, deadline=None)
@given(tiles())
def test_roundtrip_is_exact(tile):
    cfg, scores, threshold, policy = tile
    encoded = golden.encode(scores, threshold, policy, cfg)
    pruned = golden.prune(scores, threshold)
    assert (golden.decode(encoded.words, *scores.shape, policy, cfg) == pruned).all()
    # Pruning is idempotent, so encoding the pruned tile gives the same stream when
    # pruned-away scores cannot pass the threshold (threshold above zero).
    if threshold > 0:
        assert golden.encode(pruned, threshold, policy, cfg).words == encoded.words
    p = cfg.pssa
    assert encoded.bits == golden.encoded_bits(scores, threshold, policy, p.lanes,
                                               p.score_bits, p.patch_rows)
    assert encoded.kept == int((scores >= threshold).sum())
    assert len(encoded.words) == -(-encoded.bits // cfg.ema.data_width)
    assert encoded.to_bytes() == b"".join(
        w.to_bytes(cfg.ema.data_width // 8, "little") for w in encoded.words)


@settings(max_examples=150, deadline=None)
@given(tiles(), st.data())
def test_malformed_streams_raise_or_decode_within_the_tile(tile, data):
    cfg, scores, threshold, policy = tile
    words = list(golden.encode(scores, threshold, policy, cfg).words)
    width = cfg.ema.data_width
    mutation = data.draw(st.sampled_from(["truncate", "extra", "flip"]))
    if mutation == "truncate" and words:
        words = words[:-1]
        expect = "truncated"
    elif mutation == "extra":
        words = words + [data.draw(st.integers(0, (1 << width) - 1))]
        expect = "length"
    else:
        if not words:
            return
        bit = data.draw(st.integers(0, len(words) * width - 1))
        words[bit // width] ^= 1 << (bit % width)
        expect = None
    beats, reason = golden.decode_prefix(words, *scores.shape, policy, cfg)
    total = scores.shape[0] * -(-scores.shape[1] // cfg.pssa.lanes)
    if expect is not None:
        assert reason == expect
    if reason is None:
        assert len(beats) == total
    else:
        assert len(beats) < total or reason in ("length", "padding")
        with pytest.raises(golden.StreamError):
            golden.decode(words, *scores.shape, policy, cfg)


def test_bitmap_past_the_row_is_rejected():
    cfg = CONFIGS[0]
    lanes = cfg.pssa.lanes
    words = golden.encode(np.full((1, lanes), 255), 1, golden.CHAIN, cfg).words
    with pytest.raises(golden.StreamError, match="bad_lane"):
        golden.decode(words, 1, lanes - 1, golden.CHAIN, cfg)


def test_bad_command_is_rejected():
    with pytest.raises(golden.StreamError, match="command"):
        golden.decode([], 0, 8, golden.CHAIN, CONFIGS[0])


@pytest.mark.parametrize("height,width,ph,pw", [(4, 4, 2, 2), (6, 9, 3, 3), (8, 8, 4, 4),
                                                (2, 6, 1, 3)])
def test_patch_order_is_a_permutation_of_neighbours(height, width, ph, pw):
    order = golden.patch_order(height, width, ph, pw)
    assert sorted(order) == list(range(height * width))
    ys, xs = np.divmod(order, width)
    for start in range(0, len(order), ph * pw):
        patch_y, patch_x = ys[start:start + ph * pw], xs[start:start + ph * pw]
        assert patch_y.max() - patch_y.min() == ph - 1
        assert patch_x.max() - patch_x.min() == pw - 1
        steps = np.abs(np.diff(patch_y)) + np.abs(np.diff(patch_x))
        assert (steps == 1).all()  # every row's predecessor is a 4-neighbour


def test_patch_order_rejects_untiled_grid():
    with pytest.raises(ValueError, match="not tiled"):
        golden.patch_order(6, 6, 4, 4)


def test_known_stream():
    """A hand-worked example from docs/formats/pssa.md: two rows of one beat, in header-ahead
    order H0 H1 P0 P1."""
    cfg = ProcessorConfig().replace(**{"pssa.lanes": 4, "pssa.patch_h": 1, "pssa.patch_w": 2,
                                       "pssa.max_keys": 8, "ema.data_width": 32})
    scores = np.array([[9, 0, 7, 0], [9, 0, 7, 0]])
    encoded = golden.encode(scores, 5, golden.CHAIN, cfg)
    # H0: flag 1, XOR 0b0101 (5 bits); H1: flag 0 (1 bit); P0: 9, 7; P1: 9, 7.
    stream = 1 | 0b0101 << 1 | 0 << 5 | 9 << 6 | 7 << 14 | 9 << 22 | 7 << 30
    assert encoded.bits == 38
    assert encoded.words == (stream & 0xFFFFFFFF, stream >> 32)


def test_known_stream_rows_of_three_beats():
    """Headers run one beat ahead across row ends: H0 H1 P0 H2 P1 H3 P2 H4 P3 H5 P4 P5."""
    cfg = ProcessorConfig().replace(**{"pssa.lanes": 2, "pssa.score_bits": 4,
                                       "pssa.patch_h": 1, "pssa.patch_w": 2,
                                       "pssa.max_keys": 6, "ema.data_width": 64})
    scores = np.array([[3, 9, 0, 0, 12, 1], [3, 9, 5, 0, 12, 1]])
    encoded = golden.encode(scores, 2, golden.CHAIN, cfg)
    # (header, header bits, payload, payload bits) per beat; row 1 beats 0 and 2 repeat
    # row 0's bitmaps (flag 0), beat 1 differs in lane 0.
    beats = [(0b111, 3, 3 | 9 << 4, 8), (0b0, 1, 0, 0), (0b011, 3, 12, 4),
             (0b0, 1, 3 | 9 << 4, 8), (0b011, 3, 5, 4), (0b0, 1, 12, 4)]
    order = [beats[0][:2]]
    for i, (_, _, payload, size) in enumerate(beats):
        if i + 1 < len(beats):
            order.append(beats[i + 1][:2])
        order.append((payload, size))
    stream, length = 0, 0
    for value, size in order:
        stream |= value << length
        length += size
    assert encoded.bits == length == 12 + 28
    assert encoded.words == (stream,)
    assert (golden.decode(encoded.words, 2, 6, golden.CHAIN, cfg) ==
            golden.prune(scores, 2)).all()


CASES = [(cfg, policy) for cfg in CONFIGS for policy in (golden.CHAIN, golden.ANCHOR)]


@pytest.mark.parametrize("cfg,policy", CASES)
@pytest.mark.parametrize("rows,keys", [(1, 1), (1, None), (9, 1), (7, None), (12, "3L+1")])
def test_roundtrip_full_range_and_extremes(cfg, policy, rows, keys):
    """Random full-range scores and all-minimum / all-maximum tiles, for a tile of one beat,
    rows of one beat and rows of several beats, under both policies and several thresholds."""
    lanes = cfg.pssa.lanes
    keys = {None: lanes, "3L+1": 3 * lanes + 1}.get(keys, keys)
    lo, hi = _range(cfg)
    rng = np.random.default_rng(rows * 1000 + keys)
    tiles = [rng.integers(lo, hi + 1, size=(rows, keys)),
             np.full((rows, keys), lo), np.full((rows, keys), hi)]
    for scores in tiles:
        for threshold in (lo, lo + 1, (lo + hi) // 2, hi):
            encoded = golden.encode(scores, threshold, policy, cfg)
            decoded = golden.decode(encoded.words, rows, keys, policy, cfg)
            assert (decoded == golden.prune(scores, threshold)).all()
            p = cfg.pssa
            assert encoded.bits == golden.encoded_bits(scores, threshold, policy, p.lanes,
                                                       p.score_bits, p.patch_rows)


def test_bad_header_stops_before_the_previous_payload():
    """H1 marks a padding lane: P0 comes after it in the stream, so no beat is delivered."""
    cfg = CONFIGS[0]
    lanes = cfg.pssa.lanes
    words = golden.encode(np.full((1, 2 * lanes), 255), 1, golden.CHAIN, cfg).words
    assert golden.decode_prefix(words, 1, lanes + 1, golden.CHAIN, cfg) == ([], "bad_lane")
    # Three beats: H2 is bad, so only beat 0 is delivered.
    words = golden.encode(np.full((1, 3 * lanes), 255), 1, golden.CHAIN, cfg).words
    beats, reason = golden.decode_prefix(words, 1, 2 * lanes + 1, golden.CHAIN, cfg)
    assert (beats, reason) == ([[255] * lanes], "bad_lane")


def _field_ends(scores, threshold, policy, cfg):
    """Where each header and payload ends in header-ahead order, from :func:`code_beat`
    directly: ``(header_ends, payload_ends)``, indexed by beat."""
    lanes, bits, rows = cfg.pssa.lanes, cfg.pssa.score_bits, cfg.pssa.patch_rows
    mask = golden.kept_mask(scores, threshold)
    xor = golden._beats(mask ^ golden.reference_masks(mask, policy, rows), lanes)
    kept = golden._beats(mask, lanes).sum(axis=2).ravel()
    header = np.where(xor.any(axis=2).ravel(), 1 + lanes, 1)
    n = len(header)
    header_ends, payload_ends, pos = [0] * n, [0] * n, int(header[0])
    header_ends[0] = pos
    for i in range(n):
        if i + 1 < n:
            pos += int(header[i + 1])
            header_ends[i + 1] = pos
        pos += int(kept[i]) * bits
        payload_ends[i] = pos
    return header_ends, payload_ends


def test_truncation_points():
    """A tile cut after ``k`` words delivers exactly the beats whose payload ends within them
    (an incomplete ``H(i+1)`` stops before ``P(i)``), and the cuts fall inside headers as
    well as payloads."""
    cfg = CONFIGS[1]
    width = cfg.ema.data_width
    rng = np.random.default_rng(5)
    lo, hi = _range(cfg)
    inside_header = 0
    for _ in range(20):
        scores = rng.integers(lo, hi + 1, size=(int(rng.integers(1, 8)), 12))
        threshold = int(rng.integers(lo, hi + 1))
        policy = int(rng.integers(2))
        encoded = golden.encode(scores, threshold, policy, cfg)
        header_ends, payload_ends = _field_ends(scores, threshold, policy, cfg)
        assert payload_ends[-1] == encoded.bits
        for words in range(len(encoded.words)):
            cut = words * width
            beats, reason = golden.decode_prefix(encoded.words[:words], *scores.shape,
                                                 policy, cfg)
            assert reason == "truncated"
            assert len(beats) == sum(end <= cut for end in payload_ends)
            inside_header += any(end - (1 + cfg.pssa.lanes) < cut < end
                                 for end in header_ends)
    assert inside_header
