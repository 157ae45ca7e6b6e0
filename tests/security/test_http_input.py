"""Issue 10, findings 2, 4 and 7 on the HTTP side: request bodies (chunked, too large, too
deep), NUL characters and numbers out of range, free text, part types, the dead-letter
replay, a call in the year 0001. Each test names the finding it closes; all run against
one real stack (tests/security/conftest.py)."""
from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from tests.support.submission_data import call_yaml, proposal_body

pytestmark = pytest.mark.integration
APPLICANT = "ghent@example.eu"
PDF = b"%PDF-1.4\n" + b"x" * 100_000


def chunks(data: bytes, size: int = 8192):
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.fixture(scope="module")
def draft(shared_stack):
    created = shared_stack.api("submission", "applicant", APPLICANT).post(
        "/proposals", json=proposal_body())
    assert created.status_code == 201, created.text
    return created.json()["id"]


def raw_request(url: str, head: str, body: bytes = b"") -> bytes:
    """Send bytes as they are and read the answer (what requests would not send)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


# ------------------------------------------------------------------ finding 2: chunked
def test_a_chunked_part_upload_is_stored_whole_not_empty(shared_stack, draft):
    applicant = shared_stack.api("submission", "applicant", APPLICANT)
    stored = applicant.put(f"/proposals/{draft}/parts/part_b?filename=b.pdf", data=chunks(PDF),
                           headers={"Content-Type": "application/pdf"})
    assert stored.status_code == 200, stored.text
    part = next(p for p in stored.json()["parts"] if p["name"] == "part_b")
    assert part["size"] == len(PDF)
    assert applicant.get(f"/proposals/{draft}/parts/part_b").content == PDF


def test_a_chunked_replay_body_is_read_so_one_event_does_not_become_all(shared_stack):
    operations = shared_stack.api("operations")
    body = json.dumps({"event_id": "no-such-event"}).encode()
    answer = operations.post("/dead-letters/replay", data=chunks(body, 5),
                             headers={"Content-Type": "application/json"})
    assert answer.status_code == 404, answer.text  # the one event asked for is unknown
    empty = operations.post("/dead-letters/replay", json={})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "event_id"


def test_a_chunked_body_above_the_limit_is_refused_with_413(shared_stack, draft):
    applicant = shared_stack.api("submission", "applicant", APPLICANT)
    limit = 10 * 1024 * 1024
    answer = applicant.put(f"/proposals/{draft}/parts/part_a?filename=a.pdf",
                           data=chunks(b"%PDF-" + b"y" * limit, 256 * 1024))
    assert answer.status_code == 413, answer.text


def test_an_empty_part_is_refused_not_stored(shared_stack, draft):
    answer = shared_stack.api("submission", "applicant", APPLICANT).put(
        f"/proposals/{draft}/parts/part_a?filename=a.pdf", data=b"")
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "_body"


# ------------------------------------------------------------------ finding 4: limits
def test_a_declared_body_above_the_route_limit_is_refused_before_it_is_read(shared_stack):
    """200 MB announced, nothing sent: the answer comes at once (a 413), so the body was
    never waited for, let alone read."""
    url = shared_stack.url("evaluation")
    token = shared_stack.api("evaluation", "evaluator", "e@example.org").headers["Authorization"]
    answer = raw_request(url, f"PUT /me/assignments/P-1/report HTTP/1.1\r\nHost: x\r\n"
                              f"Authorization: {token}\r\nContent-Type: application/json\r\n"
                              f"Content-Length: {200 * 1024 * 1024}\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_free_text_has_a_maximum_length(shared_stack):
    evaluator = shared_stack.api("evaluation", "evaluator", "e@example.org")
    note = evaluator.post("/proposals/P-1/consensus-note", json={"text": "x" * 20_000})
    assert note.status_code == 422 and note.json()["errors"][0]["field"] == "text"
    report = evaluator.put("/me/assignments/P-1/report", json={
        "criteria": {"relevance": {"score": 20, "comment": "x" * 20_000}}})
    assert report.status_code == 422
    assert report.json()["errors"][0]["field"] == "criteria.relevance.value.comment"
    five_mb = evaluator.put("/me/assignments/P-1/report", json={
        "criteria": {"relevance": {"score": 20, "comment": "x" * 5_000_000}}})
    assert five_mb.status_code == 413


# ------------------------------------------------------------------ finding 7: 500s
def test_json_nested_100000_deep_is_a_400(shared_stack):
    deep = "[" * 100_000 + "]" * 100_000
    for service, path in (("operations", "/dead-letters/replay"),
                          ("grants", "/grants/G-1/decline")):
        answer = shared_stack.api(service, "operations" if service == "operations"
                                  else "applicant", APPLICANT).post(
            path, data='{"a": ' + deep + "}", headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "json_too_deep"


@pytest.mark.parametrize("service, role, path", [
    ("submission", "applicant", "/proposals/P-%00"),
    ("submission", "applicant", "/proposals?call_id=A%00B"),
    ("notifications", "operations", "/notifications?proposal_id=P%00"),
    ("operations", "operations", "/proposals/P%00/timeline"),
    ("grants", "operations", "/grants?call_id=%00"),
    ("evaluation", "operations", "/conflicts?expert_id=%00"),
])
def test_nul_in_a_path_value_or_query_argument_is_a_422_naming_it(shared_stack, service,
                                                                   role, path):
    answer = shared_stack.api(service, role, APPLICANT).get(path)
    assert answer.status_code == 422, answer.text
    assert "NUL" in answer.json()["errors"][0]["rule"]


def test_nul_in_a_reason_is_a_422_naming_the_field(shared_stack, draft):
    answer = shared_stack.api("submission", "applicant", APPLICANT).post(
        f"/proposals/{draft}/withdraw", json={"reason": "changed\x00mind"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0] == {"field": "reason",
                                          "rule": "must not contain NUL characters"}


@pytest.mark.parametrize("offset", ["1e20", "100000000000000000000", "99999999999"])
def test_a_notifications_offset_out_of_range_is_a_422(shared_stack, offset):
    answer = shared_stack.api("notifications").get(f"/notifications?offset={offset}")
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "offset"


def test_a_call_in_the_year_0001_is_a_422(shared_stack):
    text = call_yaml().replace('"2018-07-26 00:00"', '"0001-01-01 00:00"', 1)
    answer = shared_stack.api("submission").post(
        "/calls", data=text.encode(), headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 422, answer.text
    assert "1970" in answer.text


# ------------------------------------------------------------------ part types
def test_a_part_named_pdf_must_be_a_pdf(shared_stack, draft):
    applicant = shared_stack.api("submission", "applicant", APPLICANT)
    fake = applicant.put(f"/proposals/{draft}/parts/part_a?filename=a.pdf",
                         data=b"MZ\x90\x00 not a pdf")
    assert fake.status_code == 422 and "PDF" in fake.json()["errors"][0]["rule"]
    typed = applicant.put(f"/proposals/{draft}/parts/part_a", data=b"GIF89a",
                          headers={"Content-Type": "application/pdf"})
    assert typed.status_code == 422
    real = applicant.put(f"/proposals/{draft}/parts/part_a?filename=a.pdf", data=PDF)
    assert real.status_code == 200, real.text


# ------------------------------------------------------------------ finding 8: part blobs
def test_a_part_blob_is_deleted_once_no_working_copy_or_version_refers_to_it(shared_stack):
    import hashlib

    import sqlalchemy as sa

    applicant = shared_stack.api("submission", "applicant", APPLICANT)
    proposal_id = applicant.post("/proposals", json=proposal_body()).json()["id"]
    engine = shared_stack.databases.engine("submission")

    def stored(data: bytes) -> bool:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM parts WHERE sha256 = :s"),
                                      {"s": hashlib.sha256(data).hexdigest()}).scalar() == 1

    draft, submitted, later = (b"%PDF-1.4 " + label for label in (b"draft", b"v1", b"v2"))
    for data in (draft, submitted):
        assert applicant.put(f"/proposals/{proposal_id}/parts/part_b?filename=b.pdf",
                             data=data).status_code == 200
    assert not stored(draft) and stored(submitted)  # the draft's bytes were never submitted
    assert applicant.post(f"/proposals/{proposal_id}/submit").status_code == 200
    assert applicant.put(f"/proposals/{proposal_id}/parts/part_b?filename=b.pdf",
                         data=later).status_code == 200
    assert stored(submitted) and stored(later)  # version 1 still refers to its bytes
    assert applicant.delete(f"/proposals/{proposal_id}/parts/part_b").status_code == 200
    assert not stored(later) and stored(submitted)
    assert applicant.get(f"/proposals/{proposal_id}/parts/part_b?version=1").content == \
        submitted
    engine.dispose()
