"""``grantflow ops``: what the operations service knows, from the command line.

    grantflow ops status [CALL_ID]        timetable, current stage, counts, topic budget lines
    grantflow ops calls                   the calls operations has heard of
    grantflow ops proposal ID             one proposal's state and timeline
    grantflow ops report CALL_ID          the call's JSON report (--output FILE to save it)
    grantflow ops loads [CALL_ID]         evaluators' current assignment loads
    grantflow ops rebuild CALL_ID         rebuild the call's projections from its timeline
    grantflow ops page-url                a link to the operations page that carries a token

They talk to the operations service through :mod:`grantflow.http` (``--url``, else
``GRANTFLOW_OPERATIONS_URL``, else from the configuration) with ``--token``, else
``GRANTFLOW_TOKEN``, else an operations token signed with the configured secret. Exit codes: 0 ok, 1 failure, 2 bad input (unknown id, refused token),
3 the service is down.
"""
from __future__ import annotations

import json
import sys
from urllib.parse import quote

from grantflow.http import FAILURE, OK, Client, call_argument, connection_options, print_json


def register(subparsers) -> None:
    ops = subparsers.add_parser("ops", help="the operations service: status, proposals, report")
    sub = ops.add_subparsers(dest="action", required=True)

    connection = connection_options("operations", json_flag=False)

    def command(name, func, help_text):
        parser = sub.add_parser(name, parents=[connection], help=help_text)
        parser.set_defaults(func=func)
        return parser

    status = command("status", cmd_status, "the call's timetable, counts and budget lines")
    call_argument(status, "the call (default: the only or first call)")
    status.add_argument("--json", action="store_true", help="print the overview as JSON")
    calls = command("calls", cmd_calls, "the calls operations has heard of")
    calls.add_argument("--json", action="store_true")
    proposal = command("proposal", cmd_proposal, "one proposal's state and timeline")
    proposal.add_argument("proposal_id")
    proposal.add_argument("--json", action="store_true")
    report = command("report", cmd_report, "the call's JSON report")
    report.add_argument("call_id")
    report.add_argument("--output", help="write the report to this file instead of stdout")
    loads = command("loads", cmd_loads, "evaluators' current assignment loads")
    call_argument(loads)
    loads.add_argument("--json", action="store_true")
    rebuild = command("rebuild", cmd_rebuild, "rebuild a call's projections from its timeline")
    rebuild.add_argument("call_id")
    command("page-url", cmd_page_url, "a link to the operations page carrying a token")


# ------------------------------------------------------------------ HTTP
def _client(args) -> Client:
    return Client(args, "operations")


def _money(value) -> str:
    return "-" if value is None else f"{float(value):,.2f}"


def _when(iso: str | None) -> str:
    return "-" if not iso else iso.replace("T", " ")[:16]


# ------------------------------------------------------------------ commands
def _rows(args, path: str, key: str, empty: str, line) -> int:
    """GET a list (``body[key]``): as JSON with --json, then one ``line(row)`` per row."""
    code, body = _client(args).fetch("GET", path)
    if code != OK:
        return code
    rows = body[key]
    if args.json:
        print_json(rows)
        return OK
    if not rows:
        print(empty)
    for row in rows:
        print(line(row))
    return OK


def cmd_calls(args) -> int:
    def line(call):
        stage = call["current_stage"]["label"] if call["current_stage"] else "no stage reached"
        return (f"{call['id']:24} v{call['version'] or '?'}  {call['proposals']:5} proposals  "
                f"{stage}  {call['title'] or ''}")
    return _rows(args, "/calls", "calls", "operations has heard of no call yet", line)


def cmd_status(args) -> int:
    client, call_id = _client(args), args.call_id
    if call_id is None:
        code, body = client.fetch("GET", "/calls")
        if code != OK:
            return code
        if not body["calls"]:
            print("operations has heard of no call yet", file=sys.stderr)
            return FAILURE
        call_id = body["calls"][0]["id"]
    return client.call("GET", f"/calls/{quote(call_id, safe='')}/overview",
                       lambda overview: print("\n".join(status_lines(overview))))


