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
    _remember_leaves(parser)
    return parser


def _remember_leaves(parser: argparse.ArgumentParser) -> None:
    """Each command's own parser is stored in its parsed arguments (``_parser``), so that
    an argument it does not take is reported with that command's usage, not the top
    level's (argparse leaves unknown arguments to the top-level parser)."""
    branches = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not branches:
        parser.set_defaults(_parser=parser)
    for branch in branches:
        for child in set(branch.choices.values()):
            _remember_leaves(child)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    alias = getattr(args, "call_alias", None)
    if alias:  # --call ID, the older spelling of CALL_ID
        if getattr(args, "call_id", None) not in (None, alias):
            args._parser.error(f"CALL_ID {args.call_id} and --call {alias} disagree: give one")
        args.call_id = alias
    return args


def main(argv: list[str] | None = None) -> int:
    # eventlet warns once per process that it is in bugfix-only mode; known and accepted
    warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
