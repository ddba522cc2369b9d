"""PSSA benchmark: SAS external-memory traffic saved, and the codec's sustained throughput.

Compression figures are golden-model (numpy) measurements on the structured proxy data of
:mod:`sw.data.attention` (64 x 64 latent, one 4096 x 4096 head, head dimension 40); the codec
is bit-exact with the RTL, so these are the byte counts the RTL would write. Throughput figures
come from cycle counts of the emitted Verilog simulated with cocotb (Verilator) on a smaller
tile.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from sw.data.attention import self_attention
from sw.golden import pssa as golden

__all__ = ["run", "attention_output_rel_error", "choose_threshold", "compression"]

#: Largest relative mean squared error of the attention output a threshold may cause.
MAX_REL_ERROR = 0.01
LATENT = 64
SHARPNESS_SWEEP = (1.0, 1.5, 2.0, 3.0, 4.0)


def attention_output_rel_error(attention, threshold):
    """``||(P * keep) V - P V||^2 / ||P V||^2`` with ``keep = scores >= threshold``."""
    exact = attention.probs @ attention.values
    pruned = np.where(attention.scores >= threshold, attention.probs, 0.0) @ attention.values
    return float(((pruned - exact) ** 2).sum() / (exact ** 2).sum())


def choose_threshold(attention, limit=MAX_REL_ERROR):
    """The largest threshold whose attention-output error stays within ``limit`` (errors grow
    with the threshold), and that error."""
    best, best_error = 0, 0.0
    for threshold in range(1, 1 << attention.score_bits):
        error = attention_output_rel_error(attention, threshold)
        if error > limit:
            break
        best, best_error = threshold, error
    return best, best_error


def _tiles(scores, config):
    """The (rows x keys) tiles the hardware codes one by one (at most max_rows x max_keys)."""
    p = config.pssa
    rows, keys = scores.shape
    for r in range(0, rows, p.max_rows):
        for k in range(0, keys, p.max_keys):
            yield scores[r:r + p.max_rows, k:k + p.max_keys]


def compression(scores, threshold, config):
    """Reductions (1 - coded bytes / dense bytes) of this format under both policies, of the
    kept values with a plain bitmap, and of the alternative codings."""
    p = config.pssa
    width = config.ema.data_width
    dense = scores.size * p.score_bits
    totals = {"chain": 0, "anchor": 0}
    alternatives = {}
    for tile in _tiles(scores, config):
        for name, policy in golden.POLICIES.items():
            bits = golden.encoded_bits(tile, threshold, policy, p.lanes, p.score_bits,
                                       p.patch_rows)
            totals[name] += -(-bits // width) * width  # whole words, as written to DRAM
        for name, bits in golden.alternative_bits(tile, threshold, p.lanes, p.score_bits,
                                                  p.patch_rows).items():
            alternatives[name] = alternatives.get(name, 0) + bits
    return ({name: 1.0 - bits / dense for name, bits in totals.items()},
            {name: round(1.0 - bits / dense, 4) for name, bits in alternatives.items()})


def _head(config, sharpness):
    p = config.pssa
    attention = self_attention(size=LATENT, head_dim=40, sharpness=sharpness,
                               score_bits=p.score_bits)
    order = golden.patch_order(LATENT, LATENT, p.patch_h, p.patch_w)
    return attention, attention.scores[order]


def _rtl_throughput(config, data):
    from hw import registry
    from sw.flows.cocotb_run import run_cocotb

    p = config.pssa
    rows = min(p.max_rows, 2 * p.patch_rows)
    keys = min(p.max_keys, 256)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "throughput.json"
        run_cocotb(registry.build("pssa_codec", config), "pssa_codec", "tests.pssa.cocotb_pssa",
                   config, "verilator", testcase="sustained_throughput",
                   test_args={"rows": rows, "keys": keys, "threshold_offset": 2, "data": data,
                              "report": str(report)})
        counts = json.loads(report.read_text())
    return {
        "tile": f"{rows} x {keys}",
        "coded_bits_per_beat": round(counts["bits"] / counts["beats"], 2),
        "encoder_scores_per_cycle": round(counts["scores"] / counts["encoder_cycles"], 3),
        "decoder_scores_per_cycle": round(counts["scores"] / counts["decoder_cycles"], 3),
    }


def run(config):
    p = config.pssa
    attention, scores = _head(config, 2.0)
    threshold, error = choose_threshold(attention)
    reductions, alternatives = compression(scores, threshold, config)
    plain = golden.alternative_bits(scores, threshold, p.lanes, p.score_bits, p.patch_rows)
    dense = scores.size * p.score_bits
    results = {
        "data": f"sw.data.attention.self_attention(size={LATENT}, sharpness=2.0), "
                f"{scores.shape[0]} x {scores.shape[1]} scores, rows in patch order",
        "sas_ema_reduction": round(reductions["chain"], 4),
        "sas_ema_reduction_anchor": round(reductions["anchor"], 4),
        "threshold": threshold,
        "kept_density": round(float((scores >= threshold).mean()), 4),
        "attention_output_rel_error": round(error, 5),
        "bitmap_only_reduction": round(1.0 - plain["plain_bitmap"] / dense, 4),
        "alternatives_reduction": alternatives,
    }
    sweep = {}
    for sharpness in SHARPNESS_SWEEP:
        head, head_scores = (attention, scores) if sharpness == 2.0 else _head(config, sharpness)
        t, e = choose_threshold(head)
        reduction, _ = compression(head_scores, t, config)
        bits = golden.alternative_bits(head_scores, t, p.lanes, p.score_bits, p.patch_rows)
        sweep[str(sharpness)] = {
            "threshold": t, "kept_density": round(float((head_scores >= t).mean()), 4),
            "attention_output_rel_error": round(e, 5),
            "sas_ema_reduction": round(reduction["chain"], 4),
            "bitmap_only_reduction": round(1.0 - bits["plain_bitmap"] / dense, 4)}
    results["sharpness_sweep"] = sweep
    # Worst case: uniformly random scores at the same threshold (1024 rows keep it quick).
    noise = np.random.default_rng(0).integers(0, 1 << p.score_bits, size=(1024, scores.shape[1]))
    random_reduction, _ = compression(noise, threshold, config)
    results["random_scores_reduction"] = round(random_reduction["chain"], 4)
    structured = _rtl_throughput(config, "structured")
    results.update({
        "encoder_scores_per_cycle": structured["encoder_scores_per_cycle"],
        "decoder_scores_per_cycle": structured["decoder_scores_per_cycle"],
        "lanes": p.lanes,
        "rtl_tile": structured["tile"] + " (16 x 16 latent proxy, threshold 2)",
        "rtl_coded_bits_per_beat": structured["coded_bits_per_beat"],
        "rtl_random_data": _rtl_throughput(config, "random"),
    })
    return results