def status_lines(overview: dict) -> list[str]:
    """The overview as text for a terminal."""
    call, stage, counts = overview["call"], overview["current_stage"], overview["counts"]
    lines = [f"{call['id']}  {call['title'] or ''} (version {call['version'] or '?'})",
             f"now (the services' clock): {_when(overview.get('generated_at'))} UTC",
             "current stage: " + (f"{stage['label']} ({_when(stage['at'])} UTC)" if stage
                                  else "none reached yet"), "", "timetable (call time):"]
    for m in overview["timetable"]:
        mark = ">" if m["current"] else ("x" if m["reached"] else " ")
        lines.append(f"  [{mark}] {_when(m['local'] or m['at'])}  {m['label']}")
    lines += ["", f"proposals: {counts['proposals']} ({counts['final']} final)"]
    for state, number in counts["by_state"].items():
        final = state in counts["by_final_state"]
        if number or final:
            lines.append(f"  {state:18} {number:5}{'  final' if final else ''}")
    lines += ["", "topics (EUR):"]
    for t in overview["topics"]:
        ranked = _money(t["ranking_funded_total"]) if t["ranked"] else "not ranked"
        lines.append(f"  {t['topic_id']:22} budget {_money(t['budget']):>14}  ranked {ranked:>14}"
                     f"  signed {_money(t['signed_total']):>14} ({t['grants_signed']} grants)"
                     f"  main {t['main']} reserve {t['reserve']} rejected {t['rejected']}"
                     f" promoted {t['promoted']}")
    totals, sent = overview["totals"], overview["totals"]["notifications"]
    lines += ["", f"grants signed: {totals['grants_signed']} "
                  f"(EUR {_money(totals['granted_total'])}); "
                  f"result letters sent: {totals['letters_sent']}; "
                  f"notifications: {sent['delivered']} delivered, {sent['failed']} failed, "
                  f"{sent.get('retrying', 0)} retrying"]
    return lines


def cmd_proposal(args) -> int:
    return _client(args).call("GET", f"/proposals/{quote(args.proposal_id, safe='')}",
                              print_proposal)


def print_proposal(detail: dict) -> None:
    final = f" (final: {detail['final_state']})" if detail["final_state"] else ""
    print(f"{detail['id']}  {detail['acronym'] or ''}  topic {detail['topic'] or '?'}  "
          f"call {detail['call_id']}")
    print(f"state: {detail['state']}{final}")
    if detail["failed_rules"]:
        print(f"failed rules: {', '.join(detail['failed_rules'])}")
    if detail["total_score"] is not None:
        print(f"score: {detail['total_score']}  rank: {detail['rank'] or '-'}  "
              f"list: {detail['list'] or '-'}")
    if detail["grant_amount"] is not None:
        print(f"grant: EUR {_money(detail['grant_amount'])}"
              f"{' signed' if detail['signed'] else ''}")
    print("timeline (UTC):")
    for entry in detail["timeline"]:
        print(f"  {_when(entry['occurred_at'])}  {entry['event_type']:28} {entry['summary']}")


def cmd_report(args) -> int:
    def save(report):
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
        print(f"report of {args.call_id}: {len(report['proposals'])} proposals -> {args.output}")
    # without --output the report is printed as JSON
    return _client(args).call("GET", f"/calls/{quote(args.call_id, safe='')}/report",
                              save if args.output else None)


def cmd_loads(args) -> int:
    def line(e):
        topics = ", ".join(f"{t}: {n}" for t, n in e["by_topic"].items()) or "-"
        return (f"{e['expert_id']:16} {e['name'] or '':28} current {e['current']:3}  "
                f"reports due {e['reports_due']:3}  released {e['released']:3}  {topics}")
    path = "/loads" + (f"?call_id={quote(args.call_id, safe='')}" if args.call_id else "")
    return _rows(args, path, "experts", "no evaluator is assigned", line)


def cmd_rebuild(args) -> int:
    return _client(args).call(
        "POST", f"/calls/{quote(args.call_id, safe='')}/rebuild",
        lambda result: print(f"rebuilt {result['call_id']}: {result['events']} events "
                             f"replayed, {result['proposals']} proposals"), timeout=600)


def cmd_page_url(args) -> int:
    """The page reads the token from the fragment, which browsers never send to a server."""
    client = _client(args)
    print(f"{client.url}/#token={client.token}")
    return 0
