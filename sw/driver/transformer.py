"""One transformer-block tile from DRAM to DRAM: two programs with the softmax, in software,
between them (docs/top.md, "The transformer-block tile").

1. **Scores**: ``S = requantize(Q K^T)`` on the array (GEMM tiles), STOREd.
2. The host reads ``S`` and computes the softmax probabilities (:func:`softmax_codes`, software:
   the processor has no softmax yet), rows in patch visit order, and writes them to DRAM.
   **SAS**: the probability tile is LOADed into the SAS buffer, SAS_STOREd through the PSSA
   encoder (coded words in DRAM) and SAS_LOADed back decoded and pruned (and STOREd, for the
   host to see). **Attention output** ``O = requantize(P V)``: GEMMs whose activations are the
   decoded tile, read row-major from the SAS buffer. **TIPS**: the cross-attention
   probabilities go through TIPS into the BITMAP buffer; **FFN**: the first linear layer
   ``requantize(X W1)`` runs with that bitmap as its per-token precision.

:func:`run_tile` drives the programs through any host: the RTL through :class:`Host`
and a DRAM model, or the golden executor through :class:`sw.golden.top.GoldenHost`, so both
see the same software steps.
"""

from dataclasses import dataclass

import numpy as np

from hw.dbsc import Mode, Precision
from hw.top.isa import OutFormat
from sw.golden import pssa as golden_pssa
from sw.golden import tips as golden_tips
from sw.golden.top import bytes_to_words, item_to_lanes, unpack_items

from .program import ProgramBuilder

__all__ = ["TransformerTile", "softmax_codes", "run_tile"]


def softmax_codes(scores, scale, bits):
    """Row-wise softmax of ``scale * scores``, quantized per row so that the row's maximum is
    ``2^bits - 1`` (round half to even). ``bits = act_bits_high - 1`` keeps the codes valid
    signed activations for ``P V`` and unsigned PSSA scores at the same time."""
    logits = scale * np.asarray(scores, dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    top = (1 << bits) - 1
    return np.rint(probs / probs.max(axis=1, keepdims=True) * top).astype(np.int64)


@dataclass
class TransformerTile:
    """Operands of one tile: ``side x side`` latent pixels (``N = side^2`` tokens).

    ``q``, ``k``, ``v``: ``N x d``; ``x``: the FFN input ``N x C``; ``w1``: ``C x F``; ``cross``:
    cross-attention probabilities ``[heads, N, tokens]``; ``token_mask``: which text tokens
    count; ``tips_mode`` with ``tau`` or ``ratio``; the PSSA ``sas_threshold`` and
    ``sas_policy``; requantization shifts; the softmax ``scale``.
    """
    side: int
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    x: np.ndarray
    w1: np.ndarray
    cross: np.ndarray
    token_mask: np.ndarray
    tips_mode: int = golden_tips.RATIO
    tau: int = 0
    ratio: int = 0
    sas_threshold: int = 8
    sas_policy: int = golden_pssa.CHAIN
    score_shift: int = 6
    out_shift: int = 7
    ffn_shift: int = 7
    scale: float = 0.05


def _builder(config, dram_bytes, previous):
    return ProgramBuilder(config, dram_bytes, start=previous.free if previous else 0x40)


async def _run(host, dram, builder):
    for addr, raw in builder.placed:
        await dram.write(addr, raw)
    status = await host.run(builder.commands)
    return status, await dram.snapshot()


def _sas_tile(config, image, addr, rows, keys):
    p = config.pssa
    W = config.ema.data_width
    row_beats = -(-keys // p.lanes)
    nbytes = -(-rows * row_beats * p.lanes * p.score_bits // W) * W // 8
    words = bytes_to_words(bytes(image[addr:addr + nbytes]), W)
    beats = unpack_items(words, rows * row_beats, p.lanes * p.score_bits, W)
    lanes = np.array([item_to_lanes(b, p.score_bits, p.lanes, signed=p.signed_scores)
                      for b in beats])
    return lanes.reshape(rows, row_beats * p.lanes)[:, :keys]


async def run_tile(config, host, dram, tile, dram_bytes=1 << 16):
    """Run the three programs of ``tile``; returns every intermediate the host saw and the
    statuses. ``host``: ``run(commands)``, ``set_token_mask(bits)``, ``set_sas(threshold,
    policy)``; ``dram``: ``write(addr, bytes)``, ``snapshot() -> uint8 array``."""
    p = config.pssa
    n = tile.side * tile.side
    order = golden_pssa.patch_order(tile.side, tile.side, p.patch_h, p.patch_w)
    out = {"status": []}

    b1 = _builder(config, dram_bytes, None)
    scores_tile = b1.gemm_tile(tile.q, tile.k.T, precision=Precision.ALL_HIGH,
                               out_format=OutFormat.INT, shift=tile.score_shift)
    b1.fence()
    status, image = await _run(host, dram, b1)
    out["status"].append(status)
    out["scores"] = scores_tile.decode(config, image)

    # Software: softmax, rows in patch visit order.
    out["probs"] = softmax_codes(out["scores"], tile.scale, config.dbsc.act_bits_high - 1)[order]
    b2 = _builder(config, dram_bytes, b1)
    coded_addr, pruned_addr, _ = b2.sas_round_trip(out["probs"])
    # The decoded tile stays in the SAS buffer: P V reads it there, row-major.
    out_tile = b2.gemm_tile(np.zeros((n, n), dtype=np.int64), tile.v,
                            precision=Precision.ALL_HIGH, shift=tile.out_shift, scores_at=0)
    b2.tips_tile(tile.cross, tile.tips_mode, tau=tile.tau, ratio=tile.ratio)
    ffn_tile = b2.gemm_tile(tile.x, tile.w1, precision=Precision.BITMAP, shift=tile.ffn_shift,
                            mode=Mode.WS, load_bitmap=False)
    b2.fence()
    await host.set_sas(tile.sas_threshold, tile.sas_policy)
    await host.set_token_mask(golden_tips.mask_bits(tile.token_mask))
    status, image = await _run(host, dram, b2)
    out["status"].append(status)
    out["coded_addr"] = coded_addr
    out["pruned"] = _sas_tile(config, image, pruned_addr, n, n)
    attention = out_tile.decode(config, image)    # rows in patch visit order
    out["attention"] = np.empty_like(attention)
    out["attention"][order] = attention
    out["ffn"] = ffn_tile.decode(config, image)
    out["image"] = image
    out["commands"] = len(b1.commands) + len(b2.commands)
    return out
