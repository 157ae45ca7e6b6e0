"""``grantflow experts | assignments | reports | ranking``: the evaluation service.

Talks to the evaluation service through :mod:`grantflow.http` at ``--url``, else
``GRANTFLOW_EVALUATION_URL``, else ``shared.config.base_url("evaluation")``. Token: ``--token``, else ``$GRANTFLOW_TOKEN``, else a
development token signed with the configured secret: an evaluator token for ``--as EMAIL``
(``reports`` commands), an applicant token for ``ranking summary --as EMAIL``, an
operations token otherwise. Exit codes: 0 ok, 1 refused (401/403/404/409), 2 bad input
(400/413/422, or a file that cannot be read), 3 the service is down.

Examples::

    grantflow experts import experts.csv
    grantflow assignments run AMIF-2018-AG-INTE
    grantflow assignments loads
    grantflow reports mine --as anna.expert@example.org
    grantflow reports submit P-1A2B3C report.json --final --as anna.expert@example.org
    grantflow reports conflict P-1A2B3C --reason "former employer" --as anna.expert@example.org
    grantflow ranking publish AMIF-2018-AG-INTE AMIF-2018-AG-INTE-1 --force
    grantflow ranking summary P-1A2B3C --html > summary.html
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import requests

from grantflow.http import (BAD_INPUT, UPLOAD_INPUT_STATUSES, Client, connection_options,
                            dev_token)


class LiveHelpParser(argparse.ArgumentParser):
    """A parser whose epilog is worked out when its help is shown (it may ask a service),
    not on every command run."""

    live_epilog = None

    def format_help(self) -> str:
        if self.live_epilog is not None:
            self.epilog = self.live_epilog()
        return super().format_help()


def experts_help() -> str:
    """The CSV columns of an expert import, from the evaluation domain's own field list."""
    from services.evaluation.domain.experts import FIELDS, LIST_SEPARATOR, REQUIRED
    return "\n".join([
        "A CSV file (UTF-8, a header row naming the columns, one expert per row) or a JSON",
        "list of objects with the same fields. Columns:",
        *[f"  {name}{'' if name in REQUIRED else ' (optional)'}" for name in FIELDS],
        f"Lists (expertise_areas, keywords, languages) separate items with '{LIST_SEPARATOR}' in "
        "one cell;",
        "country is an ISO 3166-1 code (BE), languages ISO 639-1 codes (en), max_load a whole",
        "number, active true or false. A row whose email is already known updates that expert.",
        "All or nothing: any problem (reported as row N, field F: rule) imports no row.",
        "Example:",
        "  id,name,email,country,organisation_id,expertise_areas,keywords,max_load,languages",
        "  EXP-1,Ana Lopes,ana.lopes@experts.example,PT,ORG-17,housing;labour_market,"
        "housing;jobs,8,en;pt",
    ])


def _loaded_criteria() -> tuple[list[dict], str]:
    """The criteria of the call loaded in the submission service (first one), else of the
    bundled call file; and where they come from."""
    from shared.config import base_url
    url, headers = base_url("submission"), {"Authorization": f"Bearer {dev_token()}"}
    try:
        calls = requests.get(f"{url}/calls", headers=headers, timeout=3).json()
        if calls:
            call_id = calls[0]["call_id"]
            call = requests.get(f"{url}/calls/{call_id}", headers=headers, timeout=3).json()
            return call["call"]["evaluation"]["criteria"], f"call {call_id} (loaded)"
    except (requests.RequestException, ValueError, KeyError, TypeError):
        pass
    from shared.calls.loader import DEFAULT_CALL_FILE, load_default_call
    criteria = [{"id": c.id, "max_points": c.max_points, "threshold": c.threshold}
                for c in load_default_call().evaluation.criteria]
    return criteria, f"{DEFAULT_CALL_FILE.name} (no call loaded or the service is not running)"


