"""Golden model of the PSSA codec: prune, patch-XOR, two-level sparse coding, bit packing.

The stream format is specified bit by bit in ``docs/formats/pssa.md``; this module is its
executable definition. ``hw/pssa`` must produce and accept exactly the words :func:`encode`
produces and :func:`decode` accepts.

Rows are given in *visit order* (:func:`patch_order` turns a raster-order score matrix into it):
each run of ``patch_rows`` consecutive rows is one patch. Each row is cut into beats of
``lanes`` keys; each beat has

* a header: 1 flag bit (is the beat's XOR bitmap non-zero), then, if the flag is set, the
  ``lanes``-bit XOR bitmap (bit ``i`` = lane ``i``);
* a payload: the kept values of the beat, in lane order, ``score_bits`` each.

The stream is in *header-ahead* order: each beat's header comes one beat early, before the
previous beat's payload, ``H0 H1 P0 H2 P1 ... H(n-1) P(n-2) P(n-1)`` over the tile's ``n``
beats (rows after rows), so that a decoder knows a payload's length one step before it reaches
it. Bits are appended least-significant first and packed into ``data_width``-bit words; the
last word is zero-padded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CHAIN", "ANCHOR", "POLICIES", "StreamError", "Encoded", "patch_order", "prune",
           "kept_mask", "reference_masks", "code_beat", "parse_beat", "encode", "decode",
           "decode_prefix", "encoded_bits", "alternative_bits", "words_to_bytes"]

CHAIN = 0
ANCHOR = 1
POLICIES = {"chain": CHAIN, "anchor": ANCHOR}


class StreamError(ValueError):
    """A malformed or truncated stream; ``reason`` is one of ``truncated``, ``bad_lane``,
    ``length``, ``padding``, ``command``."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class Encoded:
    """One encoded tile: the bus words and the metadata the decoder needs."""

    words: tuple[int, ...]
    bits: int
    kept: int
    data_width: int

    def to_bytes(self) -> bytes:
        return words_to_bytes(self.words, self.data_width)


