"""Reading a scenario's report: a summary for people, and the checks a scenario declares."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

from grantflow.scenario.model import Scenario

FINAL_STATES = ("withdrawn", "inadmissible", "ineligible", "rejected", "reserve", "declined",
                "grant_signed")


def _money(value) -> str:
    return "-" if value is None else f"EUR {Decimal(str(value)):,.0f}"


def print_summary(report: dict, say=print, reserve_shown: int = 3) -> None:
    proposals = report["proposals"]
    summary = report.get("summary", {})
    say("")
    say(f"== {summary.get('call_id', '')}: {len(proposals)} proposals submitted"
        + (f", {len(report.get('not_submitted', []))} never submitted (late)"
           if report.get("not_submitted") else ""))
    finals = Counter(p.get("final_state") or "not final" for p in proposals)
    say("   " + ", ".join(f"{state} {finals[state]}" for state in FINAL_STATES if finals[state])
        + (f", not final {finals['not final']}" if finals["not final"] else ""))
    by_topic: dict[str, list[dict]] = {}
    for proposal in proposals:
        by_topic.setdefault(proposal.get("topic") or "?", []).append(proposal)
    lines = {line["topic_id"]: line for line in summary.get("topics", [])}
    for topic_id in sorted(by_topic):
        line = lines.get(topic_id, {})
        ranked = sorted((p for p in by_topic[topic_id] if p.get("rank") is not None),
                        key=lambda p: p["rank"])
        say("")
        say(f"-- {topic_id} {line.get('title') or ''}: budget {_money(line.get('budget'))}, "
            f"{len(by_topic[topic_id])} proposals, {len(ranked)} ranked")
        main = [p for p in ranked if p.get("list") == "main"]
        reserve = [p for p in ranked if p.get("list") == "reserve"]
        for proposal in main:
            say(f"   {proposal['rank']:>3}  {proposal['id']:<16} {proposal.get('total_score')!s:>6}"
                f"  {proposal.get('final_state') or proposal.get('state')}")
        say(f"   ---- budget line: main list {_money(line.get('ranking_funded_total'))} of "
            f"{_money(line.get('budget'))}; signed {line.get('grants_signed', 0)} grants, "
            f"{_money(line.get('signed_total'))}; {line.get('promoted', 0)} promoted from reserve")
        for proposal in reserve[:reserve_shown]:
            say(f"   {proposal['rank']:>3}  {proposal['id']:<16} {proposal.get('total_score')!s:>6}"
                f"  {proposal.get('final_state') or proposal.get('state')}")
        if len(reserve) > reserve_shown:
            say(f"   ... {len(reserve) - reserve_shown} more on the reserve list")
    say("")
    notifications = summary.get("notifications", {})
    say(f"grants signed {summary.get('grants_signed', 0)} ({_money(summary.get('granted_total'))}), "
        f"result letters sent {summary.get('letters_sent', 0)}, messages delivered "
        f"{notifications.get('delivered', 0)}, failed {notifications.get('failed', 0)}")


def check_expectations(scenario: Scenario, report: dict) -> list[str]:
    """What the scenario's ``expect`` section says and the report does not show."""
    failures = []
    by_ref = {p.get("ref"): p for p in report["proposals"]}
    for ref, expected in scenario.expect.items():
        if ref == "notifications":
            continue
        actual = by_ref.get(ref)
        if actual is None:
            if expected.get("final_state") == "not_submitted" and ref in report.get("not_submitted", []):
                continue
            failures.append(f"{ref}: not in the report (never submitted?)")
            continue
        for key, value in expected.items():
            got = actual.get(key)
            if key == "failed_rules":
                missing = sorted(set(value) - set(got or []))
                if missing or (not value and got):
                    failures.append(f"{ref}: failed_rules {got} (expected {value})")
            elif key == "total_score":
                if got is None or Decimal(str(got)) != Decimal(str(value)):
                    failures.append(f"{ref}: total_score {got} (expected {value})")
            elif got != value:
                failures.append(f"{ref}: {key} {got!r} (expected {value!r})")
    for email, templates in (scenario.expect.get("notifications") or {}).items():
        received = Counter(n["template"] for n in report.get("notifications", {}).get(email, [])
                           if n["status"] == "sent")
        for template, count in templates.items():
            if received[template] != count:
                failures.append(f"{email}: {received[template]} x {template} (expected {count})")
    return failures