def report_help() -> str:
    from services.evaluation.domain.reports import DEFAULT_MIN_COMMENT_LENGTH, SCORE_STEP
    criteria, source = _loaded_criteria()
    lines = ['The JSON file: {"criteria": {CRITERION_ID: {"score": POINTS, "comment": TEXT}}}',
             f"Criteria of {source}:"]
    for c in criteria:
        threshold = f", at least {c['threshold']} to pass" if c.get("threshold") else ""
        lines.append(f"  {c['id']:24} 0 to {c['max_points']} points in steps of "
                     f"{SCORE_STEP}{threshold}")
    first = criteria[0]["id"] if criteria else "relevance"
    lines += [f"Every comment needs at least {DEFAULT_MIN_COMMENT_LENGTH} characters. A draft may "
              "leave criteria out;", "--final needs every criterion with its comment, and a "
              "final report cannot be changed.", "Example:",
              f'  {{"criteria": {{"{first}": {{"score": 24.5, "comment": "Clear needs '
              'analysis, weak indicators."}, ...}}']
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTTP
def show(args, method: str, path: str, printer=None, role_for_as: str = "evaluator",
         **kwargs) -> int:
    """Call the evaluation service and print the answer; ``--as EMAIL`` acts with a
    ``role_for_as`` token. A text answer (the HTML summary) is written as it is."""
    return Client(args, "evaluation", as_role=role_for_as, timeout=300,
                  bad_input=UPLOAD_INPUT_STATUSES).call(method, path, printer, **kwargs)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {path}: {exc}", file=sys.stderr)
        return None


# --------------------------------------------------------------------------- parsers
def register(subparsers) -> None:
    common = connection_options("evaluation")
    acting = connection_options("evaluation", as_help="act as this person (a development token)")
    _experts(subparsers, common)
    _assignments(subparsers, common)
    _reports(subparsers, acting)
    _ranking(subparsers, common, acting)


def _command(sub, name, help_text, func, parent, *arguments):
    parser = sub.add_parser(name, help=help_text, parents=[parent])
    for args, kwargs in arguments:
        parser.add_argument(*args, **kwargs)
    parser.set_defaults(func=func)
    return parser


def _arg(*args, **kwargs):
    return args, kwargs


def _experts(subparsers, common) -> None:
    sub = subparsers.add_parser("experts", help="the expert pool (operations)") \
        .add_subparsers(dest="action", required=True)
    imported = _command(sub, "import", "import experts from a CSV or JSON file (all or nothing)",
                        cmd_experts_import, common, _arg("file", type=Path))
    imported.epilog = experts_help()
    imported.formatter_class = argparse.RawDescriptionHelpFormatter
    _command(sub, "list", "every expert with current load", cmd_experts_list, common)
    _command(sub, "show", "one expert and their assignments",
             lambda a: show(a, "GET", f"/experts/{a.expert_id}"), common, _arg("expert_id"))
    _command(sub, "edit", "change fields: --set max_load=5 --set keywords='a;b'",
             cmd_experts_edit, common, _arg("expert_id"),
             _arg("--set", action="append", default=[], metavar="FIELD=VALUE"))
    for name in ("deactivate", "reactivate"):
        _command(sub, name, f"{name} an expert", cmd_experts_active(name), common,
                 _arg("expert_id"))
    affinities = sub.add_parser("affinities", help="affinity scores from outside "
                                                   "(OpenReview, TPMS, ...)") \
        .add_subparsers(dest="affinity_action", required=True)
    parser = _command(affinities, "import", "import affinity scores from a CSV file (all or "
                      "nothing)", cmd_affinities_import, common, _arg("file", type=Path))
    parser.description = AFFINITY_HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _assignments(subparsers, common) -> None:
    sub = subparsers.add_parser("assignments", help="assignment runs, repairs, loads "
                                                    "(operations)") \
        .add_subparsers(dest="action", required=True)
    _command(sub, "run", "assign the topics waiting for it (optimal min-cost flow)",
             cmd_run, common, _arg("call_id"),
             _arg("--topic", action="append", dest="topics", metavar="TOPIC_ID"))
    _command(sub, "repair", "refill every proposal short of evaluators",
             lambda a: show(a, "POST", f"/calls/{a.call_id}/assignment/repair", _print_run),
             common, _arg("call_id"))
    _command(sub, "list", "active assignments",
             lambda a: show(a, "GET", "/assignments", _print_assignments,
                            params={"topic_id": a.topic, "expert_id": a.expert}),
             common, _arg("--topic"), _arg("--expert"))
    _command(sub, "loads", "load per expert and topic",
             lambda a: show(a, "GET", "/loads", _print_loads), common)
    _command(sub, "runs", "the latest assignment runs and their diagnoses",
             lambda a: show(a, "GET", "/assignment-runs", _print_runs), common)
    _command(sub, "override", "release and/or assign named experts, with a reason",
             cmd_override, common, _arg("proposal_id"),
             _arg("--release", action="append", default=[], metavar="EXPERT_ID"),
             _arg("--assign", action="append", default=[], metavar="EXPERT_ID"),
             _arg("--reason", required=True))
    _command(sub, "extra", "one more evaluator for a proposal with a flagged spread",
             lambda a: show(a, "POST", f"/proposals/{a.proposal_id}/extra-evaluator",
                            _print_run), common, _arg("proposal_id"))
    _command(sub, "conflict", "record a conflict of interest on any pair",
             lambda a: show(a, "POST", "/conflicts", json={
                 "expert_id": a.expert, "proposal_id": a.proposal, "reason": a.reason}),
             common, _arg("--expert", required=True), _arg("--proposal", required=True),
             _arg("--reason", required=True))
    _command(sub, "conflicts", "declared conflicts",
             lambda a: show(a, "GET", "/conflicts",
                            params={"proposal_id": a.proposal, "expert_id": a.expert}),
             common, _arg("--proposal"), _arg("--expert"))
    _command(sub, "proposal", "a proposal's evaluation: assignments, reports, consensus",
             lambda a: show(a, "GET", f"/proposals/{a.proposal_id}/evaluation",
                            _print_evaluation), common, _arg("proposal_id"))


