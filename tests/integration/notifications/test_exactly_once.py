"""Exactly one message per (event, recipient, template) through the real broker, service
process, PostgreSQL and SMTP server: duplicate publication, redelivery after a consumer
crash, a refused address, the SMTP server down for a while, a database connection
terminated between the server's "250 OK" and the commit that records it, and a crash in
that window."""
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import requests
import sqlalchemy as sa

from tests.support.infra import eventually, stays
from tests.unit.notifications import factories as f

from .helpers import (about, attempts, call_published, consumed, deliveries, health, mails,
                      metric, outbox_count, pdf_text, publish)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PUBLISHED = datetime(2018, 7, 26, tzinfo=timezone.utc)
ANNA, REFUSED = "anna.rossi@comune.example.it", "nobody@rejected.invalid"


def _final(stack, n):
    rows = deliveries(stack)
    return len(rows) == n and all(r.status in ("sent", "failed") for r in rows) and rows


def test_duplicates_and_redelivery_send_once_a_refused_address_fails_and_the_api_shows_it(
        stack):
    stack.start("notifications",
                env={"GRANTFLOW_FAILPOINTS": "consumer.after_commit@proposal_submitted"})
    receipt = f.submitted(contact_emails=[ANNA, REFUSED])
    publish(stack, call_published(PUBLISHED), receipt)
    stack.processes["notifications"].wait_dead()  # committed, then killed before the ack
    assert len(deliveries(stack)) == 2
    stack.restart("notifications")  # the unacked event comes back: a redelivery
    publish(stack, receipt)  # and the producer publishes the very same event again

    rows = eventually(lambda: _final(stack, 2), message="both deliveries final")
    stays(lambda: len(mails(stack, ANNA)) == 1 and len(deliveries(stack)) == 2,
          duration=3, message="one receipt, however many copies of the event")
    assert eventually(lambda: consumed(stack, "proposal_submitted", "duplicate") == 2)
    refused = next(r for r in rows if r.recipient == REFUSED)
    assert refused.status == "failed" and refused.attempts == 1  # no retry loop
    assert "550 5.1.1" in refused.last_error
    assert mails(stack, REFUSED) == []
    [mail] = mails(stack, ANNA)
    anna = next(r for r in rows if r.recipient == ANNA)
    assert mail["message_id"] == anna.message_id and f.CONTENT_HASH in mail["text"]
    eventually(lambda: outbox_count(stack, "notification_delivered") == 1
               and outbox_count(stack, "notification_failed") == 1)
    assert metric(stack, "grantflow_notification_deliveries_total", outcome="failed",
                  service="notifications", template="submission_receipt") == 1

    _the_api_shows_and_resends(stack, anna, refused)


