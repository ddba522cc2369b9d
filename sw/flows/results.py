"""``sdproc results``: regenerate ``docs/results.md`` from ``build/reports/``.

The page is never edited by hand. Each section comes from one report and names the command
that produced it; a report that does not exist yet is listed with that command instead. Every
figure carries its kind: FPGA place-and-route, Yosys generic-gate estimate, 0.18 um
standard-cell estimate, or model (the reproduction table, written by ``sdproc reproduce``).
"""

import csv
import json
import shutil
from pathlib import Path

from sw.flows.emit import BUILD_ROOT, REPO_ROOT
from sw.flows.synth import LABELS

__all__ = ["render", "add_arguments", "main"]

REPORTS = BUILD_ROOT / "reports"
DOCS = REPO_ROOT / "docs"

_BASELINE_PAIRS = (("dbsc", "dbsc_baseline"),)


def _fmt(value, digits=1):
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(head, rows) -> list[str]:
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" if i == 0 else "--:" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _by_block(rows):
    blocks = {}
    for row in rows:
        blocks.setdefault(row["block"], {})[row["target"]] = row
    return blocks


def _metric(targets, target, key):
    row = targets.get(target)
    if row is None or row["status"] != "ok":
        return None
    return row[key]


def _load(run) -> str:
    """The machine's load while measuring: other work on the same cores stretches wall time."""
    if run.get("load_average") is None:
        return ""
    return (f", 5-minute load average {run['load_average']} at the end on {run['cpus']} "
            f"cores")


def _synth_section(rows, run) -> list[str]:
    out = ["## Area and timing of every block", ""]
    if run:
        out += [f"Command: `{run['command']}` (config `{run['config']}`, hash "
                f"`{run['config_hash']}`, clock target {run['clock_mhz']:g} MHz). Wall time "
                f"**{run['wall_seconds']:.0f} s** on {run['jobs']} parallel jobs, "
                f"{run['cached']} of {len(rows)} results reused from the cache "
                f"(`build/synth/cache`){_load(run)}; the full per-target table is "
                f"`build/reports/synth.md`.", ""]
    out += ["Kinds of figure: cells, flip-flops, memory bits, transistors and depth are a "
            f"**{LABELS['generic']}** (depth in gates, transistors from `stat -tech cmos`, "
            "memories unmapped and counted apart); LUT, DSP and Fmax are "
            f"**{LABELS['ecp5-nodsp'].replace(' (no DSPs)', '')}** of the block inside the "
            "IO-free registered harness; area and critical path are a "
            f"**{LABELS['asic-osu018']}**, not a 28 nm figure. See docs/synthesis.md.", ""]
    head = ["block", "cells", "FF", "mem bits", "transistors", "depth", "ECP5 LUT",
            "ECP5 DSP", "ECP5 Fmax", "ECP5 -nodsp LUT", "ECP5 -nodsp Fmax", "iCE40 Fmax",
            "0.18 um area um^2", "0.18 um critical ns"]
    body = []
    notes = []
    for block, targets in sorted(_by_block(rows).items()):
        body.append([
            block, *(_fmt(_metric(targets, "generic", k)) for k in
                     ("cells", "ff", "memory_bits", "transistors", "depth")),
            _fmt(_metric(targets, "ecp5", "lut")), _fmt(_metric(targets, "ecp5", "dsp")),
            _fmt(_metric(targets, "ecp5", "fmax_mhz")),
            _fmt(_metric(targets, "ecp5-nodsp", "lut")),
            _fmt(_metric(targets, "ecp5-nodsp", "fmax_mhz")),
            _fmt(_metric(targets, "ice40", "fmax_mhz")),
            _fmt(_metric(targets, "asic-osu018", "area_um2"), 0),
            _fmt(_metric(targets, "asic-osu018", "critical_ns"), 2),
        ])
        for target, row in targets.items():
            if row["status"] != "ok" or row["message"]:
                notes.append(f"- {block} / {target}: {row['status']}: "
                             f"{row['message'].splitlines()[0] if row['message'] else ''}")
    out += _table(head, body)
    if notes:
        out += ["", "Notes:", *notes]
    out += [""]
    for block, targets in sorted(_by_block(rows).items()):
        generic = targets.get("generic")
        if not generic or generic["status"] != "ok" or len(generic["breakdown"] or {}) < 2:
            continue
        total = max(generic["cells"], 1)
        out += [f"### {block}: cells per submodule ({LABELS['generic']})", ""]
        out += _table(["submodule", "cells", "share", "FF"],
                      [[group, _fmt(data["cells"]), f"{100 * data['cells'] / total:.1f} %",
                        _fmt(data["ff"])] for group, data in generic["breakdown"].items()])
        out += [""]
    critical = [(block, t, row["critical_path"]) for block, targets in
                sorted(_by_block(rows).items()) for t, row in targets.items()
                if t == "ecp5-nodsp" and row.get("critical_path")]
    if critical:
        out += ["### ECP5 (-nodsp) critical paths (nextpnr)", ""]
        out += [f"- {block}: `{path}`" for block, _, path in critical] + [""]
    return out


