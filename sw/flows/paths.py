"""``sdproc paths``: a block's deepest register-to-register paths, without place-and-route.

Place-and-route of the whole top takes 15 to 30 minutes and reports one critical path. This
estimate takes seconds to minutes and ranks every deep path: it maps the block inside the
flow's registered harness with Yosys ``synth_ecp5`` (``-nodsp`` by default), flattens it, and
walks the LUT netlist from every register, LUT-RAM and block-RAM output to every register,
LUT-RAM write and block-RAM input. A path's estimate is the clock-to-output, plus each cell's
logic delay, plus ``route_ns`` for every net it crosses; a carry chain's internal hops cost
their own small delay and no routing. Paths with the same start and end register (the name
Yosys gives the flip-flops, without the bit suffix) form one *family*.

With ``--routed REPORT`` it reads a nextpnr report written with ``--detailed-timing-report``
instead (every FPGA row of ``sdproc synth`` writes one:
``build/synth/<block>-<hash>/<target>/report.json``), and groups the register endpoints whose
post-route arrival time exceeds the threshold by register and port: **measured** after
place-and-route, but without the start of each path (nextpnr reports arrival times per
endpoint, and one critical path per clock).

The estimate's figures are a **model**, not a timing analysis: routing in a placed design varies from
0.2 ns (neighbouring cells) to 3 ns (high fan-out or far apart); in the default top, nets
average about 1 ns. It is meant to find and rank deep paths and to check that a change
shortened them; Fmax comes from ``sdproc synth`` (nextpnr).
"""

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from sw.flows import synth
from sw.flows.emit import BUILD_ROOT

__all__ = ["analyse", "routed_endpoints", "map_netlist", "add_arguments", "main"]

REPORTS = BUILD_ROOT / "reports"

#: ECP5 logic delays (ns), rounded from nextpnr's timing reports of this project's designs.
CLOCK_TO_OUTPUT_NS = 0.52
LOGIC_NS = {"LUT4": 0.24, "PFUMX": 0.25, "L6MUX21": 0.25, "CCU2C": 0.35,
            "TRELLIS_DPR16X4": 0.8}
CARRY_HOP_NS = 0.06
CARRY_SUM_NS = 0.25

#: Combinational arcs: output port -> input ports it depends on.
_ARCS = {
    "LUT4": {"Z": ("A", "B", "C", "D")},
    "PFUMX": {"Z": ("ALUT", "BLUT", "C0")},
    "L6MUX21": {"Z": ("D0", "D1", "SD")},
    "CCU2C": {"S0": ("A0", "B0", "C0", "D0", "CIN"),
              "S1": ("A0", "B0", "C0", "D0", "A1", "B1", "C1", "D1", "CIN"),
              "COUT": ("A0", "B0", "C0", "D0", "A1", "B1", "C1", "D1", "CIN")},
    "TRELLIS_DPR16X4": {"DO": ("RAD",)},
}
#: Inputs where a path ends, per sequential cell kind (block RAM: every data/address input).
_ENDS = {"TRELLIS_FF": ("DI", "CE", "LSR", "M"), "TRELLIS_DPR16X4": ("DI", "WAD", "WRE")}


def _base_name(cell: str) -> str:
    """The signal a mapped cell belongs to: Yosys names flip-flops ``<signal>_TRELLIS_FF_Q_<n>``
    and logic after the signal it drives, followed by the cell kinds."""
    cell = re.sub(r"_TRELLIS_FF_Q(_\d+)?$", "", cell)
    return re.sub(r"_(LUT4|PFUMX|L6MUX21|CCU2C)_.*$", "", cell)


def _end_ports(cell: dict):
    kind = cell["type"]
    if kind in _ENDS:
        return _ENDS[kind]
    if kind == "DP16KD":
        return tuple(p for p, d in cell["port_directions"].items()
                     if d == "input" and not p.startswith("CLK"))
    return ()


