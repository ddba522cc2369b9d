"""``sdproc sweep``: synthesize modules over a grid of parameters (``configs/sweep.toml``).

Every combination of the axes (dotted config keys, each with a list of values) applied to the
base config is one *point*; every module named in the spec is synthesized at every point on the
spec's targets (:mod:`sw.flows.synth`, cached as there). A combination the config rejects is
counted and left out. Rows are appended to the CSV as they finish, so an interrupted sweep
resumes where it stopped: a (module, config hash) already in the CSV is not redone.
Points run ``jobs`` at a time; at the end a Pareto plot of throughput per area against Fmax is
drawn from the whole CSV.
"""

import csv
import itertools
import json
import os
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from sw.config import CONFIG_DIR, ProcessorConfig
from sw.flows import synth
from sw.flows.emit import BUILD_ROOT

__all__ = ["METRIC_COLUMNS", "SweepSpec", "load_spec", "points", "run_sweep", "pareto_front",
           "plot_pareto", "add_arguments", "main"]

METRIC_COLUMNS = ("cells", "transistors", "depth", "lut", "ff", "dsp", "fmax_mhz", "area_um2",
                  "critical_ns", "peak_ops_per_cycle", "seconds")

#: Which target gives each metric, first choice first.
_SOURCES = {
    "cells": ("generic",), "transistors": ("generic",), "depth": ("generic",),
    "ff": ("generic", "ecp5-nodsp", "ecp5", "asic-osu018"),
    "lut": ("ecp5-nodsp", "ecp5"), "dsp": ("ecp5-nodsp", "ecp5"),
    "fmax_mhz": ("ecp5-nodsp", "ecp5", "ice40"),
    "area_um2": ("asic-osu018",), "critical_ns": ("asic-osu018",),
}


class SweepSpec:
    """A parsed sweep file: ``modules``, ``targets``, ``jobs`` and ``axes`` (key -> values)."""

    def __init__(self, modules, targets, axes, jobs=2):
        errors = []
        if not modules:
            errors.append("modules: at least one module")
        bad = [t for t in targets if t not in synth.TARGETS]
        if bad or not targets:
            errors.append(f"targets={list(targets)!r} must be a non-empty subset of "
                          f"{', '.join(synth.TARGETS)}")
        if not axes:
            errors.append("axes: at least one axis")
        for key, values in axes.items():
            if "." not in key:
                errors.append(f"axes.{key}: expected a dotted config key such as dbsc.rows")
            if not isinstance(values, list) or not values:
                errors.append(f"axes.{key}={values!r} must be a non-empty list")
        if not isinstance(jobs, int) or not 1 <= jobs <= 64:
            errors.append(f"jobs={jobs!r} must be an integer in [1, 64]")
        if errors:
            raise ValueError("invalid sweep specification:\n  " + "\n  ".join(errors))
        self.modules = list(modules)
        self.targets = list(targets)
        self.axes = dict(axes)
        self.jobs = jobs

    @property
    def columns(self) -> list[str]:
        return ["module", "config_hash", *self.axes, *METRIC_COLUMNS]


def load_spec(path: Path) -> SweepSpec:
    with Path(path).open("rb") as f:
        data = tomllib.load(f)
    return SweepSpec(data.get("modules", []), data.get("targets", []), data.get("axes", {}),
                     data.get("jobs", 2))


def points(spec: SweepSpec, base: ProcessorConfig) -> tuple[list[tuple[dict, ProcessorConfig]],
                                                             list[str]]:
    """Valid (axis values, config) pairs of the grid, and why each rejected one was rejected."""
    valid, rejected = [], []
    for values in itertools.product(*spec.axes.values()):
        point = dict(zip(spec.axes, values))
        try:
            valid.append((point, base.replace(**point)))
        except ValueError as e:
            rejected.append(f"{point}: {str(e).splitlines()[-1].strip()}")
    return valid, rejected


