"""``grantflow``: the operations command line.

Each command group lives in its own module under :mod:`grantflow.commands` and exposes
``register(subparsers)``; a command function returns the process exit code. Exit codes:
0 ok, 1 failure, 2 bad usage or invalid input, 3 something is down or not ready.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import warnings

import grantflow.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grantflow", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_info in sorted(pkgutil.iter_modules(grantflow.commands.__path__),
                              key=lambda m: m.name):
        module = importlib.import_module(f"grantflow.commands.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # eventlet warns once per process that it is in bugfix-only mode; known and accepted
    warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
