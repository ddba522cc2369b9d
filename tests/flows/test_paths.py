"""The path estimate: exact figures on a hand-built netlist, a real mapping of a known design,
and a clear error for a block that does not exist."""

import argparse
import json

import pytest

from sw.config import load_config
from sw.flows import paths, synth
from tests.flows.probe import Probe

ROUTE = 0.5


def _cell(kind, **ports):
    """``ports``: name -> (direction, bits)."""
    return {"type": kind, "port_directions": {p: d for p, (d, _) in ports.items()},
            "connections": {p: bits for p, (_, bits) in ports.items()}}


def _ff(d, q):
    return _cell("TRELLIS_FF", DI=("input", [d]), CE=("input", ["1"]), CLK=("input", [99]),
                 Q=("output", [q]))


def _lut(z, *inputs):
    pins = dict(zip("ABCD", inputs))
    return _cell("LUT4", **{p: ("input", [b]) for p, b in pins.items()}, Z=("output", [z]))


def _netlist(cells):
    return {"modules": {"top": {"attributes": {"top": "00000000000000000000000000000001"},
                                "cells": cells}}}


def test_estimate_of_a_known_netlist():
    # a -> LUT -> LUT -> PFUMX -> b; a -> c directly; c -> carry chain of two CCU2C -> d.
    cells = {
        "a_TRELLIS_FF_Q": _ff(20, 10),
        "x_LUT4_Z": _lut(11, 10),
        "y_LUT4_Z": _lut(12, 11, 10),
        "y_PFUMX_Z": _cell("PFUMX", ALUT=("input", [12]), BLUT=("input", [11]),
                           C0=("input", [10]), Z=("output", [13])),
        "b_TRELLIS_FF_Q_3": _ff(13, 14),
        "c_TRELLIS_FF_Q": _ff(10, 15),
        "s_CCU2C_S0": _cell("CCU2C", A0=("input", [15]), CIN=("input", ["0"]),
                            COUT=("output", [16]), S0=("output", [17])),
        "s_CCU2C_S0_1": _cell("CCU2C", A0=("input", ["0"]), CIN=("input", [16]),
                              COUT=("output", [18]), S1=("output", [19])),
        "d_TRELLIS_FF_Q": _ff(19, 20),
    }
    rows = paths.analyse(_netlist(cells), route_ns=ROUTE, threshold_ns=0.0)
    clk_q = paths.CLOCK_TO_OUTPUT_NS
    expected = {
        ("a", "b"): (3, clk_q + 3 * ROUTE + 0.24 + 0.24 + 0.25 + ROUTE),
        ("c", "d"): (1, clk_q + ROUTE + 0.35 + paths.CARRY_SUM_NS + ROUTE),
        ("a", "c"): (0, clk_q + ROUTE),
        ("d", "a"): (0, clk_q + ROUTE),
    }
    found = {(r["start"], r["end"]): (r["cells"], r["estimate_ns"]) for r in rows}
    assert found.keys() == expected.keys()
    for key, (depth, ns) in expected.items():
        assert found[key] == (depth, round(ns, 2)), key
    assert [(r["start"], r["end"]) for r in rows][:2] == [("a", "b"), ("c", "d")]
    assert all(r["port"] == "DI" and r["endpoints"] == 1 for r in rows)
    above = paths.analyse(_netlist(cells), route_ns=ROUTE, threshold_ns=2.0)
    assert [(r["start"], r["end"]) for r in above] == [("a", "b"), ("c", "d")]


def test_mapped_probe_has_its_accumulator_path(tmp_path):
    config = load_config(preset="default")
    design = synth.prepare(Probe(), "probe", config)
    netlist = json.loads(paths.map_netlist(design, tmp_path).read_text())
    rows = paths.analyse(netlist, threshold_ns=0.0)
    assert rows, "no register-to-register path found"
    accumulator = [r for r in rows if r["end"].endswith("total") and r["port"] == "DI"]
    assert accumulator and accumulator[0]["cells"] >= 1
    assert all(r["estimate_ns"] >= paths.CLOCK_TO_OUTPUT_NS for r in rows)
    assert json.loads(json.dumps(rows)) == rows


def test_unknown_block_and_bad_delays_are_named():
    parser = argparse.ArgumentParser()
    paths.add_arguments(parser)
    args = parser.parse_args(["--block", "nope", "--route-ns", "-1"])
    with pytest.raises(ValueError) as info:
        paths.main(args, load_config(preset="default"))
    assert "block 'nope' (allowed: " in str(info.value)
    assert "--route-ns" in str(info.value)


def _routed_report():
    """A nextpnr ``--detailed-timing-report`` shape: arrival times (min, max) per endpoint."""
    def net(name, *sinks):
        return {"net": name, "driver": f"{name}_LUT4_Z", "port": "F", "endpoints": [
            {"cell": cell, "port": port, "delay": [1.0, arrival]} for cell, port, arrival in sinks]}
    return {"fmax": {}, "detailed_net_timings": [
        net("n1", ("dut.ema.writer.chip_TRELLIS_FF_Q", "CE", 12.6),
            ("dut.ema.writer.chip_TRELLIS_FF_Q_3", "CE", 11.0),
            ("dut.ema.writer.chip_TRELLIS_FF_Q_4", "DI", 9.9)),
        net("n2", ("dut.dbsc.acc_TRELLIS_FF_Q_1", "M", 10.5),
            ("dut.dbsc.pe_0_0.w_TRELLIS_FF_Q", "CE", 10.0)),
    ]}


def test_routed_endpoints_are_grouped_by_register_and_block():
    found = paths.routed_endpoints(_routed_report(), threshold_ns=10.0, depth=2)
    assert found["groups"] == [
        {"end": "dut.ema.writer.chip", "port": "CE", "worst_ns": 12.6, "endpoints": 2},
        {"end": "dut.dbsc.acc", "port": "M", "worst_ns": 10.5, "endpoints": 1},
    ]
    assert found["blocks"] == {"dut.ema": 2, "dut.dbsc": 1}
    everything = paths.routed_endpoints(_routed_report(), threshold_ns=0.0)
    assert sum(row["endpoints"] for row in everything["groups"]) == 5
    with pytest.raises(ValueError, match="--detailed-timing-report"):
        paths.routed_endpoints({"fmax": {}}, threshold_ns=10.0)


def test_routed_cli_writes_its_report(tmp_path, capsys):
    source = tmp_path / "report.json"
    source.write_text(json.dumps(_routed_report()))
    parser = argparse.ArgumentParser()
    paths.add_arguments(parser)
    args = parser.parse_args(["--routed", str(source), "--threshold-ns", "10",
                              "--out", str(tmp_path / "out")])
    assert paths.main(args, load_config(preset="default")) == 0
    written = json.loads((tmp_path / "out" / "paths-top-routed.json").read_text())
    assert written["kind"].startswith("measured")
    assert [row["endpoints"] for row in written["groups"]] == [2, 1]
    assert "3 register endpoints arrive after 10.0 ns" in capsys.readouterr().out
    args = parser.parse_args(["--routed", str(tmp_path / "missing.json")])
    with pytest.raises(ValueError, match="is not a file"):
        paths.main(args, load_config(preset="default"))
