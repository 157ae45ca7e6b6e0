"""Events that carry a whole topic (a ranking, a closing's manifest) are taken off the
broker one at a time: their queues' consumers have a prefetch of 1, as the broker reports
it, while the other queues keep the service's prefetch."""
import pytest

from tests.support.infra import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _prefetch_by_handler(stack) -> dict[str, list[int]]:
    """Each grants handler queue's consumers' prefetch counts (empty until consuming);
    the broker lists a queue's consumers on the queue's own page only."""
    names = [queue["name"] for queue in stack.vhost.queues()
             if queue["name"].startswith("evt-") and "--grants." in queue["name"]]
    return {name.rsplit(".", 1)[-1]: [consumer["prefetch_count"] for consumer in
                                      stack.vhost.queue(name).get("consumer_details") or []]
            for name in names}


def test_topic_wide_events_are_prefetched_one_at_a_time(stack, monkeypatch):
    monkeypatch.setenv("GRANTFLOW_GRANTS_PREFETCH_COUNT", "16")
    stack.start("grants")

    prefetch = eventually(lambda: (found := _prefetch_by_handler(stack)) and all(
        found.values()) and found, timeout=30, message="grants consuming every queue")

    assert prefetch["on_ranking_published"] == [1]
    assert prefetch["on_deadline_closed"] == [1]
    assert prefetch["on_proposal_withdrawn"] == [16]
    assert prefetch["on_notification_delivered"] == [200]  # twice its batch of 100
