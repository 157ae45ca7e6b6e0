"""``grantflow deploy``: what containers run, and the broker topology as RabbitMQ definitions.

    grantflow deploy run SERVICE          the container entrypoint: nameko config from the
                                          GRANTFLOW_* environment, then exec the service
                                          (``nameko run`` through ``grantflow.launch``)
    grantflow deploy config SERVICE       print that config (YAML) and exit
    grantflow deploy prepare [--wait S]   one-shot start-up step (compose init service, k8s
                                          init container): declare every queue, and create
                                          the shared simulated clock file if it is missing
    grantflow deploy rabbitmq-definitions [--output PATH] [--queue-type quorum|classic]
                                          the topology as a RabbitMQ definitions file

Every setting comes from :func:`shared.config.service_config`, the one place that reads the
environment, so a container and ``grantflow up`` configure a service the same way.
"""
from __future__ import annotations

import functools
import json
import os
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml
from kombu.exceptions import OperationalError

from grantflow.processes import service_argv
from shared.clock import ensure_simulated_clock
from shared.config import SERVICE_CLASSES, service_config

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DOWN = 0, 1, 2, 3


def register(subparsers) -> None:
    deploy = subparsers.add_parser("deploy", help="container entrypoints and broker definitions")
    sub = deploy.add_subparsers(dest="action", required=True)

    run = sub.add_parser("run", help="run one service in the foreground (container entrypoint)")
    run.add_argument("service", choices=sorted(SERVICE_CLASSES))
    run.set_defaults(func=cmd_run)

    show = sub.add_parser("config", help="print a service's nameko config built from the env")
    show.add_argument("service", choices=sorted(SERVICE_CLASSES))
    show.set_defaults(func=cmd_config)

    prepare = sub.add_parser("prepare", help="declare all queues; create the simulated clock")
    prepare.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                         help="how long to retry while the broker does not answer (default 60)")
    prepare.set_defaults(func=cmd_prepare)

    definitions = sub.add_parser("rabbitmq-definitions",
                                 help="write the topology as RabbitMQ definitions (JSON)")
    definitions.add_argument("--output", default="-", metavar="PATH",
                             help="file to write (default: standard output)")
    definitions.add_argument("--queue-type", choices=("quorum", "classic"), default="quorum")
    definitions.add_argument("--vhost", default="/")
    definitions.set_defaults(func=cmd_rabbitmq_definitions)


def _config(service: str) -> dict:
    """The service's config, or ValueError naming the variable that is malformed."""
    try:
        return service_config(service)
    except ValueError as exc:
        raise ValueError(f"a GRANTFLOW_* variable is malformed ({exc}); "
                         "see shared/config.py") from None


def nameko_command(service: str, config_path: Path) -> list[str]:
    """The argv that runs ``service`` as ``grantflow up`` runs it: this interpreter, the
    class from the one table in shared.config."""
    return service_argv(config_path, SERVICE_CLASSES[service])


def write_config(service: str, config: dict, directory: str | None = None) -> Path:
    """Write the config where only this container sees it: replicas of one service may
    share a volume, and must not read each other's half-written file."""
    fd, path = tempfile.mkstemp(prefix=f"grantflow-{service}-", suffix=".yaml", dir=directory)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=True)
    return Path(path)


