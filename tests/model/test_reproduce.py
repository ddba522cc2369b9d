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
    write_bench(tmp_path, "pssa", {"tile": {"rtl_bits_per_entry": 2.0}})
    write_bench(tmp_path, "tips", {"low_precision_share_ratio": 0.448,
                                   "low_precision_share_threshold": 0.5})
    write_bench(tmp_path, "dbsc", {"peak_ops_per_cycle": 7680, "utilization_ws": 0.97})
    result = evaluate(paper, Sources(tmp_path), run_golden=False)
    sas = result.inputs.sas_bits_per_entry
    assert (sas.value, sas.kind) == (2.0, "measured")
    assert "build/bench/pssa.json: results.tile.rtl_bits_per_entry" == sas.source
    assert "abcd1234" in sas.note
    assert result.metrics["sas_ema_reduction_pct"].value == pytest.approx(75.0)
    assert result.metrics["sas_ema_reduction_pct"].kind == "measured"
    # The TIPS benchmark's share comes from the golden model: modeled, from the bench file.
    share = result.inputs.ffn_low_share
    assert (share.value, share.kind) == (0.5, "modeled")
    assert share.source.endswith("results.low_precision_share_threshold")
    assert result.metrics["peak_tops"].value == pytest.approx(1.92)
    assert result.metrics["peak_tops"].kind == "measured"
    assert result.extra["dbsc_rtl_bench"]["utilization_ws"]["value"] == 0.97
    data = report(result, "test")
    check_schema(data)
    assert "utilization_ws 0.97" in render_markdown(data)


def test_compression_ratio_from_golden_bench_is_modeled(paper, tmp_path):
    write_bench(tmp_path, "pssa", {"compression_ratio": 4.0})
    result = evaluate(paper, Sources(tmp_path), run_golden=False)
    assert result.inputs.sas_bits_per_entry.value == 2.0
    assert result.inputs.sas_bits_per_entry.kind == "modeled"


def test_more_pruning_less_total_ema(paper, tmp_path):
    reductions = []
    for bits in (6.0, 4.0, 2.0, 1.0):
        write_bench(tmp_path, "pssa", {"bits_per_entry": bits})
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