def _comparison_section(rows, sweep_rows) -> list[str]:
    blocks = _by_block(rows)
    out = ["## DBSC bit-slice array against the bit-parallel baseline", ""]
    pairs = [(a, b) for a, b in _BASELINE_PAIRS if a in blocks and b in blocks]
    if not pairs and not sweep_rows:
        return out + ["Not measured yet: needs `dbsc` and `dbsc_baseline` in "
                      "`build/reports/synth.json` (`make synth`).", ""]
    metrics = [("cells", "generic", "cells"), ("transistors", "generic", "transistors"),
               ("depth (gates)", "generic", "depth"), ("ECP5 -nodsp LUT", "ecp5-nodsp", "lut"),
               ("ECP5 -nodsp Fmax MHz", "ecp5-nodsp", "fmax_mhz"),
               ("ECP5 LUT (DSPs used)", "ecp5", "lut"), ("ECP5 DSP", "ecp5", "dsp"),
               ("0.18 um area um^2", "asic-osu018", "area_um2"),
               ("0.18 um critical ns", "asic-osu018", "critical_ns")]
    for ours, base in pairs:
        out += [f"Default config, `make synth` (same rows as above): `{ours}` against "
                f"`{base}` as registered (the baseline at equal peak 8-bit throughput).", ""]
        body = []
        for label, target, key in metrics:
            a, b = _metric(blocks[ours], target, key), _metric(blocks[base], target, key)
            ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and b else "-"
            body.append([label, _fmt(a, 2), _fmt(b, 2), ratio])
        out += _table(["figure", ours, base, "ratio"], body) + [""]
    if sweep_rows:
        out += ["Across the sweep (`make sweep`, `build/reports/sweep.csv`), same parameters "
                "side by side:", ""]
        keyed = {}
        params = [c for c in sweep_rows[0] if c not in (
            "module", "config_hash", "cells", "transistors", "depth", "lut", "ff", "dsp",
            "fmax_mhz", "area_um2", "critical_ns", "peak_ops_per_cycle", "seconds")]
        for row in sweep_rows:
            keyed.setdefault(tuple(row[p] for p in params), {})[row["module"]] = row
        body = []
        for ours, base in _BASELINE_PAIRS:
            for key, modules in sorted(keyed.items()):
                if ours in modules and base in modules:
                    a, b = modules[ours], modules[base]
                    body.append([", ".join(f"{p.split('.')[-1]}={v}" for p, v in
                                           zip(params, key)),
                                 *(f"{a[m] or '-'} / {b[m] or '-'}" for m in
                                   ("cells", "lut", "fmax_mhz", "area_um2",
                                    "peak_ops_per_cycle"))])
        out += _table(["point", "cells", "ECP5 -nodsp LUT", "Fmax MHz", "0.18 um um^2",
                       "peak ops/cycle (low precision)"], body)
        out += ["", "Each cell is `dbsc / dbsc_baseline`, each module as the registry builds it "
                "from the point's config: the baseline has `cols / slices_high` columns, i.e. "
                "the same peak 8-bit throughput (hw/dbsc). Peak operations per cycle count 2 "
                "per MAC with every token at low precision (the baseline spends one cycle per "
                "token whatever its precision).", ""]
    return out