def reports_errors(action: str):
    """Exit codes for a command: a malformed setting is bad input (2), a broker that never
    answers is something down (3); the message names the command."""
    def decorate(command):
        @functools.wraps(command)
        def run(args) -> int:
            try:
                return command(args)
            except ConnectionError as exc:
                print(f"grantflow deploy {action}: {exc}", file=sys.stderr)
                return EXIT_DOWN
            except ValueError as exc:
                print(f"grantflow deploy {action}: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
        return run
    return decorate


@reports_errors("run")
def cmd_run(args) -> int:
    config = _config(args.service)
    argv = nameko_command(args.service, write_config(args.service, config))
    print(f"grantflow deploy run: {args.service} on {config['WEB_SERVER_ADDRESS']}",
          file=sys.stderr, flush=True)
    # exec, not a child process: nameko gets the container's signals and exit code
    os.execv(argv[0], argv)
    return EXIT_FAILED  # pragma: no cover - execv does not return


@reports_errors("config")
def cmd_config(args) -> int:
    print(yaml.safe_dump(redacted(_config(args.service)), sort_keys=True), end="")
    return EXIT_OK


def without_password(text: str) -> str:
    """``scheme://user:***@host``: URLs with their password masked, for printing."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", text)


def redacted(config: dict) -> dict:
    """The config with the auth secret and URL passwords masked, for printing."""
    def mask(value):
        if isinstance(value, dict):
            return {k: "***" if k == "AUTH_SECRET" else mask(v) for k, v in value.items()}
        return without_password(value) if isinstance(value, str) else value
    return mask(config)


# --- prepare -------------------------------------------------------------------------------

def declare_topology(wait: float, sleep=time.sleep, monotonic=time.monotonic) -> int:
    """Declare the retry infrastructure and every consumer queue, retrying while the broker
    is still starting. Returns the number of queues; raises ConnectionError after ``wait``."""
    from grantflow.topology import declare_all

    config = _config("operations")  # broker settings are the same for every service
    deadline = monotonic() + wait
    while True:
        try:
            return declare_all(config["AMQP_URI"], queue_type=config["QUEUE_TYPE"],
                               retry_delays_ms=config["EVENT_RETRY"]["delays_ms"])
        except (OSError, OperationalError) as exc:
            if monotonic() >= deadline:
                raise ConnectionError("RabbitMQ does not answer at "
                                      f"{without_password(config['AMQP_URI'])}: {exc}") from None
            sleep(2.0)


def ensure_clock(setting: str, now: datetime | None = None) -> Path | None:
    """A container stack's simulated clock starts at the current time running at
    wall-clock rate (shared.clock.ensure_simulated_clock), unless it exists."""
    return ensure_simulated_clock(setting, now, rate=1.0)


@reports_errors("prepare")
def cmd_prepare(args) -> int:
    count = declare_topology(args.wait)
    clock = ensure_clock(_config("operations")["CLOCK"])
    print(f"declared {count} queues with their exchanges and bindings")
    if clock is not None:
        print(f"simulated clock at {clock}")
    return EXIT_OK


# --- RabbitMQ definitions --------------------------------------------------------------------

def _exchange(exchange, vhost: str) -> dict:
    return {"name": exchange.name, "vhost": vhost, "type": exchange.type,
            "durable": bool(exchange.durable), "auto_delete": bool(exchange.auto_delete),
            "internal": False, "arguments": dict(exchange.arguments or {})}


def _bindings(queue) -> list[tuple]:
    """(exchange, routing key) pairs of a kombu Queue: its explicit bindings, or the one
    implied by ``Queue(name, exchange=...)``."""
    if queue.bindings:
        return [(b.exchange, b.routing_key or "") for b in queue.bindings]
    if queue.exchange is not None and queue.exchange.name:
        return [(queue.exchange, queue.routing_key or "")]
    return []


def rabbitmq_definitions(queues, vhost: str = "/") -> dict:
    """RabbitMQ definitions (the management ``/api/definitions`` format) for kombu queues
    with their exchanges and bindings, sorted so the output is stable."""
    exchanges, bindings, declared = {}, [], []
    for queue in queues:
        declared.append({"name": queue.name, "vhost": vhost, "durable": bool(queue.durable),
                         "auto_delete": bool(queue.auto_delete),
                         "arguments": dict(queue.queue_arguments or {})})
        for exchange, routing_key in _bindings(queue):
            exchanges[exchange.name] = _exchange(exchange, vhost)
            bindings.append({"source": exchange.name, "vhost": vhost,
                             "destination": queue.name, "destination_type": "queue",
                             "routing_key": routing_key, "arguments": {}})
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": sorted(exchanges.values(), key=lambda e: e["name"]),
        "queues": sorted(declared, key=lambda q: q["name"]),
        "bindings": sorted(bindings, key=lambda b: (b["source"], b["destination"],
                                                    b["routing_key"])),
    }


def topology_definitions(queue_type: str, vhost: str = "/") -> dict:
    from grantflow.topology import consumer_queues, producers_consumed
    from shared.messaging import permissions, topology as t

    delays = _config("operations")["EVENT_RETRY"]["delays_ms"]
    queues = t.infrastructure_queues(delays, queue_type) + consumer_queues(
        queue_type=queue_type)
    # with a broker user per service, each allowed only its own (deploy/README.md)
    return {**rabbitmq_definitions(queues, vhost),
            **permissions.definitions(producers_consumed(), delays, vhost)}


@reports_errors("rabbitmq-definitions")
def cmd_rabbitmq_definitions(args) -> int:
    definitions = topology_definitions(args.queue_type, args.vhost)
    text = json.dumps(definitions, indent=2, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    output = Path(args.output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    except OSError as exc:
        print(f"grantflow deploy rabbitmq-definitions: cannot write {output}: {exc}",
              file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {len(definitions['queues'])} queues, {len(definitions['exchanges'])} "
          f"exchanges and {len(definitions['bindings'])} bindings to {output}")
    return EXIT_OK
