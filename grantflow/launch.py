"""``python -m grantflow.launch --config FILE module:Class``: one service process, started
as ``nameko run --config FILE module:Class`` starts it, through nameko's own ``run.main``.

Why not ``nameko run`` itself: nameko's command-line module imports ``pkg_resources`` to
answer ``--version``, and that import scans every installed distribution: a tenth to an
eighth of the CPU a service spends before it answers (DEVELOPERS.md). It is paid at each
restart in production and at each of the 170-odd starts of the test suite.

What differs: nameko's ``${VAR}`` substitution in config files is not installed. Grantflow
writes each config from the environment itself (``shared.config.service_config``), so a
value containing ``${`` (a password) is kept as written rather than read as a variable.
"""
import eventlet

# before anything imports socket, threading or time, as ``nameko run`` patches first
eventlet.monkey_patch()

import argparse  # noqa: E402
import sys  # noqa: E402

from nameko.cli import run  # noqa: E402 (after the monkey patch on purpose)
from nameko.exceptions import CommandError  # noqa: E402


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grantflow.launch",
                                     description="run nameko services (nameko run's options)")
    parser.add_argument("services", nargs="+", metavar="module[:service class]")
    parser.add_argument("--config", required=True, help="the YAML configuration file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # the attributes nameko's run command reads; no broker URL (the config has AMQP_URI)
    # and no backdoor (an interactive shell into a service is not something we serve)
    args.broker, args.backdoor_port = None, None
    try:
        run.main(args)
    except CommandError as exc:  # an unknown module or class, as nameko reports it
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
