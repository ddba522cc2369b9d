"""The reproduce report: schema, provenance tags from benchmark outputs, the CLI."""

import json

import pytest

from sw import cli
from sw.config import load_config
from sw.model.evaluate import PAPER, evaluate
from sw.model.reproduce import METRIC_TITLES, render_markdown, report
from sw.model.sources import KINDS, Figure, Sources
from sw.model.unet import totals, unet_layers


@pytest.fixture(scope="module")
def paper():
    return load_config(preset="paper")


def write_bench(root, name, results, config_hash="abcd1234"):
    path = root / "bench" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "config_hash": config_hash,
                                "results": results}))


def check_schema(data):
    assert data["unet_macs_per_pass"] == totals(unet_layers())["macs"]
    assert list(data["metrics"]) == list(METRIC_TITLES) == list(PAPER)
    for name, entry in data["metrics"].items():
        assert entry["paper"] == PAPER[name]
        assert isinstance(entry["project"], float)
        assert entry["kind"] in KINDS
        assert entry["note"] and entry["source"]
        if abs(entry["project"] - entry["paper"]) > 0.1 * entry["paper"]:
            assert len(entry["why"]) > 40
        else:
            assert "why" not in entry
    assert data["assumptions"] and all(data["assumptions"].values())
    groups = data["by_kind_and_resolution"]
    assert sum(g["macs"] for g in groups) == data["unet_macs_per_pass"]
    assert sum(g["layers"] for g in groups) == len(data["layers"]) == data["unet"]["gemm_layers"]
    assert sum(g["cycles"] for g in groups) == data["derived"]["compute_cycles_per_iter"]
    assert all(c["source"] for c in data["cross_checks"].values())


def test_fallbacks_without_any_source(paper, tmp_path):
    result = evaluate(paper, Sources(tmp_path), run_golden=False)
    assert result.inputs.sas_bits_per_entry.source == "assumption A1"
    assert result.inputs.ffn_low_share.source == "assumption A2"
    assert all(f.kind == "modeled" for f in result.metrics.values())
    data = report(result, "test")
    check_schema(data)
    assert data["metrics"]["peak_tops"]["project"] == 3.84


def test_benchmark_outputs_are_used_and_tagged(paper, tmp_path):
    write_bench(tmp_path, "pssa", {"sas_ema_reduction": 0.75,
                                   "sharpness_sweep": {"1.0": {"sas_ema_reduction": 0.1}}})
    write_bench(tmp_path, "tips", {"low_precision_share_ratio": 0.448,
                                   "low_precision_share_threshold": 0.5})
    write_bench(tmp_path, "dbsc", {"baseline_utilization_ws": 0.5, "utilization_ws": 0.97,
                                   "cycles_ws_low_share_0.0": 1010, "ideal_cycles_ws": 1000})
    write_bench(tmp_path, "top", {"array_utilization": 0.85, "tile": "2 tiles"})
    result = evaluate(paper, Sources(tmp_path), run_golden=False)
    # Both benchmarks' figures come from golden models: modeled, with the file as source.
    sas = result.inputs.sas_bits_per_entry
    assert (sas.value, sas.kind) == (2.0, "modeled")
    assert sas.source == "build/bench/pssa.json: results.sas_ema_reduction"
    assert "abcd1234" in sas.note
    assert result.metrics["sas_ema_reduction_pct"].value == pytest.approx(75.0)
    share = result.inputs.ffn_low_share
    assert (share.value, share.kind) == (0.5, "modeled")
    assert share.source.endswith("results.low_precision_share_threshold")
    checks = result.extra["rtl_bench"]
    assert checks["utilization_ws"] == {"value": 0.97, "kind": "measured",
                                        "source": "build/bench/dbsc.json: results.utilization_ws"}
    assert checks["rtl_over_timing_model_ws"]["value"] == pytest.approx(1.01)
    assert "utilization_ws 0.970" in result.metrics["peak_tops"].note
    assert checks["top_array_utilization"] == {
        "value": 0.85, "kind": "measured", "tile": "2 tiles",
        "source": "build/bench/top.json: results.array_utilization"}
    data = report(result, "test")
    check_schema(data)
    assert "utilization_ws 0.97" in render_markdown(data)


