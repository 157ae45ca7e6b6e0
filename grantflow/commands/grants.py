"""``grantflow grants ...``: grant preparation files, signatures, payments, TTI/TTG.

Talks to the grants service through :mod:`grantflow.http` at ``--url``, else
``GRANTFLOW_GRANTS_URL``, else ``shared.config.base_url("grants")``. Token: ``--token``,
else ``$GRANTFLOW_TOKEN``, else a development token signed with the configured secret: an
applicant token for ``--as EMAIL`` (the coordinator's commands), an operations token (the
granting authority) otherwise.
Exit codes: 0 ok, 1 refused (401/403/404/409, or a server error), 2 bad input (400/422),
3 the service is down.

Examples::

    grantflow grants list --topic AMIF-2018-AG-INTE-1 --state invited
    grantflow grants confirm GRANT-P-1234 --as coordinator@city.example.eu
    grantflow grants decline GRANT-P-1234 --as coordinator@city.example.eu --reason "..."
    grantflow grants authority-sign GRANT-P-1234
    grantflow grants timing AMIF-2018-AG-INTE
"""
from __future__ import annotations

from typing import Callable

from grantflow.http import Client, call_argument, connection_options

STATES = ("invited", "data_confirmed", "coordinator_signed", "signed", "declined")


def register(subparsers) -> None:
    common = connection_options(
        "grants", as_help="act as this applicant (a development token), e.g. a coordinator")
    group = subparsers.add_parser("grants", help="grant preparation, signatures, TTI/TTG")
    sub = group.add_subparsers(dest="action", required=True)

    def command(name: str, help_text: str, func: Callable, grant_id: bool = True):
        parser = sub.add_parser(name, parents=[common], help=help_text)
        if grant_id:
            parser.add_argument("grant_id", help="e.g. GRANT-<proposal id>")
        parser.set_defaults(func=func)
        return parser

    listing = command("list", "files, by topic and rank (operations)", cmd_list, False)
    call_argument(listing)
    listing.add_argument("--topic", dest="topic_id")
    listing.add_argument("--state", choices=STATES)
    command("mine", "the files of the --as applicant", cmd_mine, False)
    command("show", "one file with its next step", cmd_show)
    command("confirm", "coordinator: confirm the grant data", cmd_step("confirm"))
    command("sign", "coordinator: sign the grant agreement", cmd_step("sign"))
    decline = command("decline", "coordinator: decline the grant", cmd_decline)
    decline.add_argument("--reason", required=True, help="why, in the coordinator's words")
    command("authority-sign", "granting authority: countersign", cmd_step("authority-sign"))
    command("payments", "the payment orders of a file (operations)", cmd_payments)
    timing = command("timing", "time to inform / time to grant per proposal", cmd_timing,
                     False)
    call_argument(timing)
    timing.add_argument("--proposal", dest="proposal_id")


# --------------------------------------------------------------------------- commands
def client(args) -> Client:
    """The grants service; ``--as EMAIL`` acts as that applicant (e.g. a coordinator)."""
    return Client(args, "grants", as_role="applicant")


def cmd_list(args) -> int:
    query = {k: v for k in ("call_id", "topic_id", "state") if (v := getattr(args, k))}
    return client(args).call("GET", "/grants", print_files, params=query)


def cmd_mine(args) -> int:
    return client(args).call("GET", "/grants/mine", print_files)


def cmd_show(args) -> int:
    return client(args).call("GET", f"/grants/{args.grant_id}", print_file)


def cmd_step(step: str) -> Callable:
    def run(args) -> int:
        return client(args).call("POST", f"/grants/{args.grant_id}/{step}", print_file, json={})
    return run


def cmd_decline(args) -> int:
    return client(args).call("POST", f"/grants/{args.grant_id}/decline", print_file,
                             json={"reason": args.reason})


def cmd_payments(args) -> int:
    def show(data):
        for order in data["payment_orders"] or [{"kind": "(none yet)", "amount": "",
                                                 "ordered_at": ""}]:
            print(f"{data['grant_id']}  {order['kind']:14} {order['amount']:>14}  "
                  f"{order['ordered_at']}")
    return client(args).call("GET", f"/grants/{args.grant_id}/payments", show)


def cmd_timing(args) -> int:
    query = {k: v for k in ("call_id", "proposal_id") if (v := getattr(args, k))}
    return client(args).call("GET", "/timing", print_timing, params=query)


# --------------------------------------------------------------------------- output
def print_files(data: dict) -> None:
    print(f"{len(data['grants'])} grant file(s)")
    for g in data["grants"]:
        step = g["next_step"]
        due = f"next: {step['party']} {step['action']} by {step['due_at'] or '-'}" if step \
            else (g["end_reason"] or "")
        print(f"{g['grant_id']:22} {g['topic_id']:22} rank {g['rank']:<3} {g['state']:19}"
              f" {g['max_grant']:>13}  {due}")


def print_file(g: dict) -> None:
    for name in ("grant_id", "proposal_id", "acronym", "topic_id", "rank", "state",
                 "end_reason", "decline_note", "max_grant", "requested_grant",
                 "prefinancing_rate", "duration_months", "start_date", "coordinator_email",
                 "invited_at", "preparation_deadline", "signature_deadline",
                 "data_confirmed_at", "coordinator_signed_at", "authority_signed_at",
                 "ended_at"):
        if g.get(name) not in (None, ""):
            print(f"{name + ':':24}{g[name]}")
    if g.get("promoted_from_reserve"):
        print(f"{'promoted_from_reserve:':24}yes")
    step = g.get("next_step")
    if step:
        print(f"{'next step:':24}{step['party']}: {step['description']} "
              f"(POST {step['path']}) by {step['due_at'] or '-'}")
    for order in g.get("payment_orders") or []:
        print(f"{'payment order:':24}{order['kind']} {order['amount']} at {order['ordered_at']}")


def print_timing(data: dict) -> None:
    def measure(m: dict) -> str:
        value = f"{m['days']}d/{m['months']}m" if m["days"] is not None else "running"
        return value + (" BREACHED" if m["breached"] else "")

    print(f"{'proposal':14} {'time to inform':22} {'time to grant':22}")
    for p in data["proposals"]:
        ttg = measure(p["ttg"]) if p["ttg"]["expected"] else "-"
        tti = "withdrawn" if p["withdrawn"] else measure(p["tti"])
        print(f"{p['proposal_id']:14} {tti:22} {ttg:22}")