def analyse(netlist: dict, *, route_ns: float = 0.6, threshold_ns: float = 7.0) -> list[dict]:
    """Path families of a flattened ECP5 netlist (Yosys ``write_json``) whose estimate exceeds
    ``threshold_ns``, worst first: dicts of ``start``, ``end``, ``port``, ``cells``,
    ``estimate_ns``, ``endpoints``."""
    tops = [m for m, v in netlist["modules"].items() if v.get("attributes", {}).get("top")]
    if len(tops) != 1:
        raise ValueError(f"the netlist must have exactly one top module, found {len(tops)}")
    cells = netlist["modules"][tops[0]]["cells"]
    driver = {}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "output":
                for bit in bits:
                    if isinstance(bit, int):
                        driver[bit] = (name, port)

    # arrival[bit] = (ns, cells on the path, start cell), computed without recursion: a net is
    # settled once every net its driver's arc depends on is settled.
    arrival = {}

    def inputs_of(bit):
        name, port = driver[bit]
        cell = cells[name]
        for pin in _ARCS.get(cell["type"], {}).get(port, ()):
            for source in cell["connections"].get(pin, ()):
                if isinstance(source, int):
                    yield pin, source

    def settle(bit):
        stack, on_stack = [bit], {bit}
        while stack:
            top = stack[-1]
            if top in arrival:
                stack.pop()
                on_stack.discard(top)
                continue
            if top not in driver:
                arrival[top] = (0.0, 0, None)
                continue
            # (An input already on the stack would be a combinational loop: it counts as 0.)
            pending = [s for _, s in inputs_of(top) if s not in arrival and s not in on_stack]
            if pending:
                stack.extend(pending)
                on_stack.update(pending)
                continue
            name, port = driver[top]
            kind = cells[name]["type"]
            candidates = []
            for pin, source in inputs_of(top):
                ns, depth, start = arrival.get(source, (0.0, 0, None))
                if kind == "CCU2C" and pin == "CIN":
                    ns += CARRY_HOP_NS if port == "COUT" else CARRY_SUM_NS
                else:
                    ns += route_ns + LOGIC_NS.get(kind, 0.0)
                    depth += 1
                candidates.append((ns, depth, start))
            # No combinational arc: a register's, a RAM's or a block RAM's output.
            arrival[top] = max(candidates, key=lambda c: c[:2]) if candidates else (
                CLOCK_TO_OUTPUT_NS, 0, name)

    families = defaultdict(list)
    for name, cell in cells.items():
        for port in _end_ports(cell):
            for bit in cell["connections"].get(port, ()):
                if not isinstance(bit, int):
                    continue
                settle(bit)
                ns, depth, start = arrival[bit]
                ns += route_ns
                if ns > threshold_ns and start is not None:
                    families[(_base_name(start), _base_name(name), port)].append((ns, depth))
    rows = [dict(start=start, end=end, port=port, cells=max(found)[1],
                 estimate_ns=round(max(found)[0], 2), endpoints=len(found))
            for (start, end, port), found in families.items()]
    return sorted(rows, key=lambda r: (-r["estimate_ns"], -r["endpoints"], r["start"], r["end"]))


def routed_endpoints(report: dict, *, threshold_ns: float, depth: int = 2) -> dict:
    """Register endpoints of a nextpnr ``--detailed-timing-report`` whose arrival time exceeds
    ``threshold_ns``: ``groups`` (``end``, ``port``, ``worst_ns``, ``endpoints``; worst
    first) and ``blocks`` (endpoint counts per the first ``depth`` levels of the hierarchy)."""
    if "detailed_net_timings" not in report:
        raise ValueError("the report has no detailed_net_timings: run nextpnr with "
                         "--detailed-timing-report")
    groups = defaultdict(list)
    for net in report["detailed_net_timings"]:
        for sink in net["endpoints"]:
            arrival = max(sink["delay"])
            if arrival > threshold_ns:
                groups[(_base_name(sink["cell"]), sink["port"])].append(arrival)
    rows = sorted((dict(end=end, port=port, worst_ns=round(max(found), 2),
                        endpoints=len(found)) for (end, port), found in groups.items()),
                  key=lambda r: (-r["worst_ns"], -r["endpoints"], r["end"], r["port"]))
    blocks = defaultdict(int)
    for row in rows:
        blocks[".".join(row["end"].split(".")[:depth])] += row["endpoints"]
    return {"groups": rows,
            "blocks": dict(sorted(blocks.items(), key=lambda kv: (-kv[1], kv[0])))}


