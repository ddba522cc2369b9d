"""Benchmark of the processor top level: a mixed-precision tile program run from DRAM to DRAM.

The program (``tests/top/cocotb_top.py::tile_program_without_stalls``): ``act (m x k) @ w
(k x n)`` with 44.8 % of the tokens at high precision (the paper's TIPS share), once in WS and
once in OS with the tokens ordered by precision, each with its operand LOADs, ``n / cols``
GEMMs and the result STORE; then a self-attention score tile (``sw.data.attention``, the PSSA
benchmark's threshold) LOADed into the SAS buffer, SAS_STORE'd compressed and SAS_LOADed back,
and a FENCE. The emitted Verilog runs under cocotb on Verilator
and Icarus with cocotbext-axi's AxiRam always ready; the host pushes the commands over
AXI4-Lite while the processor runs. Every figure except the simulator speeds is a cycle or
counter reading of that RTL simulation (checked against the golden executor in the same run);
the speeds are simulated cycles per wall-clock second of the host's run.
"""

import json
import tempfile
from pathlib import Path

__all__ = ["run", "TILE"]

#: The benchmark tile: tokens, reduction length, output columns.
TILE = {"m": 64, "k": 64, "n": 16}


def _simulate(config, sim, tile):
    from hw import registry
    from sw.flows.cocotb_run import run_cocotb

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        run_cocotb(registry.build("top", config), "sdproc_top", "tests.top.cocotb_top", config,
                   sim, testcase="tile_program_without_stalls",
                   test_args=dict(tile, report=str(report)))
        return json.loads(report.read_text())


def _score_tile(config):
    """A self-attention score tile that fits the SAS buffer, rows in patch visit order, and
    the pruning threshold of the PSSA benchmark's error limit."""
    from sw.bench.pssa import choose_threshold
    from sw.data.attention import self_attention
    from sw.golden import pssa as golden_pssa

    p = config.pssa
    side = 8
    while (side * 2) ** 4 <= config.top.sas_buffer_bytes and (side * 2) ** 2 <= p.max_keys:
        side *= 2
    attention = self_attention(size=side, head_dim=40, sharpness=2.0, score_bits=p.score_bits)
    threshold, _ = choose_threshold(attention)
    order = golden_pssa.patch_order(side, side, p.patch_h, p.patch_w)
    return attention.scores[order], threshold


def run(config) -> dict:
    d = config.dbsc
    tile = {key: min(value, limit) for (key, value), limit in
            zip(TILE.items(), (d.max_m, d.max_k, 4 * d.cols))}
    scores, threshold = _score_tile(config)
    args = dict(tile, sas_scores=scores.tolist(), sas_threshold=threshold)
    runs = {sim: _simulate(config, sim, args) for sim in ("verilator", "icarus")}
    r = runs["verilator"]
    slice_macs = r["macs_high"] * d.slices_high + r["macs_low"] * d.slices_low
    with_pssa = r["ema_bytes"]
    # The same program with the score tile moved dense: the plain transfers of a row-major
    # tile of whole beats carry exactly rows * keys bytes each way.
    dense = dict(with_pssa, sas={"read": scores.size, "write": scores.size})
    total = {name: sum(v["read"] + v["write"] for v in by_class.values())
             for name, by_class in (("dense", dense), ("with_pssa", with_pssa))}
    return {
        "program": (f"2 x ({tile['m']} x {tile['k']}) @ ({tile['k']} x {tile['n']}) (WS, OS) "
                    f"+ SAS round trip of a {scores.shape[0]} x {scores.shape[1]} score tile "
                    f"(threshold {threshold})"),
        "commands": r["commands"],
        "e2e_cycles": r["cycles"],
        "e2e_cycles_icarus": runs["icarus"]["cycles"],
        "sequencer_busy_cycles": r["busy_cycles"],
        "e2e_macs_high": r["macs_high"],
        "e2e_macs_low": r["macs_low"],
        "ema_bytes_by_class": {"dense": dense, "with_pssa": with_pssa},
        "ema_bytes_total": total,
        "sas_ema_reduction": round(1 - sum(with_pssa["sas"].values()) / (2 * scores.size), 4),
        "array_utilization": round(slice_macs / (d.pes * r["busy_cycles"]), 4),
        "sim_cycles_per_second": {sim: round(x["cycles"] / x["wall_seconds"])
                                  for sim, x in runs.items()},
    }