def _peak_ops_per_cycle(component):
    """Operations per cycle at low precision, for modules that are MAC arrays: 2 per MAC, one
    activation per PE every ``slices_low`` cycles, over the array shape the component was
    built with (which need not be the config's: the baseline is built narrower)."""
    if hasattr(component, "peak_ops_per_cycle"):
        return component.peak_ops_per_cycle
    slices = getattr(component, "slices_low", None)
    shape = getattr(component, "config", None)
    if slices and hasattr(shape, "rows") and hasattr(shape, "cols"):
        return 2 * shape.rows * shape.cols / slices
    return None


def _row(module: str, point: dict, config: ProcessorConfig, rows: list[dict], peak,
         seconds: float) -> dict:
    by_target = {row["target"]: row for row in rows if row["status"] == "ok"}
    out = {"module": module, "config_hash": config.hash, **point}
    for metric, sources in _SOURCES.items():
        out[metric] = next((by_target[t][metric] for t in sources
                            if t in by_target and by_target[t][metric] is not None), None)
    out["peak_ops_per_cycle"] = peak
    out["seconds"] = round(seconds, 2)
    return out


def _done_keys(path: Path, columns: list[str]) -> set[tuple[str, str]]:
    if not path.exists():
        return set()
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns:
            raise ValueError(f"{path} has columns {reader.fieldnames}, the sweep spec gives "
                             f"{columns}: move the old CSV away or pass --out")
        return {(row["module"], row["config_hash"]) for row in reader}


def run_sweep(spec: SweepSpec, base: ProcessorConfig, csv_path: Path, *, jobs: int | None = None,
              progress=None, fetch_tools: bool = True) -> dict:
    """Run every point not yet in ``csv_path``; returns a summary (counts and wall times)."""
    from hw import registry

    known = registry.blocks()
    unknown = [m for m in spec.modules if m not in known]
    if unknown:
        raise ValueError(f"invalid sweep specification:\n  modules: unknown {', '.join(unknown)} "
                         f"(allowed: {', '.join(sorted(known))})")
    valid, rejected = points(spec, base)
    done = _done_keys(csv_path, spec.columns)
    todo = [(module, point, config) for point, config in valid for module in spec.modules
            if (module, config.hash) not in done]
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    if not csv_path.exists():
        with csv_path.open("w", newline="") as f:
            csv.DictWriter(f, spec.columns).writeheader()
    lock = threading.Lock()

    def one(module, point, config):
        start = time.monotonic()
        component = known[module](config)
        design = synth.prepare(component, module, config)
        rows = synth.synthesize_blocks([design], spec.targets, jobs=1, fetch_tools=fetch_tools)
        row = _row(module, point, config, rows, _peak_ops_per_cycle(component),
                   time.monotonic() - start)
        with lock:
            with csv_path.open("a", newline="") as f:
                csv.DictWriter(f, spec.columns).writerow(row)
        return row, [r for r in rows if r["status"] != "ok"]

    start = time.monotonic()
    problems = []
    with ThreadPoolExecutor(max_workers=jobs or spec.jobs) as pool:
        futures = [pool.submit(one, *task) for task in todo]
        for future in as_completed(futures):
            row, bad = future.result()
            problems += [f"{r['block']} {r['config_hash']} {r['target']}: {r['status']}: "
                         f"{r['message'].splitlines()[0]}" for r in bad]
            if progress is not None:
                progress(row)
    return {"points": len(valid), "rejected": rejected, "skipped_done": len(valid) *
            len(spec.modules) - len(todo), "run": len(todo),
            "wall_seconds": round(time.monotonic() - start, 2), "problems": problems}


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _throughput_per_area(row: dict):
    """Giga-operations per second per unit of area (um^2 when the ASIC target ran, else LUTs)."""
    try:
        fmax, peak = float(row["fmax_mhz"]), float(row["peak_ops_per_cycle"])
    except (TypeError, ValueError):
        return None, None
    for key, unit in (("area_um2", "mm^2"), ("lut", "kLUT")):
        try:
            area = float(row[key])
        except (TypeError, ValueError):
            continue
        scale = 1e6 if key == "area_um2" else 1e3
        return peak * fmax / 1e3 / (area / scale), f"GOPS/{unit}"
    return None, None


