"""``grantflow notifications list | show | resend | letters``: the delivery log over HTTP.

Talks to the notifications service through :mod:`grantflow.http` at ``--url``, else
``GRANTFLOW_NOTIFICATIONS_URL``, else ``shared.config.base_url("notifications")``, with
the bearer token of ``--token``, else ``GRANTFLOW_TOKEN``, else an operations token signed
with the configured secret. Exit codes: 0 ok, 1 failure (not found, conflict, refused),
2 bad input, 3 service down.
"""
from __future__ import annotations

from grantflow.http import Client, connection_options

STATUSES = ("queued", "sending", "sent", "failed")


def register(subparsers) -> None:
    common = connection_options("notifications")
    group = subparsers.add_parser("notifications", help="messages sent, failed, resent")
    sub = group.add_subparsers(dest="action", required=True)

    listing = sub.add_parser("list", parents=[common], help="deliveries, oldest first")
    listing.add_argument("--proposal", dest="proposal_id")
    listing.add_argument("--recipient")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--template")
    listing.add_argument("--call", dest="call_id")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--after", metavar="ID",
                         help="the page after this delivery (the last one listed before)")
    listing.set_defaults(func=cmd_list)

    show = sub.add_parser("show", parents=[common], help="one delivery with its text")
    show.add_argument("notification_id")
    show.set_defaults(func=cmd_show)

    resend = sub.add_parser("resend", parents=[common],
                            help="send a sent or failed message again, as a new delivery")
    resend.add_argument("notification_id")
    resend.add_argument("--reason", help="why (kept with the new delivery)")
    resend.set_defaults(func=cmd_resend)

    letters = sub.add_parser("letters", parents=[common],
                             help="each proposal's result letter: outcome, pending, sent")
    letters.add_argument("--call", dest="call_id", default="AMIF-2018-AG-INTE")
    letters.set_defaults(func=cmd_letters)


# --------------------------------------------------------------------------- commands
def client(args) -> Client:
    return Client(args, "notifications")


def cmd_list(args) -> int:
    params = {name: getattr(args, name) for name in
              ("proposal_id", "recipient", "status", "template", "call_id", "limit", "offset",
               "after") if getattr(args, name) is not None}
    return client(args).call("GET", "/notifications", _print_list, params=params)


def cmd_show(args) -> int:
    return client(args).call("GET", f"/notifications/{args.notification_id}",
                             _print_detail)


def cmd_resend(args) -> int:
    body = {"reason": args.reason} if args.reason else {}
    return client(args).call("POST", f"/notifications/{args.notification_id}/resend",
                             lambda data: print(f"resend queued as {data['id']} (resend of "
                                                f"{data['resend_of']}) to {data['recipient']}"),
                             json=body)


def cmd_letters(args) -> int:
    return client(args).call("GET", "/letters", _print_letters,
                             params={"call_id": args.call_id})


# --------------------------------------------------------------------------- output
def _print_list(data: dict) -> None:
    shown = len(data["items"])
    if data.get("total") is None:  # a page asked for with --after is not counted
        print(f"{shown} notification(s)")
    else:
        print(f"{shown} of {data['total']} notification(s)"
              + (f" from offset {data['offset']}" if data["offset"] else ""))
    for row in data["items"]:
        print(f"{row['id']}  {_state(row):9} {row['template']:30} {row['recipient']:36} "
              f"{row['proposal_id'] or '-':12} tries {row['attempts']}  {_when(row)}")
        if row["last_error"]:
            print(f"    {row['last_error']}")
    if data.get("has_more") and data["items"]:
        print(f"more: --after {data['items'][-1]['id']}")


def _state(row: dict) -> str:
    """``retrying`` for a message queued again after a failed try: not sent, not failed."""
    if row["status"] == "queued" and row.get("attempts"):
        return "retrying"
    return row["status"]


def _when(row: dict) -> str:
    """The time that goes with the state, named: a queued message has no sent time."""
    if row.get("sent_at"):
        return f"sent {row['sent_at']}"
    if row.get("failed_at"):
        return f"failed {row['failed_at']}"
    return f"queued {row['created_at']}"


def _print_detail(data: dict) -> None:
    """The delivery's fields (a message never sent shows no sent time but when it is
    tried next), its resends and every attempt."""
    shown = dict(data, status=_state(data))
    if data["status"] in ("queued", "sending"):
        shown["sent_at"] = None
        shown["not_sent_yet"] = (f"next try at {data['next_attempt_at']}"
                                 if data.get("next_attempt_at") else "being sent")
    for name in ("id", "status", "template", "recipient", "role", "proposal_id", "call_id",
                 "source_event_type", "source_event_id", "message_id", "attempts",
                 "created_at", "sent_at", "failed_at", "not_sent_yet", "deferred_since",
                 "last_error", "resend_of", "requested_by", "note"):
        if shown.get(name) not in (None, ""):
            print(f"{name.replace('_', ' ') + ':':19}{shown[name]}")
    if data.get("resends"):
        print(f"{'resends:':19}{', '.join(data['resends'])}")
    for attempt in data.get("attempt_log") or []:
        again = " (after an interrupted attempt: may have been a second copy)" \
            if attempt["after_interruption"] else ""
        print(f"{'attempt ' + str(attempt['attempt']) + ':':19}{attempt['started_at']} "
              f"{attempt['outcome'] or 'running'}{again}"
              + (f": {attempt['error']}" if attempt.get("error") else ""))
    print(f"\nSubject: {data['subject'] or '(not rendered)'}\n")
    print(data["body"] or "")


def _print_letters(data: dict) -> None:
    state = "released" if data["released"] else "not released yet"
    print(f"call {data['call_id']}: result letters {state}")
    for p in data["proposals"]:
        sent = ", ".join(f"{d['recipient']} {d['status']}" for d in p["deliveries"]) or "-"
        outcome = "withdrawn" if p["withdrawn"] else (p["outcome"] or "-")
        print(f"{p['proposal_id']:12} {p['acronym'] or '-':16} {outcome:13} "
              f"{('pending: ' + p['pending']) if p['pending'] else sent}")
