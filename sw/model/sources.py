"""Where each figure of the model comes from, looked up at run time.

A :class:`Figure` carries a value with its provenance: ``measured`` (RTL simulation, read from a
benchmark's ``build/bench/<name>.json``), ``synthesized`` (``build/reports/synth.json``) or
``modeled`` (a golden model run here, a formula, or a labelled assumption). :class:`Sources`
reads whatever the other blocks have produced so far; every look-up falls back to the next
source, so the report becomes more exact as benchmarks land, without code changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sw.flows.emit import BUILD_ROOT, REPO_ROOT

__all__ = ["KINDS", "Figure", "Sources", "flatten"]

KINDS = ("measured", "synthesized", "modeled")


@dataclass(frozen=True)
class Figure:
    """A number and where it came from.

    Parameters
    ----------
    value : float
        The figure.
    kind : str
        ``measured``, ``synthesized`` or ``modeled``.
    source : str
        File and key, module and function, or assumption id that produced it.
    note : str
        One line for the report.
    """

    value: float
    kind: str
    source: str
    note: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} must be one of {', '.join(KINDS)}")

    def to_dict(self) -> dict:
        return {"value": self.value, "kind": self.kind, "source": self.source,
                "note": self.note}


def flatten(data, prefix: str = "") -> dict:
    """Nested dicts as ``a.b.c`` keys (lists are left as values)."""
    out = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
    else:
        out[prefix[:-1]] = data
    return out


class Sources:
    """The benchmark and synthesis outputs present in a build directory.

    Parameters
    ----------
    build_root : Path
        Directory holding ``bench/*.json`` and ``reports/synth.json`` (default: ``build/``).
    """

    def __init__(self, build_root: Path | None = None):
        self.build_root = Path(build_root) if build_root is not None else BUILD_ROOT
        self.bench: dict[str, dict] = {}
        bench_dir = self.build_root / "bench"
        if bench_dir.is_dir():
            for path in sorted(bench_dir.glob("*.json")):
                record = _read_json(path)
                if isinstance(record, dict):
                    self.bench[path.stem] = record
        self.synth = _read_json(self.build_root / "reports" / "synth.json")

    def bench_value(self, bench: str, *keys: str) -> tuple[float, str] | None:
        """The numeric result of benchmark ``bench`` under one of ``keys`` (tried in order),
        with a ``file: key`` provenance string. A key matches its whole dotted path first,
        else the last part of a nested path."""
        record = self.bench.get(bench)
        if not record:
            return None
        flat = {k: v for k, v in flatten(record.get("results", {})).items() if _is_number(v)}
        for wanted in keys:
            if wanted in flat:
                return float(flat[wanted]), f"build/bench/{bench}.json: results.{wanted}"
            for key, value in flat.items():
                if key.rsplit(".", 1)[-1] == wanted:
                    return float(value), f"build/bench/{bench}.json: results.{key}"
        return None

    def bench_entry(self, bench: str, key: str):
        """A top-level result of benchmark ``bench`` as stored (any type), or ``None``."""
        return self.bench.get(bench, {}).get("results", {}).get(key)

    def bench_config_hash(self, bench: str) -> str | None:
        record = self.bench.get(bench)
        return record.get("config_hash") if record else None

    def synth_rows(self, config_hash: str, blocks=("top", "dbsc")) -> list[dict]:
        """Successful ``synth.json`` rows (``sdproc synth``) of these blocks for this config:
        ``block``, ``target``, ``label`` and the numeric metrics each target measured."""
        if not isinstance(self.synth, list):
            return []
        out = []
        for row in self.synth:
            if not isinstance(row, dict) or row.get("config_hash") != config_hash:
                continue
            if row.get("block") not in blocks or row.get("status") not in ("ok", None):
                continue
            metrics = {k: row[k] for k in ("fmax_mhz", "area_um2", "critical_ns", "cells",
                                           "transistors", "lut", "ff", "dsp")
                       if _is_number(row.get(k))}
            out.append({"block": row["block"], "target": row.get("target"),
                        "label": row.get("label", ""), "source": "build/reports/synth.json",
                        **metrics})
        return out

    def listing(self) -> dict:
        """Which outputs were found (for the report)."""
        return {"bench": sorted(self.bench),
                "synth": isinstance(self.synth, list),
                "build_root": _shown(self.build_root)}


def _shown(path: Path) -> str:
    """A path relative to the repository when inside it (reports do not name machines)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
