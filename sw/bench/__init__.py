"""``sdproc bench``: every module in this package is one benchmark.

A benchmark module exposes ``run(config) -> dict`` returning JSON-ready figures (measured from
RTL simulation or golden models, never asserted on). ``sdproc bench`` writes each result to
``build/bench/<name>.json`` together with the config it ran on and the wall time.
"""

import importlib
import json
import pkgutil
import time

from rich.console import Console
from rich.table import Table

from sw.flows.emit import BUILD_ROOT

__all__ = ["available", "add_arguments", "main"]


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def add_arguments(parser):
    parser.add_argument("--only", metavar="NAME", action="append", default=None,
                        help="run only this benchmark (repeatable; default: all)")
    parser.add_argument("--out", metavar="DIR", default=str(BUILD_ROOT / "bench"),
                        help="output directory (default: build/bench)")


def main(args, config) -> int:
    from pathlib import Path

    names = available()
    selected = args.only or names
    unknown = [n for n in selected if n not in names]
    if unknown:
        raise ValueError(f"unknown benchmark {', '.join(unknown)} (allowed: {', '.join(names)})")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    console = Console()
    for name in selected:
        module = importlib.import_module(f"{__name__}.{name}")
        console.print(f"[bold]bench {name}[/bold] on {config.build_name} ...")
        start = time.monotonic()
        figures = module.run(config)
        seconds = time.monotonic() - start
        record = {"benchmark": name, "config": config.to_dict(), "config_hash": config.hash,
                  "wall_seconds": round(seconds, 2), "results": figures}
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        table = Table(title=f"{name} ({path})")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for key, value in figures.items():
            table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
        console.print(table)
    return 0