def _sweep_section(summary, sweep_rows, png) -> list[str]:
    out = ["## Design-space sweep", ""]
    if not sweep_rows:
        return out + ["Not run yet: `make sweep` (spec `configs/sweep.toml`).", ""]
    if summary:
        out += [f"Command: `sdproc sweep --spec {Path(summary['spec']).name}` on base config "
                f"`{summary['base_config']}`: {summary['points']} valid points x modules, "
                f"{len(summary['rejected'])} combinations rejected by the config. Last run: "
                f"{summary['run']} computed, {summary['skipped_done']} already in the CSV, "
                f"{summary['wall_seconds']:.0f} s wall. Mean wall time of one (point, module) "
                f"on all targets: **{summary['mean_point_seconds']} s**{_load(summary)}.", ""]
    if png:
        out += [f"![Pareto plot: throughput per area against Fmax]({png})", ""]
    columns = list(sweep_rows[0])
    out += _table(columns, [[row[c] or "-" for c in columns] for row in sweep_rows]) + [""]
    return out


def _lint_section(lint) -> list[str]:
    out = ["## Verilator lint", ""]
    if lint is None:
        return out + ["Not run yet: `make lint`.", ""]
    out += [f"Command: `make lint` (config hash `{lint['config_hash']}`; waived classes, "
            f"produced by Amaranth's emitter: {', '.join(lint['waived']) or 'none'}).", ""]
    body = []
    for block, findings in sorted(lint["findings"].items()):
        kinds = {}
        for finding in findings:
            kinds[finding["kind"]] = kinds.get(finding["kind"], 0) + 1
        body.append([block, ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                     or "clean"])
    return out + _table(["block", "findings"], body) + [""]


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def render(reports: Path = REPORTS, image_dir: Path | None = None) -> str:
    """The Markdown of docs/results.md from the reports in ``reports``; the sweep plot is
    copied into ``image_dir`` (relative links assume it is beside the page)."""
    rows = _read_json(reports / "synth.json") or []
    run = _read_json(reports / "synth_run.json")
    summary = _read_json(reports / "sweep.json")
    sweep_csv = reports / "sweep.csv"
    sweep_rows = list(csv.DictReader(sweep_csv.open(newline=""))) if sweep_csv.exists() else []
    png = None
    if image_dir is not None and (reports / "sweep.png").exists():
        image_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(reports / "sweep.png", image_dir / "sweep.png")
        png = f"{image_dir.name}/sweep.png"
    out = ["# Results", "",
           "Generated by `make results` (`sdproc results`) from `build/reports/`; do not edit by "
           "hand. Commands that refresh the inputs: `make synth`, `make sweep`, `make lint`, "
           "`make reproduce`.", ""]
    if rows:
        out += _synth_section(rows, run)
    else:
        out += ["## Area and timing of every block", "", "Not run yet: `make synth`.", ""]
    out += _comparison_section(rows, sweep_rows)
    out += _sweep_section(summary, sweep_rows, png)
    out += _lint_section(_read_json(reports / "lint.json"))
    reproduce = reports / "reproduce.md"
    out += ["## The paper's figures next to this project's", ""]
    if reproduce.exists():
        text = reproduce.read_text().strip()
        # Demote its headings so that they nest under this section.
        out += ["#" + line if line.startswith("#") else line for line in text.splitlines()]
        out += [""]
    else:
        out += ["Not run yet: `make reproduce` writes `build/reports/reproduce.md`.", ""]
    return "\n".join(out)


def add_arguments(parser):
    parser.add_argument("--reports", type=Path, default=REPORTS,
                        help="where the reports are (default: build/reports)")
    parser.add_argument("--out", type=Path, default=DOCS / "results.md",
                        help="page to write (default: docs/results.md)")


def main(args, config) -> int:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(args.reports, args.out.parent / "img"))
    print(args.out)
    return 0
