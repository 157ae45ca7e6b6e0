"""A burst of events through the real broker and PostgreSQL is applied in batches
(``on_events``): one event of a call never published fails its batch, the batch is split,
the rest takes effect and only that event is retried and dead-lettered."""
from datetime import datetime, timezone

import pytest

from shared.messaging.dlq import list_dead_letters
from tests.support.infra import eventually, stays
from tests.unit.notifications import factories as f

from .helpers import about, call_published, deliveries, publish, query

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PUBLISHED = datetime(2018, 7, 26, tzinfo=timezone.utc)
PIDS = [f"P-{i:02d}" for i in range(1, 31)]
BAD = "P-07"
CONSUMER = "notifications.on_submission_event"


def _receipt(pid):
    event = about(f.submitted(), pid, contact_emails=[f"{pid.lower()}@applicant.example.eu"])
    return about(event, pid, call_id="NEVER-PUBLISHED") if pid == BAD else event


def test_an_event_of_an_unknown_call_is_retried_alone_and_the_rest_of_its_batch_applied(
        stack):
    stack.start("notifications")
    publish(stack, call_published(PUBLISHED))
    eventually(lambda: query(stack, "SELECT call_id FROM calls"), message="the call kept")
    publish(stack, *[_receipt(pid) for pid in PIDS])  # a burst: batches of many

    letters = eventually(lambda: list_dead_letters(stack.vhost.amqp_uri), timeout=60,
                         message="the event of the unknown call dead-lettered")
    assert [(letter.payload["proposal_id"], letter.attempts) for letter in letters] == [
        (BAD, len(stack.RETRY_DELAYS_MS) + 1)]
    assert letters[0].error.startswith("CallNotKnownYet")
    receipts = lambda: sorted(r.proposal_id for r in deliveries(
        stack, template="submission_receipt"))
    eventually(lambda: receipts() == [p for p in PIDS if p != BAD],
               message="a receipt for every other proposal")
    stays(lambda: len(receipts()) == len(PIDS) - 1 and query(
        stack, "SELECT count(*) AS n FROM processed_events WHERE consumer = :c",
        c=CONSUMER)[0].n == len(PIDS), message="once each; the bad one not at all")
    log = stack.processes["notifications"].tail_log(400)
    assert "handling them one by one" in log  # they came as a batch, and it was split
