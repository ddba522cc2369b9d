"""The ``sdproc`` command line.

Every sub-command takes the same config options (``--config FILE | --preset NAME`` and any
number of ``--set section.field=value``). Sub-commands other than ``generate`` live in their
own modules, each exposing ``add_arguments(parser)`` and ``main(args, config) -> int``; a module
that is not part of this checkout yet is reported as such.
"""

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from sw.config import load_config

__all__ = ["main"]

#: sub-command -> (module, one-line help)
COMMANDS = {
    "synth": ("sw.flows.synth", "area and timing with open tools -> build/reports/synth.*"),
    "paths": ("sw.flows.paths", "deepest register-to-register paths, estimated without "
                                "place-and-route -> build/reports/paths-<block>.json"),
    "sweep": ("sw.flows.sweep", "design-space sweep -> build/reports/sweep.*"),
    "bench": ("sw.bench", "benchmarks from RTL simulation -> build/bench/*.json"),
    "lint": ("sw.flows.lint", "Verilator lint of the generated Verilog"),
    "reproduce": ("sw.model.reproduce", "the paper's headline table next to the project's"),
    "results": ("sw.flows.results", "regenerate docs/results.md from build/reports"),
}


def _config_options(parser):
    group = parser.add_argument_group("configuration")
    source = group.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE", help="a TOML config file")
    source.add_argument("--preset", metavar="NAME",
                        help="a preset from configs/ (default: default)")
    group.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                       dest="overrides", help="override one field, e.g. dbsc.rows=8 (repeatable)")


def _generate_arguments(parser):
    parser.add_argument("--block", default=None,
                        help="block to generate, or 'all' (default: top if registered, else all)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="output directory (default: build/<preset>-<hash>/)")


def _generate(args, config):
    from hw import registry
    from sw.flows.emit import generate

    known = registry.blocks()
    block = args.block or ("top" if "top" in known else "all")
    names = sorted(known) if block == "all" else [block]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown block {unknown[0]!r} (allowed: all, {', '.join(sorted(known))})")
    for path in generate(config, names, args.out):
        print(path)
    return 0


def _parser():
    parser = argparse.ArgumentParser(
        prog="sdproc",
        description="RTL generator for an energy-efficient Stable Diffusion processor "
                    "(DBSC bit-slice array, PSSA score compression, TIPS precision selection, "
                    "AXI4 EMA controller).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    gen = sub.add_parser("generate", help="emit Verilog, params.json and params.h")
    _config_options(gen)
    _generate_arguments(gen)
    gen.set_defaults(handler=_generate)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        _config_options(p)
        if _module_exists(module):
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(handler=mod.main)
        else:
            p.set_defaults(handler=_missing(name, module))
    return parser


def _module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package is missing too
        return False


def _missing(name, module):
    def handler(args, config):
        print(f"sdproc {name}: not available in this checkout ({module} does not exist yet)",
              file=sys.stderr)
        return 1
    return handler


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.preset, args.overrides)
        return args.handler(args, config)
    except ValueError as e:
        print(f"sdproc {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
