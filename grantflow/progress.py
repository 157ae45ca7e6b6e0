"""What a stage of the timetable did, from the services' own APIs (for ``clock advance``).

Before and after each step the driver takes a :func:`snapshot`: per call, the operations
service's event counts (``GET /calls/<id>/overview``: every event it consumed, by type)
and the grants service's ended files (``GET /grants?call_id=``, for the files whose
deadline passed). :func:`summary` words the difference: "screened 12, evaluators assigned
24, rankings published 5, letters sent 130, grants expired 1".
"""
from __future__ import annotations

from collections import Counter
from urllib.parse import quote

import requests

#: (what people read, event type counted by operations)
EVENT_MEASURES = (
    ("screened", "proposal_screened"),
    ("evaluators assigned", "evaluator_assigned"),
    ("evaluations completed", "evaluation_completed"),
    ("rankings published", "ranking_published"),
    ("grant preparations started", "grant_preparation_started"),
    ("reserves promoted", "reserve_promoted"),
    ("grants signed", "grant_signed"),
    ("notifications delivered", "notification_delivered"),
    ("notifications failed", "notification_failed"),
)
LETTERS = "letters sent"
EXPIRED = "grants expired"
EXPIRY_REASONS = ("preparation_deadline_missed", "signature_deadline_missed")


def snapshot(service_urls: dict[str, str], headers: dict, call_ids: list[str]) -> Counter:
    """Counts over every call; an answer that cannot be had counts nothing (the summary is
    a report, the driver's own checks decide whether the step worked)."""
    counts: Counter = Counter()
    for call_id in call_ids:
        path = quote(call_id, safe="")
        overview = _get(f"{service_urls['operations']}/calls/{path}/overview", headers)
        if overview:
            events = overview.get("events", {})
            for label, event_type in EVENT_MEASURES:
                counts[label] += events.get(event_type, 0)
            counts[LETTERS] += overview.get("totals", {}).get("letters_sent", 0)
        grants = _get(f"{service_urls['grants']}/grants?call_id={path}", headers)
        if grants:
            counts[EXPIRED] += sum(g.get("end_reason") in EXPIRY_REASONS
                                   for g in grants.get("grants", []))
    return counts


def summary(before: Counter, after: Counter) -> str:
    """``screened 3, letters sent 5`` (what grew), or ``nothing else happened``."""
    order = [label for label, _ in EVENT_MEASURES] + [LETTERS, EXPIRED]
    grown = [f"{label} {after[label] - before[label]}" for label in order
             if after[label] > before[label]]
    return ", ".join(grown) or "nothing else happened"


def _get(url: str, headers: dict):
    try:
        response = requests.get(url, headers=headers, timeout=30)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None