def pareto_front(items: list[tuple[float, float]]) -> list[int]:
    """Indices of the points not dominated in both coordinates (larger is better)."""
    front = []
    for i, (x, y) in enumerate(items):
        if not any((ox >= x and oy >= y) and (ox > x or oy > y) for ox, oy in items):
            front.append(i)
    return front


def plot_pareto(csv_path: Path, png_path: Path) -> Path | None:
    """Throughput per area against Fmax, one colour per module, the Pareto front joined."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _read_csv(csv_path)
    plotted = []
    for row in rows:
        value, unit = _throughput_per_area(row)
        if value is not None:
            plotted.append((row, float(row["fmax_mhz"]), value, unit))
    if not plotted:
        return None
    units = {unit for *_, unit in plotted}
    unit = "GOPS/mm^2" if "GOPS/mm^2" in units else units.pop()
    plotted = [p for p in plotted if p[3] == unit]
    fig, ax = plt.subplots(figsize=(7, 5))
    for module in sorted({p[0]["module"] for p in plotted}):
        xs = [p[1] for p in plotted if p[0]["module"] == module]
        ys = [p[2] for p in plotted if p[0]["module"] == module]
        ax.scatter(xs, ys, label=module)
    coords = [(p[1], p[2]) for p in plotted]
    front = sorted((coords[i] for i in pareto_front(coords)))
    ax.plot([c[0] for c in front], [c[1] for c in front], "k--", linewidth=1,
            label="Pareto front")
    ax.set_xlabel("ECP5 -nodsp Fmax (MHz, place-and-route)")
    area_label = ("0.18 um standard-cell estimate" if unit == "GOPS/mm^2" else "ECP5 LUTs")
    ax.set_ylabel(f"peak {unit} (low precision)")
    ax.set_title(f"sdproc sweep, {len(plotted)} points: throughput per area\n"
                 f"(area: {area_label})", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=120)
    plt.close(fig)
    return png_path


def add_arguments(parser):
    parser.add_argument("--spec", type=Path, default=CONFIG_DIR / "sweep.toml",
                        help="sweep file (default: configs/sweep.toml)")
    parser.add_argument("--out", type=Path, default=BUILD_ROOT / "reports" / "sweep.csv",
                        help="CSV, appended to (default: build/reports/sweep.csv); the PNG and "
                             "a JSON summary go beside it")
    parser.add_argument("--jobs", type=int, default=None,
                        help="points run at once (default: the spec's jobs)")
    parser.add_argument("--no-fetch-tools", dest="fetch_tools", action="store_false",
                        help="do not fetch OpenSTA and the OSU018 cells when missing")


def main(args, config) -> int:
    from rich.console import Console
    from rich.progress import Progress

    spec = load_spec(args.spec)
    console = Console()
    with Progress(console=console) as bar:
        task = bar.add_task("sweep", total=None)

        def advance(row):
            bar.update(task, advance=1,
                       description=f"sweep: {row['module']} {row['config_hash']} "
                                   f"({row['seconds']:.0f} s)")

        valid, _ = points(spec, config)
        bar.update(task, total=len(valid) * len(spec.modules))
        done = _done_keys(args.out, spec.columns)
        bar.update(task, completed=sum(1 for _, c in valid for m in spec.modules
                                       if (m, c.hash) in done))
        summary = run_sweep(spec, config, args.out, jobs=args.jobs, progress=advance,
                            fetch_tools=args.fetch_tools)
    png = plot_pareto(args.out, args.out.with_suffix(".png"))
    seconds = [float(r["seconds"]) for r in _read_csv(args.out) if r["seconds"]]
    summary.update(spec=str(args.spec), base_config=config.name, csv=str(args.out),
                   load_average=round(os.getloadavg()[1], 1), cpus=os.cpu_count(),
                   png=str(png) if png else None,
                   mean_point_seconds=round(sum(seconds) / len(seconds), 2) if seconds else None)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    console.print(f"sweep: {summary['run']} run, {summary['skipped_done']} already in "
                  f"{args.out}, {len(summary['rejected'])} combinations rejected by the config; "
                  f"{summary['wall_seconds']:.0f} s; plot {png}")
    for line in summary["problems"]:
        console.print(f"[yellow]{line}[/yellow]")
    return 0
