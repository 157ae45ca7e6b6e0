"""``grantflow ops``: what the operations service knows, from the command line.

    grantflow ops status [--call ID]      timetable, current stage, counts, topic budget lines
    grantflow ops calls                   the calls operations has heard of
    grantflow ops proposal ID             one proposal's state and timeline
    grantflow ops report CALL_ID          the call's JSON report (--output FILE to save it)
    grantflow ops loads [--call ID]       evaluators' current assignment loads
    grantflow ops rebuild CALL_ID         rebuild the call's projections from its timeline
    grantflow ops page-url                a link to the operations page that carries a token

They talk to the operations service over HTTP (``--url``, default from the configuration)
with ``--token``, else ``GRANTFLOW_TOKEN``, else an operations token signed with the
configured secret. Exit codes: 0 ok, 1 failure, 2 bad input (unknown id, refused token),
3 the service is down.
"""
from __future__ import annotations

import json
import os
import sys
from urllib.parse import quote

import requests

from shared.auth import DEFAULT_DEV_SECRET, issue_token
from shared.config import base_url, env

CLI_EMAIL = "ops-cli@grantflow.local"


class ServiceDown(Exception):
    pass


class Failed(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def register(subparsers) -> None:
    ops = subparsers.add_parser("ops", help="the operations service: status, proposals, report")
    sub = ops.add_subparsers(dest="action", required=True)

    def command(name, func, help_text):
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument("--url", help="operations service base URL "
                                          f"(default {base_url('operations')})")
        parser.add_argument("--token", help="bearer token (default: GRANTFLOW_TOKEN, else an "
                                            "operations token from the configured secret)")
        parser.set_defaults(func=func)
        return parser

    status = command("status", cmd_status, "the call's timetable, counts and budget lines")
    status.add_argument("--call", help="call id (default: the only or first call)")
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
    loads.add_argument("--call", help="only this call")
    loads.add_argument("--json", action="store_true")
    rebuild = command("rebuild", cmd_rebuild, "rebuild a call's projections from its timeline")
    rebuild.add_argument("call_id")
    command("page-url", cmd_page_url, "a link to the operations page carrying a token")


# ------------------------------------------------------------------ HTTP
def _token(args) -> str:
    return args.token or os.environ.get("GRANTFLOW_TOKEN") or issue_token(
        env("AUTH_SECRET", DEFAULT_DEV_SECRET), CLI_EMAIL, "operations")


def _base(args) -> str:
    return (args.url or base_url("operations")).rstrip("/")


def _get(args, path: str, method: str = "GET", timeout: float = 30):
    url = _base(args) + path
    try:
        response = requests.request(method, url, timeout=timeout,
                                    headers={"Authorization": f"Bearer {_token(args)}"})
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ServiceDown(f"the operations service at {_base(args)} does not answer: "
                          f"{type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:200]}
    if response.status_code >= 500:
        raise Failed(1, f"operations answered {response.status_code}: {body.get('message')}")
    if response.status_code >= 400:
        details = "; ".join(f"{e['field']}: {e['rule']}" for e in body.get("errors") or [])
        raise Failed(2, f"{body.get('message', response.status_code)}"
                        + (f" ({details})" if details else ""))
    return body


def _run(action):
    def wrapped(args) -> int:
        try:
            return action(args) or 0
        except ServiceDown as exc:
            print(exc, file=sys.stderr)
            return 3
        except Failed as exc:
            print(exc, file=sys.stderr)
            return exc.code
    wrapped.__doc__ = action.__doc__
    return wrapped


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def _money(value) -> str:
    return "-" if value is None else f"{float(value):,.2f}"


def _when(iso: str | None) -> str:
    return "-" if not iso else iso.replace("T", " ")[:16]


# ------------------------------------------------------------------ commands
@_run
def cmd_calls(args) -> int:
    calls = _get(args, "/calls")["calls"]
    if args.json:
        _print_json(calls)
    elif not calls:
        print("operations has heard of no call yet")
    for call in calls:
        stage = call["current_stage"]["label"] if call["current_stage"] else "no stage reached"
        print(f"{call['id']:24} v{call['version'] or '?'}  {call['proposals']:5} proposals  "
              f"{stage}  {call['title'] or ''}")
    return 0


@_run
def cmd_status(args) -> int:
    call_id = args.call
    if call_id is None:
        calls = _get(args, "/calls")["calls"]
        if not calls:
            raise Failed(1, "operations has heard of no call yet")
        call_id = calls[0]["id"]
    overview = _get(args, f"/calls/{quote(call_id, safe='')}/overview")
    if args.json:
        _print_json(overview)
        return 0
    for line in status_lines(overview):
        print(line)
    return 0


def status_lines(overview: dict) -> list[str]:
    """The overview as text for a terminal."""
    call, stage, counts = overview["call"], overview["current_stage"], overview["counts"]
    lines = [f"{call['id']}  {call['title'] or ''} (version {call['version'] or '?'})",
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
                  f"notifications: {sent['delivered']} delivered, {sent['failed']} failed"]
    return lines


@_run
def cmd_proposal(args) -> int:
    detail = _get(args, f"/proposals/{quote(args.proposal_id, safe='')}")
    if args.json:
        _print_json(detail)
        return 0
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
    return 0


@_run
def cmd_report(args) -> int:
    report = _get(args, f"/calls/{quote(args.call_id, safe='')}/report")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
        print(f"report of {args.call_id}: {len(report['proposals'])} proposals -> {args.output}")
    else:
        _print_json(report)
    return 0


@_run
def cmd_loads(args) -> int:
    path = "/loads" + (f"?call_id={quote(args.call, safe='')}" if args.call else "")
    experts = _get(args, path)["experts"]
    if args.json:
        _print_json(experts)
    elif not experts:
        print("no evaluator is assigned")
    for e in experts:
        topics = ", ".join(f"{t}: {n}" for t, n in e["by_topic"].items()) or "-"
        print(f"{e['expert_id']:16} {e['name'] or '':28} current {e['current']:3}  "
              f"reports due {e['reports_due']:3}  released {e['released']:3}  {topics}")
    return 0


@_run
def cmd_rebuild(args) -> int:
    result = _get(args, f"/calls/{quote(args.call_id, safe='')}/rebuild", method="POST",
                  timeout=600)
    print(f"rebuilt {result['call_id']}: {result['events']} events replayed, "
          f"{result['proposals']} proposals")
    return 0


def cmd_page_url(args) -> int:
    """The page reads the token from the fragment, which browsers never send to a server."""
    print(f"{_base(args)}/#token={_token(args)}")
    return 0
