"""``grantflow clock show | set | advance``: the shared simulated clock."""
from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta

from shared.clock import SimulatedClock
from shared.config import clock_setting, var_dir


def register(subparsers) -> None:
    clock = subparsers.add_parser("clock", help="the simulated clock all services share")
    sub = clock.add_subparsers(dest="action", required=True)
    show = sub.add_parser("show", help="print the current simulated time")
    show.set_defaults(func=cmd_show)
    set_ = sub.add_parser("set", help="set the simulated time")
    set_.add_argument("--to", required=True, type=parse_instant, help="ISO instant with offset")
    set_.add_argument("--rate", type=float, default=0.0,
                      help="simulated seconds per real second (0: stands still)")
    set_.set_defaults(func=cmd_set)
    adv = sub.add_parser("advance", help="move the simulated time forward, firing every "
                                           "timetable stage on the way, in order")
    group = adv.add_mutually_exclusive_group(required=True)
    group.add_argument("--to", type=parse_instant, help="ISO instant with offset")
    group.add_argument("--by", type=parse_duration, help="e.g. 90s, 15m, 6h, 3d")
    group.add_argument("--to-stage", help="a milestone (evaluation_start) or stage (evaluation)")
    adv.add_argument("--no-drive", action="store_true",
                     help="only move the clock; do not fire stages or wait for the pipeline")
    adv.set_defaults(func=cmd_advance)


def parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: write e.g. 2019-02-01T00:00+01:00")
    return value


parse_instant.__name__ = "instant"


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 6h or 3d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


parse_duration.__name__ = "duration"


def simulated_clock() -> SimulatedClock:
    setting = clock_setting()
    if not setting.startswith("file:"):
        print("note: GRANTFLOW_CLOCK is not 'simulated'; services read the wall clock",
              file=sys.stderr)
    return SimulatedClock(var_dir() / "clock.json")


def cmd_show(args) -> int:
    clock = simulated_clock()
    print(clock.now().isoformat())
    return 0


def cmd_set(args) -> int:
    clock = simulated_clock()
    clock.set(args.to, rate=args.rate)
    print(clock.now().isoformat())
    return 0


def driver(clock: SimulatedClock):
    from grantflow.http import dev_token
    from grantflow.timetable import TimetableDriver
    from shared.config import DEFAULT_AMQP_URI, SERVICES, base_url, env
    return TimetableDriver(clock, base_url("submission"), dev_token(), env("AMQP_URI", DEFAULT_AMQP_URI),
                           {name: base_url(name) for name in SERVICES})


def cmd_advance(args) -> int:
    import requests

    clock = simulated_clock()
    current = clock.now()
    try:
        if args.to_stage:
            target = driver(clock).resolve_stage(args.to_stage)
        else:
            target = args.to if args.to is not None else current + args.by
    except ValueError as exc:
        print(f"grantflow clock advance: {exc}", file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print(f"grantflow clock advance: submission service not reachable ({exc})", file=sys.stderr)
        return 3
    if target < current:
        print(f"the clock never goes backwards: it is {current.isoformat()}", file=sys.stderr)
        return 2
    if args.no_drive:
        clock.set(target, rate=clock.state().rate)
        print(clock.now().isoformat())
        return 0

    def report(step):
        fired = ", ".join(f.get("milestone", str(f)) if isinstance(f, dict) else str(f) for f in step.fired)
        print(f"{step.at.isoformat()}  {fired or '-':50} settled in {step.settle_seconds:.1f}s")

    try:
        driver(clock).advance_to(target, on_step=report)
    except requests.RequestException as exc:
        print(f"grantflow clock advance: a service is not reachable ({exc})", file=sys.stderr)
        return 3
    except TimeoutError as exc:
        print(f"grantflow clock advance: {exc}", file=sys.stderr)
        return 1
    print(clock.now().isoformat())
    return 0