def map_netlist(design: synth.Design, workdir: Path, target: str = "ecp5-nodsp") -> Path:
    """Map ``design`` in the flow's harness with Yosys for ``target``; the flattened netlist."""
    if target not in ("ecp5", "ecp5-nodsp"):
        raise ValueError(f"paths: target must be ecp5 or ecp5-nodsp, not {target!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "harness.il").write_text(design.harness_rtlil)
    nodsp = " -nodsp" if target == "ecp5-nodsp" else ""
    top = synth._HARNESS_TOP
    synth._yosys(workdir, f"read_rtlil harness.il\nhierarchy -top {top}\n"
                          f"synth_ecp5{nodsp} -top {top}\nflatten\nwrite_json netlist.json\n",
                 name="paths")
    return workdir / "netlist.json"


def add_arguments(parser):
    parser.add_argument("--block", default="top", help="block to analyse (default: top)")
    parser.add_argument("--target", default="ecp5-nodsp", choices=("ecp5", "ecp5-nodsp"))
    parser.add_argument("--route-ns", type=float, default=0.6,
                        help="routing delay charged per net (default 0.6; about 1.0 in the top)")
    parser.add_argument("--threshold-ns", type=float, default=7.0,
                        help="list the families estimated above this (default 7.0)")
    parser.add_argument("--rows", type=int, default=40, help="rows to print (default 40)")
    parser.add_argument("--routed", type=Path, metavar="REPORT",
                        help="instead of the estimate, group the register endpoints of this "
                             "nextpnr --detailed-timing-report JSON whose post-route arrival "
                             "exceeds --threshold-ns")
    parser.add_argument("--out", type=Path, default=REPORTS,
                        help="report directory (default: build/reports)")


def main(args, config) -> int:
    from rich.console import Console
    from rich.table import Table

    from hw import registry

    known = registry.blocks()
    errors = []
    if args.block not in known:
        errors.append(f"block {args.block!r} (allowed: {', '.join(sorted(known))})")
    if args.route_ns < 0 or args.threshold_ns < 0:
        errors.append("--route-ns and --threshold-ns must be >= 0")
    if args.routed is not None and not args.routed.is_file():
        errors.append(f"--routed {args.routed} is not a file")
    if errors:
        raise ValueError("paths: " + "; ".join(errors))
    if args.routed is not None:
        return _print_routed(args)
    design = synth.prepare(known[args.block](config), args.block, config)
    workdir = synth.SYNTH_ROOT / f"{args.block}-{config.hash}-{design.source_hash}" / (
        f"paths-{args.target}")
    netlist = map_netlist(design, workdir, args.target)
    rows = analyse(json.loads(netlist.read_text()), route_ns=args.route_ns,
                   threshold_ns=args.threshold_ns)
    args.out.mkdir(parents=True, exist_ok=True)
    report = args.out / f"paths-{args.block}.json"
    report.write_text(json.dumps({
        "block": args.block, "target": args.target, "config_hash": config.hash,
        "source_hash": design.source_hash, "route_ns": args.route_ns,
        "threshold_ns": args.threshold_ns, "kind": "model (Yosys mapping, no place-and-route)",
        "families": rows}, indent=1) + "\n")
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"{args.block} ({args.target}): {len(rows)} path families above "
                        f"{args.threshold_ns} ns at {args.route_ns} ns per net ({report})")
    for column in ("estimate ns", "cells", "endpoints"):
        table.add_column(column, justify="right")
    table.add_column("start")
    table.add_column("end")
    for row in rows[:args.rows]:
        table.add_row(f"{row['estimate_ns']:.2f}", str(row["cells"]), str(row["endpoints"]),
                      row["start"], f"{row['end']}.{row['port']}")
    console.print(table)
    return 0


def _print_routed(args) -> int:
    from rich.console import Console
    from rich.table import Table

    try:
        found = routed_endpoints(json.loads(args.routed.read_text()),
                                 threshold_ns=args.threshold_ns)
    except json.JSONDecodeError as e:
        raise ValueError(f"paths: --routed {args.routed} is not JSON ({e})") from None
    args.out.mkdir(parents=True, exist_ok=True)
    report = args.out / f"paths-{args.block}-routed.json"
    report.write_text(json.dumps({
        "block": args.block, "source": str(args.routed), "threshold_ns": args.threshold_ns,
        "kind": "measured (nextpnr post-route arrival times)", **found}, indent=1) + "\n")
    total = sum(row["endpoints"] for row in found["groups"])
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"{total} register endpoints arrive after {args.threshold_ns} ns "
                        f"({len(found['groups'])} registers; {report})")
    for column in ("worst ns", "endpoints"):
        table.add_column(column, justify="right")
    table.add_column("register.port")
    for row in found["groups"][:args.rows]:
        table.add_row(f"{row['worst_ns']:.2f}", str(row["endpoints"]),
                      f"{row['end']}.{row['port']}")
    console.print(table)
    blocks = Table(title="by block")
    blocks.add_column("endpoints", justify="right")
    blocks.add_column("block")
    for block, count in found["blocks"].items():
        blocks.add_row(str(count), block)
    console.print(blocks)
    return 0
