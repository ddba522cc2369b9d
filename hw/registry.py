"""Which components ``sdproc generate --block NAME`` (and synth, and the tests) can build.

Each block package exports ``BLOCKS``, a dict from block name to a function taking a
:class:`sw.config.ProcessorConfig` and returning the component. A package that does not exist
yet simply contributes nothing.
"""

import importlib
import importlib.util

__all__ = ["PACKAGES", "blocks", "build"]

PACKAGES = ("hw.common", "hw.dbsc", "hw.pssa", "hw.tips", "hw.ema", "hw.top")


def blocks():
    """Every registered block: name -> factory(config) -> component."""
    found = {}
    for package in PACKAGES:
        if importlib.util.find_spec(package) is None:
            continue
        found.update(getattr(importlib.import_module(package), "BLOCKS", {}))
    return found


def build(name, config):
    """Elaborate-ready component of block ``name`` for ``config``."""
    known = blocks()
    if name not in known:
        raise ValueError(f"unknown block {name!r} (allowed: {', '.join(sorted(known))})")
    return known[name](config)
