"""Crashes at the worst moments lose nothing and duplicate nothing.

Each test arms a failpoint (shared/failpoints.py) that SIGKILLs a service process at an
exact line, then restarts it without the failpoint and checks the end state.
"""
import pytest
import requests

from tests.integration.backbone.helpers import scalar, skeleton_proposal, submit
from tests.support.infra import eventually, stays

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _received(stack, proposal_id=None):
    """operations counts the events it processed per type with a plain counter: a second
    processing of the same event would show as 2."""
    return scalar(stack, "operations", "SELECT count FROM event_counts "
                                       "WHERE event_type = 'proposal_submitted'")


def test_producer_killed_after_commit_before_publish_publishes_after_restart(stack):
    stack.start("operations", "notifications")
    stack.start("submission", env={"GRANTFLOW_FAILPOINTS": "producer.after_commit"})
    proposal_id = skeleton_proposal(stack)  # drafts cause no event: no failpoint yet

    with pytest.raises(requests.ConnectionError):
        submit(stack, proposal_id)  # the process dies between commit and response
    stack.processes["submission"].wait_dead()
    assert not stack.processes["submission"].is_alive()
    # committed: the version and its unsent event are in the submission database
    assert scalar(stack, "submission", "SELECT count(*) FROM proposal_versions") == 1
    assert scalar(stack, "submission", "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1
    assert stack.smtp.messages() == []

    stack.restart("submission")

    eventually(lambda: _received(stack) == 1,
               message="operations saw the event after the restart")
    eventually(lambda: len(stack.smtp.messages()) == 2, message="both receipts sent")
    stays(lambda: len(stack.smtp.messages()) == 2 and _received(stack) == 1,
          message="no second effect")
    assert scalar(stack, "submission", "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


def test_relay_killed_after_publish_before_marking_sent_has_no_second_effect(stack):
    stack.start("operations", "notifications")
    stack.start("submission", env={"GRANTFLOW_FAILPOINTS": "relay.after_publish"})
    proposal_id = skeleton_proposal(stack)
    assert submit(stack, proposal_id).status_code == 200
    stack.processes["submission"].wait_dead()
    # published but not marked: the restarted relay publishes the same event again
    assert scalar(stack, "submission", "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1

    stack.restart("submission")
    eventually(lambda: scalar(stack, "submission",
                              "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0)
    eventually(lambda: scalar(stack, "operations", "SELECT count(*) FROM processed_events "
                                                   "WHERE event_type = 'proposal_submitted'") == 1)
    stays(lambda: _received(stack) == 1
          and len(stack.smtp.messages()) == 2, message="the duplicate had no effect")
    # the duplicate really arrived and was recognised
    metrics = requests.get(f"{stack.url('operations')}/metrics", timeout=5).text
    assert 'grantflow_events_consumed_total{event_type="proposal_submitted",outcome="duplicate",service="operations"} 1.0' in metrics


def test_consumer_killed_after_commit_before_ack_has_no_second_effect(stack):
    stack.start("submission", "notifications")
    stack.start("operations", env={"GRANTFLOW_FAILPOINTS": "consumer.after_commit@proposal_submitted"})
    proposal_id = skeleton_proposal(stack)
    assert submit(stack, proposal_id).status_code == 200

    stack.processes["operations"].wait_dead()
    assert _received(stack) == 1  # committed before the kill
    queue = "evt-submission-all--operations.record_submission_events"
    eventually(lambda: stack.vhost.queue(queue).get("messages_unacknowledged", 1) == 0
               and stack.vhost.queue(queue).get("messages_ready") == 1,
               message="the unacked event is back in the queue")

    stack.restart("operations")
    eventually(lambda: stack.vhost.queue(queue).get("messages") == 0, message="redelivered")
    stays(lambda: _received(stack) == 1, message="no second effect")
    metrics = requests.get(f"{stack.url('operations')}/metrics", timeout=5).text
    assert 'outcome="duplicate",service="operations"} 1.0' in metrics
