"""``grantflow clock show | set | advance``: the time the services use.

``show`` prints the time the running services actually read (their ``/health``), in
either mode. ``set`` and ``advance`` move the shared simulated clock
(``GRANTFLOW_CLOCK=simulated``, file ``$GRANTFLOW_VAR/clock.json``); with the wall clock
they are refused (exit 2), since no service would read what they write.

- ``set`` refuses to go back before a milestone that has already fired (the views would
  disagree and letters would be dated in the past) unless ``--force``; going forward over
  milestones that have not fired warns that they fire at once (``advance`` fires them one
  by one).
- ``advance`` checks first that every service answers, and does not move the clock when
  one does not (it names it and says what to run); it moves the clock to each milestone in
  order, fires it, waits until the pipeline settles and prints what the stage did.

Exit codes: 0 ok, 1 the pipeline did not settle, 2 bad input or refused, 3 a service is
not reachable.
"""
from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone

import requests

from shared.clock import SimulatedClock
from shared.config import SERVICES, base_url, clock_setting, var_dir

WALL_CLOCK_REFUSAL = ("the services read the wall clock (GRANTFLOW_CLOCK is not 'simulated'), "
                      "so moving the simulated clock would change nothing they read. Run the "
                      "stack with GRANTFLOW_CLOCK=simulated (`grantflow down`, then "
                      "`GRANTFLOW_CLOCK=simulated grantflow up`) to drive time yourself")


def register(subparsers) -> None:
    clock = subparsers.add_parser("clock", help="the time the services use (simulated clock)",
                                  description=__doc__.split("\n\n")[1])
    sub = clock.add_subparsers(dest="action", required=True)
    show = sub.add_parser("show", help="print the time the services use now")
    show.set_defaults(func=cmd_show)
    set_ = sub.add_parser("set", help="set the simulated time (never back before a fired "
                                      "milestone unless --force)")
    set_.add_argument("--to", required=True, type=parse_instant, help="ISO instant with offset")
    set_.add_argument("--rate", type=float, default=0.0,
                      help="simulated seconds per real second (0: stands still)")
    set_.add_argument("--force", action="store_true",
                      help="set it even back before milestones that have fired, or without "
                           "checking when the submission service is not reachable")
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


def setting() -> str:
    """The clock the services use: what a running service was started with (its config
    file), else what ``GRANTFLOW_CLOCK`` says now."""
    import yaml

    from grantflow.runtime import processes
    for proc in processes():
        if proc.is_alive() and proc.config_path.exists():
            return yaml.safe_load(proc.config_path.read_text()).get("CLOCK") or clock_setting()
    return clock_setting()


def simulated() -> bool:
    return setting().startswith("file:")


def simulated_clock() -> SimulatedClock:
    current = setting()
    return SimulatedClock(current[len("file:"):] if current.startswith("file:")
                          else var_dir() / "clock.json")


def services_time() -> tuple[datetime | None, list[str]]:
    """The clock the running services report (``/health``), and the services not answering."""
    found, down = None, []
    for name in SERVICES:
        try:
            clock = requests.get(f"{base_url(name)}/health", timeout=3).json().get("clock")
        except (requests.RequestException, ValueError):
            down.append(name)
            continue
        if clock and found is None:
            found = datetime.fromisoformat(clock)
    return found, down


def cmd_show(args) -> int:
    now, down = services_time()
    mode = "simulated clock" if simulated() else "wall clock"
    if now is not None:
        source = "as the running services read it" + (
            f" ({', '.join(down)} not answering)" if down else "")
    elif simulated():
        now, source = simulated_clock().now(), "from the clock file; no service is running"
    else:
        now, source = datetime.now(timezone.utc), "no service is running"
    if simulated() and now is not None:
        rate = simulated_clock().state().rate if simulated_clock().path.exists() else 0
        mode += ", standing still" if not rate else f", running at {rate:g}x"
    print(now.isoformat())
    print(f"  {mode}; {source}")
    return 0


def _refuse_wall_clock(command: str) -> int | None:
    if simulated():
        return None
    print(f"grantflow clock {command}: refused: {WALL_CLOCK_REFUSAL}", file=sys.stderr)
    return 2


def driver(clock: SimulatedClock):
    from grantflow.http import dev_token
    from grantflow.timetable import TimetableDriver
    from shared.config import DEFAULT_AMQP_URI, env, retry_delays_ms
    return TimetableDriver(clock, base_url("submission"), dev_token(),
                           env("AMQP_URI", DEFAULT_AMQP_URI),
                           {name: base_url(name) for name in SERVICES},
                           retry_delays_ms=retry_delays_ms())


