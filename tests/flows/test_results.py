"""``sdproc results``: the page follows the reports, and says what is missing."""

import csv
import json

from sw.flows import results, synth


def _row(block, target, **metrics):
    row = {key: None for key in synth.ROW_KEYS}
    row.update(block=block, target=target, label=synth.LABELS[target], config_hash="abcd1234",
               source_hash="s", status="ok", message="", seconds=1.0, **metrics)
    return row


def test_empty_reports_name_the_commands(tmp_path):
    page = results.render(tmp_path)
    for command in ("make synth", "make sweep", "make lint", "make reproduce"):
        assert f"Not run yet: `{command}`" in page or command in page
    assert "Not run yet: `make synth`." in page


def test_page_holds_synth_comparison_sweep_and_reproduction(tmp_path):
    rows = [
        _row("dbsc", "generic", cells=1000, ff=100, memory_bits=0, transistors=9000, depth=30,
             breakdown={"(self)": {"cells": 200, "ff": 20}, "pe_*_*": {"cells": 800, "ff": 80}}),
        _row("dbsc", "ecp5-nodsp", lut=500, ff=100, dsp=0, bram=0, fmax_mhz=123.4,
             critical_path="a -> b: 3 steps, 8.00 ns"),
        _row("dbsc_baseline", "generic", cells=2000, ff=120, memory_bits=0, transistors=20000,
             depth=40, breakdown={"(self)": {"cells": 2000, "ff": 120}}),
        _row("dbsc_baseline", "ecp5-nodsp", lut=1000, ff=120, dsp=0, bram=0, fmax_mhz=100.0),
    ]
    (tmp_path / "synth.json").write_text(json.dumps(rows))
    (tmp_path / "synth_run.json").write_text(json.dumps({
        "command": "sdproc synth --preset default --block all", "config": "default",
        "config_hash": "abcd1234", "clock_mhz": 100.0, "wall_seconds": 42.0, "jobs": 2,
        "cached": 0}))
    with (tmp_path / "sweep.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, ["module", "config_hash", "dbsc.rows", "cells", "lut",
                                    "fmax_mhz", "area_um2", "peak_ops_per_cycle"])
        writer.writeheader()
        writer.writerow({"module": "dbsc", "config_hash": "h1", "dbsc.rows": 2, "cells": 10,
                         "lut": 5, "fmax_mhz": 150, "peak_ops_per_cycle": 16})
        writer.writerow({"module": "dbsc_baseline", "config_hash": "h2", "dbsc.rows": 2,
                         "cells": 20, "lut": 9, "fmax_mhz": 120, "peak_ops_per_cycle": 8})
    (tmp_path / "reproduce.md").write_text("# Reproduction\n\n| claim | paper |\n")
    page = results.render(tmp_path)
    assert "**42 s**" in page
    assert "| dbsc | 1,000 | 100 | 0 | 9,000 | 30 |" in page
    assert "| pe_*_* | 800 | 80.0 % | 80 |" in page
    assert "| cells | 1,000 | 2,000 | 0.50 |" in page
    assert "| rows=2 | 10 / 20 | 5 / 9 | 150 / 120 |" in page
    assert "## Reproduction" in page
    assert synth.LABELS["asic-osu018"] in page
