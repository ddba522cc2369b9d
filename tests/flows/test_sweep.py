"""``sdproc sweep``: the grid, rejected combinations, resuming, the CSV shape, the Pareto plot."""

import csv

import pytest

from hw import registry
from sw.config import load_config
from sw.flows import sweep, synth
from tests.flows.probe import Probe

BASE = load_config(preset="default")


@pytest.fixture
def probe_registry(monkeypatch, tmp_path):
    monkeypatch.setattr(synth, "SYNTH_ROOT", tmp_path / "synth")
    monkeypatch.setattr(registry, "blocks",
                        lambda: {"probe": lambda config: Probe(config.dbsc.weight_bits)})


def _spec(**axes):
    return sweep.SweepSpec(modules=["probe"], targets=["generic"], axes=axes, jobs=2)


def _rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_sweep_resumes_without_redoing_points(probe_registry, tmp_path):
    # act_bits_low = 12 exceeds act_bits_high = 8: those two combinations are rejected.
    spec = _spec(**{"dbsc.weight_bits": [4, 8], "dbsc.act_bits_low": [4, 12]})
    out = tmp_path / "sweep.csv"
    first = sweep.run_sweep(spec, BASE, out)
    assert (first["points"], first["run"], first["skipped_done"]) == (2, 2, 0)
    assert len(first["rejected"]) == 2 and all("act_bits_low" in r for r in first["rejected"])
    rows = _rows(out)
    assert [r["dbsc.weight_bits"] for r in sorted(rows, key=lambda r: int(
        r["dbsc.weight_bits"]))] == ["4", "8"]
    assert list(rows[0]) == spec.columns
    assert spec.columns[:2] == ["module", "config_hash"]
    cells = {r["dbsc.weight_bits"]: int(r["cells"]) for r in rows}
    assert 0 < cells["4"] < cells["8"]

    again = sweep.run_sweep(spec, BASE, out)
    assert (again["run"], again["skipped_done"]) == (0, 2)
    assert _rows(out) == rows

    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, spec.columns)
        writer.writeheader()
        writer.writerow(rows[0])
    third = sweep.run_sweep(spec, BASE, out)
    assert (third["run"], third["skipped_done"]) == (1, 1)
    assert sorted(r["config_hash"] for r in _rows(out)) == sorted(r["config_hash"] for r in rows)


def test_changed_axes_do_not_mix_into_an_old_csv(probe_registry, tmp_path):
    out = tmp_path / "sweep.csv"
    sweep.run_sweep(_spec(**{"dbsc.weight_bits": [4]}), BASE, out)
    with pytest.raises(ValueError, match="columns"):
        sweep.run_sweep(_spec(**{"dbsc.rows": [2]}), BASE, out)


def test_invalid_spec_names_every_problem():
    with pytest.raises(ValueError) as error:
        sweep.SweepSpec(modules=[], targets=["vivado"], axes={"rows": 4}, jobs=0)
    message = str(error.value)
    for part in ("modules", "vivado", "axes.rows", "non-empty list", "jobs=0"):
        assert part in message


def test_default_spec_is_valid():
    spec = sweep.load_spec(sweep.CONFIG_DIR / "sweep.toml")
    valid, _ = sweep.points(spec, BASE)
    assert valid and set(spec.modules) <= set(registry.blocks())


def test_pareto_front_and_plot(tmp_path):
    assert sweep.pareto_front([(100, 1), (50, 2), (40, 1.5), (100, 0.5)]) == [0, 1]
    spec = _spec(**{"dbsc.rows": [1]})
    path = tmp_path / "sweep.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, spec.columns)
        writer.writeheader()
        for i, (fmax, area) in enumerate([(100, 1e5), (150, 2e5), (90, 3e5)]):
            writer.writerow({"module": "probe", "config_hash": f"h{i}", "dbsc.rows": 1,
                             "fmax_mhz": fmax, "area_um2": area, "peak_ops_per_cycle": 32})
    png = sweep.plot_pareto(path, tmp_path / "sweep.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