def _reports(subparsers, acting) -> None:
    sub = subparsers.add_parser("reports", help="an evaluator's assignments and reports "
                                                "(--as EMAIL)") \
        .add_subparsers(dest="action", required=True, parser_class=LiveHelpParser)
    _command(sub, "mine", "my assignments",
             lambda a: show(a, "GET", "/me/assignments", _print_mine), acting)
    _command(sub, "show", "one assigned proposal and my report",
             lambda a: show(a, "GET", f"/me/assignments/{a.proposal_id}"), acting,
             _arg("proposal_id"))
    submit = _command(sub, "submit", "save a report from a JSON file ({criteria: {id: {score, "
                                     "comment}}}); --final makes it final",
                      cmd_report_submit, acting, _arg("proposal_id"), _arg("file", type=Path),
                      _arg("--final", action="store_true"),
                      _arg("--consensus", action="store_true", help="the rapporteur's report"))
    submit.live_epilog = report_help
    submit.formatter_class = argparse.RawDescriptionHelpFormatter
    _command(sub, "finalise", "make the saved report final (no edits after)",
             lambda a: show(a, "POST", f"/me/assignments/{a.proposal_id}/"
                                       f"{'consensus-report' if a.consensus else 'report'}/final"),
             acting, _arg("proposal_id"), _arg("--consensus", action="store_true"))
    _command(sub, "conflict", "declare a conflict of interest on an assigned proposal",
             lambda a: show(a, "POST", f"/me/assignments/{a.proposal_id}/conflict",
                            json={"reason": a.reason}),
             acting, _arg("proposal_id"), _arg("--reason", required=True))
    _command(sub, "decline", "decline an assignment",
             lambda a: show(a, "POST", f"/me/assignments/{a.proposal_id}/decline",
                            json={"reason": a.reason}),
             acting, _arg("proposal_id"), _arg("--reason", default=""))
    _command(sub, "note", "record a consensus note (operations, or the rapporteur)",
             lambda a: show(a, "POST", f"/proposals/{a.proposal_id}/consensus-note",
                            json={"text": a.text}),
             acting, _arg("proposal_id"), _arg("--text", required=True))


def _ranking(subparsers, common, acting) -> None:
    sub = subparsers.add_parser("ranking", help="topics, rankings, summary reports") \
        .add_subparsers(dest="action", required=True)
    _command(sub, "topics", "each topic's assignment and ranking status",
             lambda a: show(a, "GET", f"/calls/{a.call_id}/topics", _print_topics), common,
             _arg("call_id"))
    _command(sub, "show", "a published ranking",
             lambda a: show(a, "GET", f"/calls/{a.call_id}/topics/{a.topic_id}/ranking",
                            _print_ranking), common, _arg("call_id"), _arg("topic_id"))
    _command(sub, "publish", "publish a topic's ranking (--force: rank now, rejecting the "
                             "proposals not evaluated)",
             lambda a: show(a, "POST", f"/calls/{a.call_id}/topics/{a.topic_id}/ranking",
                            _print_ranking, json={"force": a.force}),
             common, _arg("call_id"), _arg("topic_id"), _arg("--force", action="store_true"))
    _command(sub, "summary", "a proposal's evaluation summary report (--html for the document)",
             lambda a: show(a, "GET", f"/proposals/{a.proposal_id}/summary"
                                      f"{'.html' if a.html else ''}", role_for_as="applicant"),
             acting, _arg("proposal_id"), _arg("--html", action="store_true"))


