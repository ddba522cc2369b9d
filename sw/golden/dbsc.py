"""Golden model of the DBSC bit-slice array (paper.md, section DBSC).

Activations are signed ``act_bits_high``-bit integers, weights signed ``weight_bits``-bit
integers. An activation is decomposed into ``slices_high`` slices of ``slice_bits`` bits,
``x = sum_i s_i * 2^(slice_bits * i)``, slice 0 the least significant; the top slice is read as
two's complement and every lower slice as unsigned, which makes the decomposition exact for
every value, ``-2^(act_bits_high - 1)`` included.

A high-precision token uses every slice. A low-precision token uses only the top
``slices_low`` slices, so it is numerically the activation with its low
``act_bits_high - act_bits_low`` bits cleared (floor to a multiple of that power of two). The
hardware must match :func:`matmul` bit for bit.
"""

import numpy as np

__all__ = ["act_range", "weight_range", "slices", "from_slices", "to_low_precision",
           "effective_activations", "matmul", "slice_counts", "useful_slice_macs",
           "stream_beats"]


def act_range(cfg):
    """Inclusive ``(lo, hi)`` of a signed ``act_bits_high``-bit activation."""
    return -(1 << (cfg.act_bits_high - 1)), (1 << (cfg.act_bits_high - 1)) - 1


def weight_range(cfg):
    """Inclusive ``(lo, hi)`` of a signed ``weight_bits``-bit weight."""
    return -(1 << (cfg.weight_bits - 1)), (1 << (cfg.weight_bits - 1)) - 1


def _checked(values, bounds, what):
    values = np.asarray(values)
    if values.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integers (got dtype {values.dtype})")
    values = values.astype(np.int64)
    lo, hi = bounds
    if values.size and (values.min() < lo or values.max() > hi):
        raise ValueError(f"{what} must lie in [{lo}, {hi}] "
                         f"(got [{values.min()}, {values.max()}])")
    return values


def slices(x, cfg):
    """Slice decomposition of activations ``x``.

    Returns an int64 array of shape ``x.shape + (cfg.slices_high,)``; entry ``[..., i]`` is
    the slice of weight ``2^(slice_bits * i)``. Slices below the top one lie in
    ``[0, 2^slice_bits)``, the top one in ``[-2^(slice_bits-1), 2^(slice_bits-1))``.
    """
    x = _checked(x, act_range(cfg), "activations")
    k = cfg.slice_bits
    out = np.empty(x.shape + (cfg.slices_high,), dtype=np.int64)
    for i in range(cfg.slices_high - 1):
        out[..., i] = (x >> (k * i)) & ((1 << k) - 1)
    # Arithmetic shift keeps the sign in the top slice.
    out[..., -1] = x >> (k * (cfg.slices_high - 1))
    return out


def from_slices(s, cfg):
    """Inverse of :func:`slices`: ``sum_i s[..., i] * 2^(slice_bits * i)``."""
    s = np.asarray(s, dtype=np.int64)
    weights = np.int64(1) << (cfg.slice_bits * np.arange(s.shape[-1], dtype=np.int64))
    return (s * weights).sum(axis=-1)


def to_low_precision(x, cfg):
    """Activations as a low-precision token sees them: low ``act_bits_high - act_bits_low``
    bits cleared, i.e. ``floor(x / 2^d) * 2^d``."""
    x = _checked(x, act_range(cfg), "activations")
    d = cfg.act_bits_high - cfg.act_bits_low
    return (x >> d) << d


def effective_activations(a, high_rows, cfg):
    """``a`` (M x K) with the rows where ``high_rows`` is False at low precision."""
    a = _checked(a, act_range(cfg), "activations")
    high = np.asarray(high_rows, dtype=bool)
    if a.ndim != 2 or high.shape != (a.shape[0],):
        raise ValueError(f"activations must be M x K and high_rows have M entries "
                         f"(got {a.shape} and {high.shape})")
    return np.where(high[:, None], a, to_low_precision(a, cfg))


def matmul(a, w, high_rows, cfg):
    """Exact int64 product of activations ``a`` (M x K) and weights ``w`` (K x N), with rows
    where ``high_rows[m]`` is False computed at low precision."""
    a_eff = effective_activations(a, high_rows, cfg)
    w = _checked(w, weight_range(cfg), "weights")
    if w.ndim != 2 or w.shape[0] != a_eff.shape[1]:
        raise ValueError(f"weights must be K x N with K = {a_eff.shape[1]} (got {w.shape})")
    return a_eff @ w


def slice_counts(high_rows, cfg):
    """Slices (cycles per reduction step) each token costs: ``slices_high`` or ``slices_low``."""
    high = np.asarray(high_rows, dtype=bool)
    return np.where(high, cfg.slices_high, cfg.slices_low).astype(np.int64)


def useful_slice_macs(high_rows, k, n, cfg):
    """Slice-MACs a tile needs: every token's slice count times ``k * n``."""
    return int(slice_counts(high_rows, cfg).sum()) * k * n


def stream_beats(a, w, high_rows, os_mode, cfg):
    """The operand beats a tile needs, in stream order, as lists of lane values.

    Returns ``(prec, act, wgt)``: ``prec`` one int per group of ``rows`` tokens (bit ``r`` set
    when token ``g * rows + r`` is high); ``act`` lists of ``rows`` activations; ``wgt`` lists
    of ``cols`` weights. ``w`` must have ``cols`` columns. Lanes past the tile are zero. See
    :class:`hw.dbsc.DBSCArray` for the order.
    """
    a = _checked(a, act_range(cfg), "activations")
    w = _checked(w, weight_range(cfg), "weights")
    high = np.asarray(high_rows, dtype=bool)
    m, k = a.shape
    rows = cfg.rows
    if w.shape != (k, cfg.cols):
        raise ValueError(f"weights must be {k} x {cfg.cols} (got {w.shape})")
    groups = -(-m // rows)
    padded_high = np.zeros(groups * rows, dtype=bool)
    padded_high[:m] = high
    prec = [int(sum(1 << r for r in range(rows) if padded_high[g * rows + r]))
            for g in range(groups)]
    if os_mode:
        padded = np.zeros((groups * rows, k), dtype=np.int64)
        padded[:m] = a
        act = [padded[g * rows:(g + 1) * rows, kk].tolist()
               for g in range(groups) for kk in range(k)]
        wgt = [w[kk].tolist() for _ in range(groups) for kk in range(k)]
    else:
        chunks = -(-k // rows)
        padded = np.zeros((m, chunks * rows), dtype=np.int64)
        padded[:, :k] = a
        act = [padded[i, j * rows:(j + 1) * rows].tolist()
               for j in range(chunks) for i in range(m)]
        wgt = [w[kk].tolist() for kk in range(k)]
    return prec, act, wgt