def test_nested_key_is_found_when_no_top_level_one(tmp_path):
    write_bench(tmp_path, "pssa", {"sweep": {"2.0": {"sas_ema_reduction": 0.6}}})
    assert Sources(tmp_path).bench_value("pssa", "sas_ema_reduction") == (
        0.6, "build/bench/pssa.json: results.sweep.2.0.sas_ema_reduction")
    assert Sources(tmp_path).bench_value("pssa", "threshold") is None
    assert Sources(tmp_path).bench_value("tips", "low_share") is None


def test_more_pruning_less_total_ema(paper, tmp_path):
    reductions = []
    for sas_reduction in (0.25, 0.5, 0.75, 0.875):
        write_bench(tmp_path, "pssa", {"sas_ema_reduction": sas_reduction})
        result = evaluate(paper, Sources(tmp_path), run_golden=False)
        reductions.append(result.metrics["total_ema_reduction_pct"].value)
    assert reductions == sorted(reductions) and len(set(reductions)) == 4


def test_figure_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind="):
        Figure(1.0, "guessed", "here")


def test_cli_writes_reports(tmp_path, capsys):
    out = tmp_path / "reports"
    code = cli.main(["reproduce", "--preset", "paper", "--out", str(out), "--build",
                     str(tmp_path), "--measure-size", "16"])
    assert code == 0
    data = json.loads((out / "reproduce.json").read_text())
    check_schema(data)
    assert data["inputs"]["sas_bits_per_entry"]["source"] == "sw.golden.pssa.encoded_bits"
    assert data["command"] == "sdproc reproduce --preset paper"
    md = (out / "reproduce.md").read_text()
    assert md == render_markdown(data)
    printed = capsys.readouterr().out
    for title in METRIC_TITLES.values():
        assert title in md and title in printed
    rows = (out / "unet_layers.csv").read_text().splitlines()
    assert len(rows) == 1 + len(unet_layers())


def test_cli_rejects_tiny_measure_size(tmp_path, capsys):
    assert cli.main(["reproduce", "--out", str(tmp_path), "--measure-size", "2"]) == 2
    assert "--measure-size=2" in capsys.readouterr().err


def test_synthesis_rows_of_this_config_are_reported(paper, tmp_path):
    rows = [{"block": "dbsc", "target": "asic-osu018", "label": "0.18 um", "status": "ok",
             "config_hash": paper.hash, "area_um2": 1.5e6, "critical_ns": 9.0, "lut": None},
            {"block": "dbsc", "target": "ecp5", "status": "ok", "config_hash": "other",
             "fmax_mhz": 99.0},
            {"block": "dbsc", "target": "ice40", "status": "skipped",
             "config_hash": paper.hash}]
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "synth.json").write_text(json.dumps(rows))
    result = evaluate(paper, Sources(tmp_path), run_golden=False)
    assert result.extra["synthesized"] == [
        {"block": "dbsc", "target": "asic-osu018", "label": "0.18 um",
         "source": "build/reports/synth.json", "area_um2": 1.5e6, "critical_ns": 9.0}]
    assert "dbsc asic-osu018 (area_um2 1.5e+06, critical_ns 9)" in render_markdown(
        report(result, "test"))


def test_slow_memory_makes_layers_memory_bound(paper, tmp_path):
    fast = evaluate(paper, Sources(tmp_path), run_golden=False)
    assert fast.inputs.ema_utilization.source == "assumption A3"
    write_bench(tmp_path, "ema", {"read_utilization": 0.05, "sas_bytes_dense": 1000,
                                  "sas_bytes_compressed": 250, "sas_tile": "t",
                                  "sas_round_trip_exact": True})
    slow = evaluate(paper, Sources(tmp_path), run_golden=False)
    assert slow.inputs.ema_utilization.kind == "measured"
    check = slow.extra["rtl_bench"]["ema_sas_reduction_rtl"]
    assert (check["value"], check["kind"], check["tile"], check["round_trip_exact"]) == (
        0.75, "measured", "t", True)
    assert "ema_sas_reduction_rtl 0.75" in render_markdown(report(slow, "test"))
    assert slow.extra["memory_bound_layers"] > fast.extra["memory_bound_layers"] > 0
    assert slow.extra["cycles_per_iter"] > fast.extra["cycles_per_iter"] \
        > fast.extra["compute_cycles_per_iter"] == slow.extra["compute_cycles_per_iter"]
    # Energy does not depend on time (no leakage is modelled, N4); power does.
    assert slow.metrics["mj_per_iter"].value == fast.metrics["mj_per_iter"].value
    assert slow.metrics["power_mw"].value < fast.metrics["power_mw"].value