def _the_api_shows_and_resends(stack, anna, refused):
    ops = stack.api("notifications")
    listed = ops.get("/notifications", params={"proposal_id": "P-0042"}).json()
    assert {(i["recipient"], i["status"]) for i in listed["items"]} == {
        (ANNA, "sent"), (REFUSED, "failed")}
    applicant = stack.api("notifications", role="applicant", email=ANNA)
    assert [i["id"] for i in applicant.get("/notifications").json()["items"]] == [anna.id]
    assert applicant.get(f"/notifications/{anna.id}").json()["body"] == anna.body
    hidden = applicant.get(f"/notifications/{refused.id}")
    assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"
    pdf = applicant.get(f"/notifications/{anna.id}/letter.pdf")  # a printable copy
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert f.CONTENT_HASH in pdf_text(pdf.content) and anna.subject in pdf_text(pdf.content)
    assert applicant.get(f"/notifications/{refused.id}/letter.pdf").status_code == 404
    assert applicant.post(f"/notifications/{anna.id}/resend").status_code == 403
    bad = ops.get("/notifications", params={"limit": "0"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"
    # by position (PostgreSQL's row comparison on the listing's index): page after page
    everything = ops.get("/notifications").json()
    pages = [ops.get("/notifications", params={"limit": "1"}).json()]
    while pages[-1]["has_more"]:
        pages.append(ops.get("/notifications", params={
            "limit": "1", "after": pages[-1]["items"][0]["id"]}).json())
    assert [i["id"] for p in pages for i in p["items"]] == [i["id"] for i in everything["items"]]
    assert len(pages) == everything["total"] >= 2 and pages[-1]["total"] is None
    theirs = applicant.get("/notifications", params={"after": refused.id})
    assert theirs.status_code == 422 and theirs.json()["errors"] == [
        {"field": "after", "rule": "not a delivery you can list"}]
    malformed = requests.post(f"{ops.base_url}/notifications/{anna.id}/resend", data="{nope",
                              headers={**ops.headers, "Content-Type": "application/json"},
                              timeout=10)
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_json"
    assert requests.get(f"{ops.base_url}/notifications", timeout=10).status_code == 401

    again = ops.post(f"/notifications/{anna.id}/resend", json={"reason": "lost it"})
    assert again.status_code == 202, again.text
    copies = eventually(lambda: len(mails(stack, ANNA)) == 2 and mails(stack, ANNA),
                        message="the resend arrives")
    assert copies[1]["message_id"] == again.json()["message_id"] != anna.message_id
    shown = ops.get(f"/notifications/{anna.id}").json()
    assert shown["resends"] == [again.json()["id"]]
    eventually(lambda: outbox_count(stack, "notification_delivered") == 2)

    cli = subprocess.run([sys.executable, "-m", "grantflow.cli", "notifications", "list",
                          "--url", ops.base_url, "--proposal", "P-0042", "--status", "failed"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert refused.id in cli.stdout and "550 5.1.1" in cli.stdout and anna.id not in cli.stdout


def test_smtp_down_for_a_while_then_up_delivers_everything_exactly_once(stack):
    stack.smtp.stop()
    stack.start("notifications")
    proposals = [f"P-{n:04d}" for n in range(1, 4)]
    publish(stack, call_published(PUBLISHED),
            *[about(f.submitted(), p) for p in proposals],
            *[about(f.screened(), p) for p in proposals])  # 2 contacts each: 12 messages
    eventually(lambda: (lambda rows: len(rows) == 12 and all(
        r.status == "queued" and r.attempts >= 2 for r in rows))(deliveries(stack)),
        message="every message retried while the server is down")
    assert "ConnectionRefusedError" in deliveries(stack)[0].last_error
    down = health(stack)  # what a replay waits on before it moves the clock
    assert down["smtp"]["state"] == "down" and "ConnectionRefused" in down["smtp"]["last_error"]
    assert down["smtp"]["since"] is not None
    assert sum(down["deliveries"].values()) >= 12 and down["deliveries"]["deferred"] >= 1
    # operations hear of each waiting message once, not once per retry
    eventually(lambda: outbox_count(stack, "notification_deferred") == 12)

    stack.smtp.start()
    eventually(lambda: _final(stack, 12), timeout=60, message="all delivered once up")
    sent = lambda: [m for m in mails(stack) if "Daily digest" not in m["subject"]]  # noqa: E731
    stays(lambda: len(sent()) == 12, duration=3, message="no copy sent twice")
    assert len({m["message_id"] for m in sent()}) == 12
    assert {r.status for r in deliveries(stack)} == {"sent"}
    eventually(lambda: outbox_count(stack, "notification_delivered") == 12)
    up = eventually(lambda: (lambda h: h["deliveries"] == {"queued": 0, "sending": 0,
                                                           "deferred": 0} and h)(health(stack)))
    assert up["smtp"]["state"] == "up"
    # the outage is logged when it starts and when it ends, not once per message
    log = stack.processes["notifications"].log_path.read_text()
    assert log.count("does not answer") == 1 and log.count("answers again") == 1, log[-3000:]
    assert "deferred after attempt" not in log  # per-message lines are DEBUG


def test_a_database_error_on_the_commit_after_smtp_accepted_is_retried_and_sends_once(stack):
    """Issue 9: the connection of the transaction that marks a message sent is
    terminated after the server said 250 ("terminating connection due to administrator
    command"). The commit is retried on a fresh connection: one message, one attempt."""
    stack.start("notifications")
    publish(stack, call_published(PUBLISHED))
    engine = stack.databases.engine("notifications")
    try:
        with engine.connect() as blocker:
            # the sent-commit writes notification_delivered to the outbox: make it wait
            blocker.execute(sa.text("LOCK TABLE outbox IN SHARE ROW EXCLUSIVE MODE"))
            publish(stack, f.submitted(contact_emails=[ANNA]))
            eventually(lambda: len(mails(stack, ANNA)) == 1, message="the server accepted it")
            pid = eventually(lambda: _waiting_on(blocker),
                             message="the sent-commit waits on the outbox lock")
            blocker.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            blocker.rollback()
    finally:
        engine.dispose()
    eventually(lambda: deliveries(stack)[0].status == "sent", timeout=30)
    stays(lambda: len(mails(stack, ANNA)) == 1, duration=5,  # past the 3 s lease
          message="never sent again")
    [row] = deliveries(stack)
    assert row.attempts == 1
    assert [(a.attempt, a.outcome) for a in attempts(stack, row.id)] == [(1, "sent")]
    eventually(lambda: outbox_count(stack, "notification_delivered") == 1)
    assert metric(stack, "notifications_possible_duplicates_total",
                  service="notifications", template="submission_receipt") == 0


def _waiting_on(connection) -> int | None:
    """The service's backend whose outbox insert waits for the lock ``connection`` holds
    (the relay's clean-up may wait on it too: not that one)."""
    # statistics views are read once per transaction unless the snapshot is cleared
    connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
    return connection.execute(sa.text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pg_backend_pid() = ANY(pg_blocking_pids(pid)) "
        "AND query ILIKE 'INSERT INTO outbox%'")).scalar()


def test_a_crash_between_send_and_commit_resends_the_same_message_once(stack):
    """README, "Exactly-once mail": at-least-once on this window, same Message-ID."""
    stack.start("notifications",
                env={"GRANTFLOW_FAILPOINTS": "notifications.after_send@submission_receipt"})
    publish(stack, call_published(PUBLISHED), f.submitted(contact_emails=[ANNA]))
    stack.processes["notifications"].wait_dead()  # the server said 250, we never committed
    [row] = deliveries(stack)
    assert row.status == "sending" and len(mails(stack, ANNA)) == 1
    assert outbox_count(stack, "notification_delivered") == 0

    stack.restart("notifications")
    eventually(lambda: deliveries(stack)[0].status == "sent", timeout=30,
               message="taken over once the lease (3 s in tests) expired")
    stays(lambda: len(mails(stack, ANNA)) == 2, duration=3, message="one copy again, no more")
    assert {m["message_id"] for m in mails(stack, ANNA)} == {row.message_id}
    assert deliveries(stack)[0].attempts == 2
    eventually(lambda: outbox_count(stack, "notification_delivered") == 1)
    stays(lambda: outbox_count(stack, "notification_delivered") == 1, duration=1)
    # the resend is visible: the log shows the interrupted attempt, the metric counts it
    assert [(a.attempt, a.outcome, a.after_interruption) for a in attempts(stack, row.id)] \
        == [(1, "interrupted", False), (2, "sent", True)]
    assert metric(stack, "notifications_possible_duplicates_total",
                  service="notifications", template="submission_receipt") == 1
    shown = stack.api("notifications").get(f"/notifications/{row.id}").json()
    assert [a["outcome"] for a in shown["attempt_log"]] == ["interrupted", "sent"]