def cmd_set(args) -> int:
    from grantflow.http import unreachable
    refused = _refuse_wall_clock("set")
    if refused is not None:
        return refused
    clock = simulated_clock()
    try:
        milestones = driver(clock).milestones()
    except requests.RequestException as exc:
        if not args.force:
            print(f"grantflow clock set: cannot check which milestones have fired: "
                  f"{unreachable('submission', base_url('submission'), exc)}. Add --force to "
                  "set the clock without checking", file=sys.stderr)
            return 3
        milestones = []
    fired_later = [m for m in milestones if m.fired and m.at > args.to]
    if fired_later and not args.force:
        print(f"grantflow clock set: refused: {len(fired_later)} milestone(s) later than "
              f"{args.to.isoformat()} have already fired (" + ", ".join(
                  f"{m.key} {m.at.isoformat()}" for m in fired_later[:5]) + "); the views "
              "would disagree and mail would be dated in the past. Add --force to set it "
              "anyway, or `grantflow reset` to start again", file=sys.stderr)
        return 2
    due = [m for m in milestones if not m.fired and m.at <= args.to]
    clock.set(args.to, rate=args.rate)
    print(clock.now().isoformat())
    if due:
        print(f"note: {len(due)} milestone(s) not fired yet are now due and fire at once "
              f"({', '.join(m.key for m in due[:5])}); `grantflow clock advance` fires them "
              "one by one, each at its own instant", file=sys.stderr)
    return 0


def _down_services(urls: dict[str, str]) -> list[str]:
    down = []
    for name, url in urls.items():
        try:
            requests.get(f"{url}/health", timeout=5).raise_for_status()
        except requests.RequestException:
            down.append(name)
    return down


def cmd_advance(args) -> int:
    from grantflow.http import service_of, unreachable
    from grantflow.progress import snapshot, summary
    refused = _refuse_wall_clock("advance")
    if refused is not None:
        return refused
    clock = simulated_clock()
    drive = driver(clock)
    current = clock.now()
    down = [] if args.no_drive else _down_services(drive.service_urls)
    if down:
        for name in down:
            print(unreachable(name, drive.service_urls[name]), file=sys.stderr)
        print(f"grantflow clock advance: the clock was not moved (it stands at "
              f"{current.isoformat()}); start {' '.join(down)} first", file=sys.stderr)
        return 3
    try:
        if args.to_stage:
            target = drive.resolve_stage(args.to_stage)
        else:
            target = args.to if args.to is not None else current + args.by
        ahead = [m for m in drive.milestones() if not m.fired] if not args.no_drive else []
        call_ids = sorted({m.call_id for m in ahead})
    except ValueError as exc:
        print(f"grantflow clock advance: {exc}", file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print(f"grantflow clock advance: {unreachable('submission', base_url('submission'), exc)};"
              " the clock was not moved", file=sys.stderr)
        return 3
    if target < current:
        print(f"the clock never goes backwards: it is {current.isoformat()}", file=sys.stderr)
        return 2
    if args.no_drive:
        clock.set(target, rate=clock.state().rate)
        print(clock.now().isoformat())
        return 0
    previous = [snapshot(drive.service_urls, drive.headers, call_ids)]

    def report(step):
        # the stages of this instant (the services' own timers may have fired one a moment
        # before the driver's tick, which then reports nothing)
        fired = ", ".join(m.key for m in ahead if m.at == step.at)
        after = snapshot(drive.service_urls, drive.headers, call_ids)
        print(f"{step.at.isoformat()}  {fired or '-':30} {summary(previous[0], after)} "
              f"(settled in {step.settle_seconds:.1f}s)", flush=True)
        previous[0] = after

    try:
        drive.advance_to(target, on_step=report)
    except requests.RequestException as exc:
        name, url = service_of(exc, drive.service_urls)
        response = getattr(exc, "response", None)
        problem = unreachable(name, url, exc) if response is None else (
            f"the {name} service answered {response.status_code} to "
            f"{exc.request.method} {exc.request.url}: {response.text[:300]}")
        print(f"grantflow clock advance: {problem}", file=sys.stderr)
        print(f"the clock WAS moved: it stands at {clock.now().isoformat()}, and what was due "
              f"then may not be done. Once {name} is up, `grantflow clock advance --by 0s` "
              "fires and settles it again", file=sys.stderr)
        return 3
    except TimeoutError as exc:
        print(f"grantflow clock advance: {exc}", file=sys.stderr)
        return 1
    print(clock.now().isoformat())
    return 0