# --------------------------------------------------------------------------- commands
def cmd_experts_import(args) -> int:
    text = _read(args.file)
    if text is None:
        return BAD_INPUT
    if args.file.suffix.lower() == ".csv":
        return show(args, "POST", "/experts/import", _print_import, data=text.encode(),
                    headers={"Content-Type": "text/csv"})
    try:
        records = json.loads(text)
    except ValueError as exc:
        print(f"{args.file} is not JSON (or name it .csv): {exc}", file=sys.stderr)
        return BAD_INPUT
    body = {"experts": records} if isinstance(records, list) else records
    return show(args, "POST", "/experts/import", _print_import, json=body)


AFFINITY_HELP = """Import affinity scores, as OpenReview and TPMS users bring them.

The file is CSV with a header row and three columns (any order):
  expert_id    an expert of the pool (grantflow experts list)
  proposal_id  a proposal in evaluation (closed, screened eligible, not withdrawn)
  score        a number within [0, 1]
For its pairs an imported score replaces the TF-IDF text similarity in every later
assignment run (the integration-area overlap still counts at its weight); a later
import replaces an earlier score of the same pair. Nothing is imported unless every
line is valid: each problem is printed with its line, column and rule. At most
200,000 rows (16 MB) per file.

example:
  expert_id,proposal_id,score
  E-12,P-1A2B3C,0.83
"""


def cmd_affinities_import(args) -> int:
    text = _read(args.file)
    if text is None:
        return BAD_INPUT
    return show(args, "POST", "/affinities/import", _print_affinities, data=text.encode(),
                headers={"Content-Type": "text/csv"})


def _print_affinities(data) -> None:
    print(f"imported {data['imported']} score(s) for {data['proposals']} proposal(s) and "
          f"{data['experts']} expert(s); {data['replaced']} replaced an earlier score")


def cmd_experts_list(args) -> int:
    def printer(experts):
        for e in experts:
            state = "" if e["active"] else "  (inactive)"
            print(f"{e['id']:12} {e['name'][:28]:28} {e['email'][:34]:34} {e['organisation_id']:12}"
                  f" load {e['load']}/{e['max_load']}{state}")
        print(f"{len(experts)} expert(s)")
    return show(args, "GET", "/experts", printer)


def cmd_experts_edit(args) -> int:
    changes = {}
    for item in args.set:
        field, sep, value = item.partition("=")
        if not sep:
            print(f"--set {item}: write FIELD=VALUE", file=sys.stderr)
            return BAD_INPUT
        changes[field.strip()] = value
    if not changes:
        print("nothing to change: give --set FIELD=VALUE", file=sys.stderr)
        return BAD_INPUT
    return show(args, "PATCH", f"/experts/{args.expert_id}", json=changes)


def cmd_experts_active(action: str):
    return lambda args: show(args, "POST", f"/experts/{args.expert_id}/{action}")


def cmd_run(args) -> int:
    return show(args, "POST", f"/calls/{args.call_id}/assignment", _print_run,
                json={"topics": args.topics} if args.topics else {})


def cmd_override(args) -> int:
    return show(args, "POST", f"/proposals/{args.proposal_id}/override", json={
        "release": args.release, "assign": args.assign, "reason": args.reason})


def cmd_report_submit(args) -> int:
    text = _read(args.file)
    if text is None:
        return BAD_INPUT
    try:
        body = json.loads(text)
    except ValueError as exc:
        print(f"{args.file} is not JSON: {exc}", file=sys.stderr)
        return BAD_INPUT
    if not isinstance(body, dict):
        print(f"{args.file}: a JSON object with 'criteria' is expected", file=sys.stderr)
        return BAD_INPUT
    if args.final:
        body["final"] = True
    kind = "consensus-report" if args.consensus else "report"
    return show(args, "PUT", f"/me/assignments/{args.proposal_id}/{kind}", _print_report,
                json=body)


# --------------------------------------------------------------------------- printing
def _print_report(data) -> None:
    state = f"final since {data['finalised_at']}" if data["final"] else "draft (not final yet)"
    print(f"report saved: {state}; total {data['total']} points, updated {data['updated_at']}")
    for criterion, given in data["criteria"].items():
        score = "-" if given["score"] is None else given["score"]
        comment = (given["comment"] or "(no comment)").replace("\n", " ")
        print(f"  {criterion:24} {score:>6}  {comment[:70]}")


