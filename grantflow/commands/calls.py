"""``grantflow call validate | load | list | show | timetable | manifest | tick``.

``validate`` reads the file locally (no service needed) and lists every problem with its
path and line. The others talk to the submission service through :mod:`grantflow.http`:
at ``--url``, else ``GRANTFLOW_SUBMISSION_URL``, else ``shared.config.base_url("submission")``,
with the bearer token of ``--token``, else ``GRANTFLOW_TOKEN``, else an operations token
signed with the configured secret. Exit codes: 0 ok, 1 failure (not found, conflict,
refused), 2 bad input (invalid file or request, 400/413/422), 3 service down.

:func:`submission` is also what ``grantflow proposal`` uses.
"""
from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

from grantflow.http import (BAD_INPUT, OK, UPLOAD_INPUT_STATUSES, Client, call_argument,
                            connection_options)


def submission(args) -> Client:
    """The submission service (a call file or a part over the size limit is bad input);
    ``--as EMAIL`` (proposal commands) acts as that applicant."""
    return Client(args, "submission", as_role="applicant", timeout=120,
                  bad_input=UPLOAD_INPUT_STATUSES)


def register(subparsers) -> None:
    common = connection_options("submission")
    group = subparsers.add_parser("call", help="call files and published calls")
    sub = group.add_subparsers(dest="action", required=True)

    validate = sub.add_parser("validate", help="list every problem of a call file (offline)")
    validate.add_argument("file", type=Path)
    validate.set_defaults(func=cmd_validate)

    load = sub.add_parser(
        "load", parents=[common], help="publish a call file (a higher version is an amendment)",
        description="Publish a call file. Milestones whose instant the services' clock has "
                    "already passed would all fire at once as soon as it is loaded, so the "
                    "load is refused when there are any (they are listed), unless "
                    "--fire-past. On a simulated stack, set the clock before the first "
                    "milestone first: grantflow clock set --to 2018-07-25T00:00:00+02:00")
    load.add_argument("file", type=Path)
    load.add_argument("--fire-past", action="store_true",
                      help="load even when milestones are already past (they fire at once)")
    load.set_defaults(func=cmd_load)

    listing = sub.add_parser("list", parents=[common], help="published calls")
    listing.set_defaults(func=cmd_list)

    show = sub.add_parser("show", parents=[common], help="a published call and its versions")
    show.add_argument("call_id")
    show.add_argument("--version", type=int)
    show.set_defaults(func=cmd_show)

    table = sub.add_parser("timetable", parents=[common],
                           help="each milestone (UTC and local), fired or not")
    table.add_argument("call_id")
    table.set_defaults(func=cmd_timetable)

    manifest = sub.add_parser("manifest", parents=[common], help="a topic's closing manifest")
    manifest.add_argument("call_id")
    manifest.add_argument("topic_id")
    manifest.set_defaults(func=cmd_manifest)

    tick = sub.add_parser("tick", parents=[common],
                          help="fire every due timetable milestone now (of every call; with "
                               "CALL_ID, print only that call's)")
    call_argument(tick, "print only what fired for this call (checked to exist)")
    tick.set_defaults(func=cmd_tick)


