"""Request bodies and small fakes for the submission service's tests and benchmark:
proposals as the HTTP API takes them, over the bundled AMIF-2018-AG-INTE call."""
from __future__ import annotations

import base64
import threading
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from shared.auth import Principal
from shared.calls.loader import DEFAULT_CALL_FILE

CALL_ID = "AMIF-2018-AG-INTE"
TOPIC_1, TOPIC_2, TOPIC_3 = (f"{CALL_ID}-{n}" for n in (1, 2, 3))
BRUSSELS = ZoneInfo("Europe/Brussels")
UTC = timezone.utc
DURING_SUBMISSION = datetime(2019, 1, 15, 10, 0, tzinfo=UTC)
DEADLINE = datetime(2019, 1, 31, 17, 0, tzinfo=BRUSSELS)  # 16:00 UTC


OPS = Principal("ops@grantflow.test", "operations")


def applicant(email: str = "ghent@example.eu") -> Principal:
    """The principal of an applicant (the default is the contact of proposal_body())."""
    return Principal(email, "applicant")


def call_yaml() -> str:
    return DEFAULT_CALL_FILE.read_text(encoding="utf-8")


def amended_yaml(version: int, deadline: str | None = None, text: str | None = None) -> str:
    """The bundled call as ``version``, its deadline moved to local ``deadline``
    ("2019-02-07 17:00")."""
    text = (text or call_yaml()).replace("\nversion: 1\n", f"\nversion: {version}\n", 1)
    if deadline:
        old = 'at: "2019-01-31 17:00"'
        assert text.count(old) == 1
        text = text.replace(old, f'at: "{deadline}"')
    return text


def participant(name: str, country: str = "BE", *, entity_type: str = "public_body",
                lra: bool = True, experienced: bool = False, email: str | None = None,
                org: str | None = None) -> dict:
    return {"legal_name": name, "organisation_id": org or f"ORG-{name.upper()}",
            "country": country, "entity_type": entity_type,
            "local_or_regional_authority": lra, "experienced_in_integration": experienced,
            "contact_email": email or f"{name.lower()}@example.eu"}


def part_upload(name: str, data: bytes | None = None, filename: str | None = None) -> dict:
    data = data if data is not None else f"%PDF-1.4 {name}".encode()
    return {"name": name, "filename": filename or f"{name}.pdf",
            "content_base64": base64.b64encode(data).decode()}


def proposal_body(coordinator: dict | None = None, co_applicants: list | None = None, *,
                  topic_id: str = TOPIC_1, part_names=("part_a", "part_b", "budget"),
                  **overrides) -> dict:
    """A draft that passes every rule of topic 1 unless overridden."""
    body = {
        "call_id": CALL_ID, "topic_id": topic_id, "acronym": "NETINT",
        "title": "Network for integration", "abstract": "Cities learn together.",
        "coordinator": coordinator or participant("Ghent", "BE", experienced=True),
        "co_applicants": co_applicants if co_applicants is not None else [
            participant("Lyon", "FR"), participant("Bologna", "IT")],
        "integration_areas": ["housing", "labour_market"], "duration_months": 24,
        "total_eligible_costs": "1000000.00", "requested_grant": "800000.00",
        "parts": [part_upload(name) for name in part_names]}
    body.update(overrides)
    return body


class ManualClock:
    """A clock tests set by hand; ``hold()`` makes ``now()`` wait until ``release()``
    (to keep a transaction open at the moment it reads the time)."""

    def __init__(self, instant: datetime = DURING_SUBMISSION):
        self.instant = instant
        self._gate = threading.Event()
        self._gate.set()
        self.waiting = threading.Event()

    def set(self, instant: datetime) -> None:
        self.instant = instant

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def now(self) -> datetime:
        if not self._gate.is_set():
            self.waiting.set()
            self._gate.wait(30)
        return self.instant


def same_project_in_two_topics() -> dict[str, dict]:
    """Five proposals in topic 1 and one in topic 2 (``copy_2``): ``copy_1`` of topic 1
    is the same project under its coordinator id in lower case and another spacing of
    its acronym, so both fail ``single_topic``; the four ``other`` ones pass it."""
    ghent = participant("Ghent", "BE", experienced=True)
    bodies = {f"other{n}": proposal_body(coordinator=ghent, acronym=f"OTHER{n}")
              for n in range(4)}
    bodies["copy_1"] = proposal_body(coordinator=ghent, acronym="NET INT")
    bodies["copy_2"] = proposal_body(coordinator={**ghent, "organisation_id": "org-ghent"},
                                     acronym=" net  int ", topic_id=TOPIC_2)
    return bodies