def words_to_bytes(words, data_width: int) -> bytes:
    """Little-endian byte image of the words, as the EMA writes them to DRAM."""
    return b"".join(int(w).to_bytes(data_width // 8, "little") for w in words)


def patch_order(height: int, width: int, patch_h: int, patch_w: int) -> np.ndarray:
    """Raster indices of the query pixels in visit order.

    Patches are visited in raster order; inside a patch, rows of pixels alternate direction
    (left to right, then right to left), so every pixel's predecessor is a spatial neighbour.
    """
    if height % patch_h or width % patch_w:
        raise ValueError(f"a {height} x {width} grid is not tiled by {patch_h} x {patch_w} "
                         f"patches")
    inner = []
    for dy in range(patch_h):
        xs = range(patch_w) if dy % 2 == 0 else range(patch_w - 1, -1, -1)
        inner += [(dy, dx) for dx in xs]
    order = [(py + dy) * width + px + dx
             for py in range(0, height, patch_h) for px in range(0, width, patch_w)
             for dy, dx in inner]
    return np.asarray(order, dtype=np.int64)


def prune(scores, threshold: int) -> np.ndarray:
    """Keep ``s >= threshold``, zero the rest."""
    scores = np.asarray(scores, dtype=np.int64)
    return np.where(scores >= threshold, scores, 0)


def kept_mask(scores, threshold: int) -> np.ndarray:
    return np.asarray(scores, dtype=np.int64) >= threshold


def reference_masks(mask: np.ndarray, policy: int, patch_rows: int) -> np.ndarray:
    """The bitmap each row is XORed with: zeros for a patch's first row, else the previous row
    (chain) or the patch's first row (anchor)."""
    rows = np.arange(mask.shape[0])
    first = rows % patch_rows == 0
    ref_rows = rows - 1 if policy == CHAIN else rows - rows % patch_rows
    ref = mask[np.maximum(ref_rows, 0)].copy()
    ref[first] = False
    return ref


def _params(config):
    p = config.pssa
    return p.lanes, p.score_bits, p.signed_scores, p.patch_rows, config.ema.data_width


def _beats(mask: np.ndarray, lanes: int) -> np.ndarray:
    """``rows x beats x lanes`` view with padding lanes False."""
    rows, keys = mask.shape
    beats = -(-keys // lanes)
    padded = np.zeros((rows, beats * lanes), dtype=mask.dtype)
    padded[:, :keys] = mask
    return padded.reshape(rows, beats, lanes)


def _check_scores(scores, config):
    lanes, bits, signed, _, _ = _params(config)
    scores = np.asarray(scores, dtype=np.int64)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ValueError(f"scores must be a non-empty 2-D array, got shape {scores.shape}")
    if scores.size and (scores.min() < lo or scores.max() > hi):
        raise ValueError(f"scores must lie in [{lo}, {hi}]")
    return scores


def code_beat(scores, valid_lanes: int, threshold: int, reference: int, score_bits: int):
    """One beat -> ``(chunk, length, mask)``: the chunk as an integer (bit 0 first), its
    length in bits and the kept bitmap (bit ``i`` = lane ``i``); lanes from ``valid_lanes`` on
    are padding and never kept."""
    mask = sum(1 << i for i, s in enumerate(scores) if i < valid_lanes and s >= threshold)
    xor = mask ^ reference
    lanes = len(scores)
    chunk, length = (1 | xor << 1, 1 + lanes) if xor else (0, 1)
    for i, s in enumerate(scores):
        if mask >> i & 1:
            chunk |= (int(s) & ((1 << score_bits) - 1)) << length
            length += score_bits
    return chunk, length, mask


def parse_beat(bits: int, valid_lanes: int, reference: int, lanes: int, score_bits: int,
               signed: bool):
    """Inverse of :func:`code_beat` on the bits at the head of a stream:
    ``(scores, mask, length, bad_lane)``; ``length`` may exceed the bits present."""
    flag = bits & 1
    xor = (bits >> 1) & ((1 << lanes) - 1) if flag else 0
    mask = reference ^ xor
    offset = 1 + lanes if flag else 1
    scores = [0] * lanes
    for i in range(lanes):
        if mask >> i & 1:
            v = (bits >> offset) & ((1 << score_bits) - 1)
            scores[i] = v - (1 << score_bits) if signed and v >> (score_bits - 1) else v
            offset += score_bits
    return scores, mask, offset, bool(xor >> valid_lanes)


def _reference(masks, r: int, b: int, policy: int, patch_rows: int) -> int:
    if r % patch_rows == 0:
        return 0
    return masks[r - 1 if policy == CHAIN else r - r % patch_rows][b]


def _split(chunk: int, length: int, lanes: int):
    """A chunk of :func:`code_beat` as ``(header, header_bits, payload, payload_bits)``."""
    header_bits = 1 + lanes if chunk & 1 else 1
    return (chunk & ((1 << header_bits) - 1), header_bits, chunk >> header_bits,
            length - header_bits)


def encode(scores, threshold: int, policy: int, config) -> Encoded:
    """Encode one tile (rows in visit order) exactly as the hardware encoder does."""
    lanes, bits, _, patch_rows, width = _params(config)
    scores = _check_scores(scores, config)
    n_rows, n_keys = scores.shape
    beats = -(-n_keys // lanes)
    padded = np.zeros((n_rows, beats * lanes), dtype=np.int64)
    padded[:, :n_keys] = scores
    masks = []
    parts = []  # (header, header_bits, payload, payload_bits) of each beat, in tile order
    kept = 0
    for r in range(n_rows):
        masks.append([])
        for b in range(beats):
            chunk, size, mask = code_beat(padded[r, b * lanes:(b + 1) * lanes],
                                          min(lanes, n_keys - b * lanes), threshold,
                                          _reference(masks, r, b, policy, patch_rows), bits)
            masks[r].append(mask)
            parts.append(_split(chunk, size, lanes))
            kept += bin(mask).count("1")
    # Header ahead: H0, then H(i+1) before P(i), and the last payload alone.
    fields = [parts[0][:2]]
    for i, (_, _, payload, payload_bits) in enumerate(parts):
        if i + 1 < len(parts):
            fields.append(parts[i + 1][:2])
        fields.append((payload, payload_bits))
    stream = 0
    length = 0
    for value, size in fields:
        stream |= value << length
        length += size
    n_words = -(-length // width)
    words = tuple((stream >> (k * width)) & ((1 << width) - 1) for k in range(n_words))
    return Encoded(words=words, bits=length, kept=kept, data_width=width)


def _decode_beats(words, n_rows: int, n_keys: int, policy: int, config):
    """Yield the decoded beats in order; raise :class:`StreamError` where the hardware stops.

    The stream is parsed strictly in order: header ``H(i+1)`` is read (and checked) before
    payload ``P(i)``, and beat ``i`` is yielded once ``P(i)`` is complete. So a truncated or
    malformed ``H(i+1)``, or a truncated ``P(i)``, stops after beat ``i - 1``.
    """
    lanes, bits, signed, patch_rows, width = _params(config)
    p = config.pssa
    if not (1 <= n_rows <= p.max_rows and 1 <= n_keys <= p.max_keys):
        raise StreamError("command", f"n_rows={n_rows}, n_keys={n_keys} out of range")
    words = [int(w) for w in words]
    total = len(words) * width
    stream = sum(w << (k * width) for k, w in enumerate(words))
    beats = -(-n_keys // lanes)
    order = [(r, b) for r in range(n_rows) for b in range(beats)]
    masks = [[] for _ in range(n_rows)]
    pos = 0

    def read_header(r, b):
        """Parse beat ``(r, b)``'s header at ``pos``; its kept bitmap goes to ``masks``."""
        nonlocal pos
        header_bits = 1 + lanes if pos < total and stream >> pos & 1 else 1
        if pos + header_bits > total:
            raise StreamError("truncated", f"row {r} beat {b}: header needs {header_bits} "
                              f"bits, {total - pos} left")
        xor = (stream >> (pos + 1)) & ((1 << lanes) - 1) if header_bits > 1 else 0
        if xor >> min(lanes, n_keys - b * lanes):
            raise StreamError("bad_lane", f"row {r} beat {b} keeps a key past n_keys")
        masks[r].append(_reference(masks, r, b, policy, patch_rows) ^ xor)
        pos += header_bits

    read_header(*order[0])
    for i, (r, b) in enumerate(order):
        if i + 1 < len(order):
            read_header(*order[i + 1])
        mask = masks[r][b]
        size = bin(mask).count("1") * bits
        if pos + size > total:
            raise StreamError("truncated", f"row {r} beat {b}: values need {size} bits, "
                              f"{total - pos} left")
        # The payload parses as a chunk with a clear flag against the beat's own bitmap.
        scores, _, _, _ = parse_beat((stream >> pos) << 1, lanes, mask, lanes, bits, signed)
        pos += size
        yield scores
    if total - pos >= width:
        raise StreamError("length", f"{(total - pos) // width} word(s) past the coded tile")
    if stream >> pos:
        raise StreamError("padding", "non-zero bits after the last coded beat")


def decode(words, n_rows: int, n_keys: int, policy: int, config) -> np.ndarray:
    """Decode one tile into its ``n_rows x n_keys`` pruned scores; raise
    :class:`StreamError` where the hardware raises its error flag."""
    beats = np.array(list(_decode_beats(words, n_rows, n_keys, policy, config)),
                     dtype=np.int64)
    return beats.reshape(n_rows, -1)[:, :n_keys]


def decode_prefix(words, n_rows: int, n_keys: int, policy: int, config):
    """What the hardware decoder outputs for a possibly malformed tile: ``(beats, reason)``,
    the beats fully delivered before the error (each a list of ``lanes`` scores) and the
    :class:`StreamError` reason, or ``None`` for a well-formed tile.

    The stream is parsed in order, so an error in header ``H(i+1)`` or in payload ``P(i)``
    (they come in that order) leaves beats ``0 .. i-1``; one in ``H0`` leaves none; a
    ``length`` or ``padding`` error leaves every beat of the tile."""
    beats = []
    try:
        for beat in _decode_beats(words, n_rows, n_keys, policy, config):
            beats.append(beat)
    except StreamError as error:
        return beats, error.reason
    return beats, None


def encoded_bits(scores, threshold: int, policy: int, lanes: int, score_bits: int,
                 patch_rows: int) -> int:
    """Length in bits of :func:`encode`'s stream, computed without building it (fast enough for
    a 4096 x 4096 head)."""
    mask = kept_mask(scores, threshold)
    xor = _beats(mask ^ reference_masks(mask, policy, patch_rows), lanes)
    flags = xor.any(axis=2)
    return int(flags.size + lanes * flags.sum() + score_bits * mask.sum())


def alternative_bits(scores, threshold: int, lanes: int, score_bits: int,
                     patch_rows: int) -> dict[str, int]:
    """Compressed sizes (bits) of the codings compared in docs/formats/pssa.md; all pack the
    kept values the same way and differ in how the bitmap is coded.

    ``plain_bitmap``: the kept bitmap, one bit per score (an XOR bitmap stored plainly costs
    the same); ``two_level``: the kept bitmap coded as this format codes the XOR bitmap;
    ``xor_run_length``: zero-run lengths of the chain XOR bitmap in ``k``-bit fields (a field of
    all ones continues the run), best ``k`` in 2..8; ``xor_two_level_chain`` and
    ``xor_two_level_anchor``: this format.
    """
    mask = kept_mask(scores, threshold)
    rows, keys = mask.shape
    values = score_bits * int(mask.sum())
    xor = mask ^ reference_masks(mask, CHAIN, patch_rows)

    def two_level(bitmap):
        chunks = _beats(bitmap, lanes).any(axis=2)
        return int(chunks.size + lanes * chunks.sum())

    def run_length(bitmap):
        # Run of zeros before each one; trailing zeros of a row cost nothing (n_keys is known).
        ones_r, ones_c = np.nonzero(bitmap)
        prev = np.full(ones_c.shape, -1)
        same_row = np.r_[False, ones_r[1:] == ones_r[:-1]]
        prev[same_row] = ones_c[np.flatnonzero(same_row) - 1]
        runs = ones_c - prev - 1
        return min(int(k * (1 + runs // ((1 << k) - 1)).sum()) for k in range(2, 9))

    anchor = mask ^ reference_masks(mask, ANCHOR, patch_rows)
    return {
        "plain_bitmap": rows * keys + values,
        "two_level": two_level(mask) + values,
        "xor_run_length": run_length(xor) + values,
        "xor_two_level_chain": two_level(xor) + values,
        "xor_two_level_anchor": two_level(anchor) + values,
    }