# --------------------------------------------------------------------------- commands
def cmd_validate(args) -> int:
    from services.submission.domain.eligibility import ensure_known_rules
    from services.submission.domain.errors import UnknownRule
    from shared.calls.loader import load_call_file
    from shared.calls.schema import InvalidCall

    try:
        call = load_call_file(args.file)
        ensure_known_rules(call)
    except InvalidCall as exc:
        print(f"{args.file}: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            print(f"  {problem}")
        return BAD_INPUT
    except UnknownRule as exc:
        print(f"{args.file}: {exc}")
        return BAD_INPUT
    print(f"{args.file}: valid: call {call.id} version {call.version}, {len(call.topics)} "
          f"topic(s), deadline {call.local(call.deadline).isoformat()} ({call.timezone})")
    return OK


def past_milestones(client: Client, text: str) -> tuple[list, datetime | None] | int:
    """The call file's milestones that the submission service's clock has passed and that
    have not fired yet (an amendment's fired ones stay fired), with that clock; an exit code
    when the service cannot say. A file that does not parse is left to the service."""
    from shared.calls.loader import load_call_text
    from shared.calls.model import milestones
    from shared.calls.schema import InvalidCall
    try:
        call = load_call_text(text)
    except (InvalidCall, ValueError):
        return [], None
    code, health = client.fetch("GET", "/health")
    if code != OK:
        return code
    now = datetime.fromisoformat(health["clock"])
    code, timetable = client.fetch("GET", f"/calls/{call.id}/timetable", quiet=True)
    fired = {m["key"] for m in timetable["milestones"] if m["fired"]} if code == OK else set()
    return [m for m in milestones(call) if m.at <= now and m.key not in fired], now


def cmd_load(args) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return BAD_INPUT
    if not args.fire_past:
        found = past_milestones(submission(args), text)
        if isinstance(found, int):
            return found
        past, now = found
        if past:
            print(f"grantflow call load: refused: the services' clock is at {now.isoformat()}, "
                  f"so {len(past)} milestone(s) of this call are already past and would all "
                  "fire at once when it is loaded:", file=sys.stderr)
            for m in past:
                print(f"  {m.key:26} {m.at.isoformat()}", file=sys.stderr)
            print(f"Set the clock before them first (`grantflow clock set --to "
                  f"{(past[0].at - timedelta(days=1)).isoformat()}`, simulated clock), or add "
                  "--fire-past to fire them now", file=sys.stderr)
            return BAD_INPUT
    return submission(args).call(
        "POST", "/calls", _print_loaded, data=text.encode("utf-8"),
        headers={"Content-Type": "application/yaml"})


def cmd_list(args) -> int:
    return submission(args).call("GET", "/calls", _print_calls)


def cmd_show(args) -> int:
    params = {"version": args.version} if args.version else None
    return submission(args).call("GET", f"/calls/{args.call_id}", _print_call, params=params)


def cmd_timetable(args) -> int:
    return submission(args).call("GET", f"/calls/{args.call_id}/timetable", _print_timetable)


def cmd_manifest(args) -> int:
    return submission(args).call(
        "GET", f"/calls/{args.call_id}/topics/{args.topic_id}/manifest", _print_manifest)


def cmd_tick(args) -> int:
    client = submission(args)
    if args.call_id:
        code, _ = client.fetch("GET", f"/calls/{args.call_id}")
        if code != OK:
            return code

    def show(data):
        if args.call_id:
            data = {**data, "fired": [f for f in data["fired"] if f["call_id"] == args.call_id],
                    "pending": [p for p in data.get("pending", [])
                                if p["call_id"] == args.call_id]}
        _print_tick(data)
    return client.call("POST", "/timetable/tick", show)


# --------------------------------------------------------------------------- output
def _print_loaded(data: dict) -> None:
    print(f"call {data['call_id']} version {data['version']}: {data['status']} "
          f"(content hash {data['content_hash']})")
    for change in data["changes"]:
        print(f"  - {change}")
    if data["notified"]:
        print(f"  {data['notified']} registered applicant(s) will be told")


def _print_calls(data: list) -> None:
    if not data:
        print("no call is published")
    for call in data:
        closed = sum(t["closed"] for t in call["topics"])
        print(f"{call['call_id']:22} v{call['version']:<3} deadline {call['deadline_local']} "
              f"({call['timezone']})  topics {len(call['topics'])}, closed {closed}  "
              f"{call['title']}")


def _print_call(data: dict) -> None:
    _print_calls([data])
    for topic in data["topics"]:
        state = f"closed, manifest {topic['manifest_hash']}" if topic["closed"] else "open"
        print(f"  {topic['id']:22} budget {topic['budget']:>14}  {state}  {topic['title']}")
    for version in data["versions"]:
        print(f"  version {version['version']} loaded {version['loaded_at']} by "
              f"{version['loaded_by']}")
        for change in version["changes"]:
            print(f"    - {change}")


def _print_timetable(data: dict) -> None:
    print(f"call {data['call_id']} v{data['call_version']} at {data['now']}: current stage "
          f"{data['current_stage'] or '(not open yet)'}")
    for m in data["milestones"]:
        state = f"fired {m['fired_at']}" if m["fired"] else ("due" if m["due"] else "")
        print(f"  {m['key']:26} {m['at']}  {m['at_local']}  {state}")


def _print_manifest(data: dict) -> None:
    print(f"{data['call_id']} / {data['topic_id']}: closed {data['closed_at']} (deadline "
          f"{data['deadline']}), {len(data['manifest'])} proposal(s), manifest hash "
          f"{data['manifest_hash']}")
    for entry in data["manifest"]:
        print(f"  {entry['proposal_id']:16} v{entry['version']:<3} {entry['content_hash']}  "
              f"{entry['received_at']}")


def _print_tick(data: dict) -> None:
    from grantflow.timetable import deadline_progress  # as clock.py: kombu only when used
    pending = data.get("pending", [])
    if not data["fired"] and not pending:
        print(f"{data['now']}: nothing due")
    for fired in data["fired"]:
        print(f"{fired['call_id']}: {fired['milestone']} ({fired['at']}) fired")
    for item in pending:
        print(f"{item['call_id']}: {item['milestone']} under way: "
              f"{deadline_progress(item)}; the service goes on by itself, or tick again")
