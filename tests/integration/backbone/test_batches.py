"""Batched consumers through the real broker and database: a burst of one event per
proposal (the deadline's screenings) is applied in batches, and one bad event in a batch is
retried and dead-lettered alone while the rest of its batch takes effect."""
import pytest

from shared.messaging.dlq import list_dead_letters
from tests.integration.backbone.helpers import rows, scalar
from tests.support.evaluation_events import call_published, deadline_closed, publish, screened
from tests.support.infra import eventually, stays

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PIDS = [f"P-{i:02d}" for i in range(1, 31)]
BAD = "P-07"
CONSUMER = "evaluation.on_proposal_screened"


def test_one_bad_event_in_a_batch_is_dead_lettered_alone_and_the_rest_applied(stack):
    stack.start("evaluation", env={"GRANTFLOW_FAILPOINTS":
                                   f"consumer.raise@proposal_screened/{BAD}"})
    uri = stack.vhost.amqp_uri
    publish(uri, call_published(), deadline_closed(PIDS))
    publish(uri, *[screened(pid) for pid in PIDS])  # a burst, as at the deadline

    letters = eventually(lambda: list_dead_letters(uri), timeout=60,
                         message="the bad event dead-lettered")
    assert [(letter.payload["proposal_id"], letter.attempts) for letter in letters] == [
        (BAD, len(stack.RETRY_DELAYS_MS) + 1)]
    assert letters[0].error.startswith("InjectedFault")
    screened_ids = lambda: [r[0] for r in rows(
        stack, "evaluation", "SELECT proposal_id FROM proposals WHERE screened "
                             "ORDER BY proposal_id")]
    eventually(lambda: screened_ids() == [p for p in PIDS if p != BAD],
               message="every other screening applied")
    stays(lambda: len(list_dead_letters(uri)) == 1 and scalar(
        stack, "evaluation", "SELECT count(*) FROM processed_events WHERE consumer = :c",
        c=CONSUMER) == len(PIDS) - 1, message="once each, the bad one not at all")
    log = stack.processes["evaluation"].tail_log(400)
    assert "handling them one by one" in log  # they came as a batch, and it was split


def test_a_batch_goes_an_idle_gap_after_a_burst_not_a_whole_wait_after_it(stack):
    # a two-minute ceiling and a fifth of a second of quiet: the burst is applied once it
    # has paused, long before the ceiling (the config GRANTFLOW_EVALUATION_EVENT_BATCH_WAIT_MS
    # and _IDLE_MS give, tests/unit/shared/test_batch_window.py)
    stack.overrides["evaluation"] = {"EVENT_BATCH": {"wait_ms": 120_000, "idle_ms": 200}}
    stack.start("evaluation")
    uri = stack.vhost.amqp_uri
    publish(uri, call_published(), deadline_closed(PIDS))
    publish(uri, *[screened(pid) for pid in PIDS])

    eventually(lambda: scalar(stack, "evaluation", "SELECT count(*) FROM proposals "
                                                   "WHERE screened") == len(PIDS),
               timeout=30, message="the burst applied after its idle gap")
    assert scalar(stack, "evaluation", "SELECT count(*) FROM processed_events "
                                       "WHERE consumer = :c", c=CONSUMER) == len(PIDS)