def _print_evaluation(data) -> None:
    outcome = data["outcome"] or data["consensus_state"] or "not assessed"
    print(f"{data['proposal_id']} {data['acronym']} ({data['topic_id']}): {outcome}")
    if data["withdrawn_at"]:
        print(f"  withdrawn {data['withdrawn_at']}")
    print(f"  evaluators: {sum(a['status'] == 'active' for a in data['assignments'])} active "
          f"of {data['target_evaluators']} wanted"
          + (f"; rapporteur {data['rapporteur_id']}" if data["rapporteur_id"] else ""))
    for a in data["assignments"]:
        released = f", released {a['released_at']} ({a['release_reason']})" \
            if a["released_at"] else ""
        print(f"    {a['expert_id']:12} {a['status']:9} {a['reason']:10} due {a['due_at']}{released}")
    for r in data["reports"]:
        print(f"  {r['kind']} report by {r['expert_id']}: {r['total']} points, "
              f"{'final' if r['final'] else 'draft'}")
    if data["missing_reports"]:
        print(f"  reports missing from: {', '.join(data['missing_reports'])}")
    if data["spread"]:
        flagged = " (flagged)" if data["spread"]["flagged"] else ""
        print(f"  spread {data['spread']['value']} (threshold {data['spread']['threshold']})"
              f"{flagged}")
    if data["consensus"]:
        print(f"  consensus: {json.dumps(data['consensus'], default=str)[:200]}")
    if data["repair_diagnosis"]:
        print(f"  short of evaluators: {data['repair_diagnosis']}")


def _print_import(data) -> None:
    print(f"added {len(data['added'])}, updated {len(data['updated'])}, unchanged "
          f"{len(data['unchanged'])}; assignments released: {len(data['released'])}")


def _print_run(data) -> None:
    print(f"{data['kind']} run: {data['status']}, {len(data['assigned'])} assignment(s)"
          + (f", objective {data['objective']}" if data.get("objective") is not None else ""))
    for pair in data["assigned"]:
        print(f"  {pair['proposal_id']:16} <- {pair['expert_id']}")
    for failure in data["failed"]:
        for line in failure["diagnosis"]:
            print(f"  {failure['subject']}: {line}")


def _print_assignments(rows) -> None:
    for a in rows:
        print(f"{a['proposal_id']:16} {a['expert_id']:12} {a['reason']:8} due {a['due_at']}")
    print(f"{len(rows)} active assignment(s)")


def _print_loads(rows) -> None:
    for r in rows:
        topics = ", ".join(f"{t}: {n}" for t, n in sorted(r["by_topic"].items()))
        print(f"{r['expert_id']:12} {r['load']:3}/{r['max_load']:<3} final reports "
              f"{r['final_reports']:3}  {topics}{'' if r['active'] else '  (inactive)'}")


def _print_runs(rows) -> None:
    for r in rows:
        print(f"{r['started_at']} {r['kind']:8} {r['status']:11} {r['assigned']:4} assigned"
              f"  by {r['triggered_by']}")
        for line in r["diagnosis"]:
            print(f"    {line}")


def _print_mine(rows) -> None:
    for a in rows:
        role = " (rapporteur)" if a["rapporteur"] else ""
        print(f"{a['proposal_id']:16} {a['acronym'][:20]:20} due {a['due_at']}  report "
              f"{a['report_status']}{role}")
    print(f"{len(rows)} assignment(s)")


def _print_topics(rows) -> None:
    for t in rows:
        ranked = f"ranked {t['ranked_at']}" if t["ranked_at"] else "not ranked"
        print(f"{t['topic_id']:22} {t['assignment_status']:10} {t['evaluated']:4} evaluated, "
              f"{len(t['incomplete'])} incomplete, {ranked}")
        for line in t["assignment_diagnosis"]:
            print(f"    {line}")


def _print_ranking(data) -> None:
    print(f"{data['topic_id']}: budget {data['budget']}, funded {data['funded_total']}")
    for name in ("main", "reserve", "rejected"):
        for e in data[name]:
            rank = e["rank"] if e["rank"] is not None else "-"
            extra = f" failed: {', '.join(e['failed_thresholds'])}" if e["failed_thresholds"] else ""
            print(f"  {name:8} {rank!s:>3} {e['proposal_id']:16} {e['acronym'][:18]:18} "
                  f"total {e['total']:>6} grant {e.get('grant_amount') or '-'}{extra}")
