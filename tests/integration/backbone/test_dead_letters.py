"""A handler that keeps failing is retried with backoff, then dead-lettered; operations
replay it once the cause is fixed."""
import json
import os
import subprocess
import sys

import pytest
from kombu import Connection, Exchange

from shared.messaging.dlq import list_dead_letters
from tests.integration.backbone.helpers import scalar, skeleton_proposal, submit
from tests.support.infra import eventually, stays

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

QUEUE = "evt-submission-all--operations.record_submission_events"


def _grantflow(stack, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRANTFLOW_AMQP_URI": stack.vhost.amqp_uri}
    return subprocess.run([sys.executable, "-m", "grantflow.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_failing_handler_is_dead_lettered_after_n_tries_and_replay_delivers_it(stack):
    stack.start("submission")
    stack.start("operations", env={"GRANTFLOW_FAILPOINTS": "consumer.raise@proposal_submitted"})
    proposal_id = skeleton_proposal(stack)
    assert submit(stack, proposal_id).status_code == 200

    letters = eventually(lambda: list_dead_letters(stack.vhost.amqp_uri), timeout=30,
                         message="the event reaches the dead-letter queue")
    assert len(letters) == 1
    letter = letters[0]
    attempts = len(stack.RETRY_DELAYS_MS) + 1
    assert letter.attempts == attempts
    assert letter.queue == QUEUE and letter.event_type == "proposal_submitted"
    assert "InjectedFault" in letter.error
    metrics = _metrics(stack)
    assert f'outcome="retried",service="operations"}} {float(attempts - 1)}' in metrics
    assert 'grantflow_dead_lettered_total{event_type="proposal_submitted",service="operations"} 1.0' in metrics
    assert _received(stack) is None
    # listing is not destructive
    listed = _grantflow(stack, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [l["event_id"] for l in json.loads(listed.stdout)] == [letter.event_id]

    stack.restart("operations")  # the fix is deployed
    replayed = _grantflow(stack, "dlq", "replay")
    assert replayed.returncode == 0, replayed.stderr
    assert "1 message(s) replayed" in replayed.stdout

    eventually(lambda: _received(stack) == 1, message="the replayed event has its effect")
    stays(lambda: _received(stack) == 1 and list_dead_letters(stack.vhost.amqp_uri) == [],
          message="once, and the DLQ is empty")


def test_unreadable_payload_goes_straight_to_the_dead_letter_queue(stack):
    stack.start("operations")
    with Connection(stack.vhost.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish({"event_type": "proposal_submitted", "event_id": "not-a-uuid"},
                                exchange=Exchange("submission.events", type="topic", durable=True),
                                routing_key="proposal_submitted", serializer="json")
    letters = eventually(lambda: list_dead_letters(stack.vhost.amqp_uri), message="dead-lettered")
    assert letters[0].attempts == 1
    assert letters[0].error.startswith("invalid payload")
    assert "event_id" in letters[0].error


def _metrics(stack) -> str:
    import requests
    return requests.get(f"{stack.url('operations')}/metrics", timeout=5).text


def _received(stack):
    return scalar(stack, "operations", "SELECT count FROM event_counts "
                                       "WHERE event_type = 'proposal_submitted'")
