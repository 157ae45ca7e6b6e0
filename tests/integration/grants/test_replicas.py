"""Two grants replicas ticking on one PostgreSQL database: a clock jump that ends many files
at once ends each exactly once, promotes each reserve once, and reports each breach once."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from grantflow.processes import ServiceProcess
from tests.support.grants_events import (INFORMATION_AT, amif_call, call_published, entry,
                                         publish, ranking, stage_reached)
from tests.support.infra import eventually, free_port, stays

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TOPICS = tuple(f"AMIF-2018-AG-INTE-{n}" for n in range(1, 6))
MAIN, RESERVE = 8, 2  # per topic: enough work per tick for the replicas' ticks to overlap


def outbox_counts(stack) -> dict[str, dict[str, int]]:
    """event type -> proposal id -> how many times the service published it."""
    engine = stack.databases.engine("grants")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT event_type, correlation_id, count(*) FROM outbox "
                "GROUP BY event_type, correlation_id")).all()
    finally:
        engine.dispose()
    counts: dict[str, dict[str, int]] = {}
    for event_type, proposal_id, count in rows:
        counts.setdefault(event_type, {})[proposal_id] = count
    return counts


def test_replicas_end_promote_and_flag_each_file_once(stack):
    stack.start("grants")
    config = {**stack.config("grants"), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
    replica = ServiceProcess("grants", config, stack.tmp_path / "replica").start()
    try:
        replica.wait_healthy()
        rankings = [ranking([entry(f"M{t}-{i}", i, "1000000") for i in range(1, MAIN + 1)],
                            [entry(f"R{t}-{i}", MAIN + i, "900000") for i in range(1, RESERVE + 1)],
                            str(MAIN * 1000000), topic_id=topic)
                    for t, topic in enumerate(TOPICS)]
        publish(stack.vhost.amqp_uri, call_published(amif_call()), *rankings)
        stack.clock.set(INFORMATION_AT)
        publish(stack.vhost.amqp_uri, stage_reached())
        mains, reserves = MAIN * len(TOPICS), RESERVE * len(TOPICS)
        eventually(lambda: len(outbox_counts(stack).get("grant_preparation_started", {}))
                   == mains)

        # nobody acts: every main-list file misses its preparation deadline at once
        stack.clock.advance(timedelta(days=121))
        expected = {"grant_declined": mains, "reserve_promoted": reserves,
                    "time_target_breached": mains + reserves}
        eventually(lambda: {t: len(outbox_counts(stack).get(t, {})) for t in expected}
                   == expected, message="every file ended, reserve promoted, breach flagged")
        stays(lambda: all(n == 1 for t in expected for n in outbox_counts(stack)[t].values()),
              duration=3, message="each exactly once, with two replicas ticking")
        assert len(outbox_counts(stack)["grant_preparation_started"]) == mains + reserves
    finally:
        replica.stop()
