"""Several mail senders at once (``deliver_all_due``), on real PostgreSQL and the real
SMTP server: each queued message goes exactly once, and the batches did overlap."""
import threading
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from services.notifications.adapters.mailer import SmtpMailer
from services.notifications.adapters.settings import Settings
from services.notifications.adapters.tables import deliveries, delivery_attempts
from services.notifications.domain.notification import Notification
from services.notifications.handlers import delivery
from services.notifications.handlers.delivery import deliver_all_due, queue
from shared.db.engine import create_service_engine
from shared.db.migrations import upgrade_to_head
from shared.db.session import session_factory
from shared.db.uow import UnitOfWork

NOW = datetime(2019, 7, 1, 9, 0, tzinfo=timezone.utc)
MESSAGES, BATCH, SENDERS = 230, 20, 3


class FixedClock:
    def now(self):
        return NOW


def letters(count: int) -> list[Notification]:
    return [Notification(recipient=f"contact{n}@partner.example", role="applicant_contact",
                         template="evaluator_released", source_event_id=f"event-{n}",
                         source_event_type="evaluator_released", call_id="AMIF-TEST",
                         proposal_id=f"P-{n:05d}",
                         context={"call_id": "AMIF-TEST", "proposal_id": f"P-{n:05d}",
                                  "topic_id": "AMIF-2018-AG-INTE-1", "reason": "reassigned",
                                  "recipient": f"contact{n}@partner.example",
                                  "role": "applicant_contact"})
            for n in range(count)]


@contextmanager
def queued(databases, smtp, notes: list[Notification], **pool):
    """(engine, unit of work, mailer) on a migrated notifications database with ``notes``
    queued; the engine disposed of after."""
    engine = create_service_engine(databases.url("notifications"), **pool)
    try:
        upgrade_to_head(engine, "services.notifications:migrations")
        uow = UnitOfWork(session_factory(engine), "notifications")
        with uow:
            queue(uow, notes, NOW)
            uow.commit()
        yield engine, uow, SmtpMailer("127.0.0.1", smtp.port, "no-reply@grantflow.test",
                                      timeout=10)
    finally:
        engine.dispose()


def test_parallel_senders_send_every_message_once_in_overlapping_batches(databases, smtp):
    with queued(databases, smtp, letters(MESSAGES), pool_size=SENDERS * 2,
                max_overflow=2) as (engine, uow, mailer):
        claimed = deliver_all_due(uow, mailer, FixedClock(),
                                  Settings(senders=SENDERS, batch_size=BATCH))

        assert claimed == MESSAGES
        received = Counter(message["message_id"] for message in smtp.messages())
        assert len(received) == MESSAGES and set(received.values()) == {1}
        with engine.connect() as conn:
            statuses = Counter(conn.execute(sa.select(deliveries.c.status)).scalars())
            batches = conn.execute(
                sa.select(delivery_attempts.c.claim_token,
                          sa.func.min(delivery_attempts.c.started_at),
                          sa.func.max(delivery_attempts.c.ended_at))
                .group_by(delivery_attempts.c.claim_token)).all()
        assert statuses == {"sent": MESSAGES}
        assert len(batches) == -(-MESSAGES // BATCH)  # full batches, then one short
        # senders at once: some batch started before another one ended
        spans = sorted((start, end) for _, start, end in batches)
        assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))


def test_a_single_sender_sends_its_batches_one_after_another(databases, smtp):
    with queued(databases, smtp, letters(45)) as (engine, uow, mailer):
        assert deliver_all_due(uow, mailer, FixedClock(), Settings(senders=1, batch_size=20)) == 45

        with engine.connect() as conn:
            spans = sorted(conn.execute(
                sa.select(sa.func.min(delivery_attempts.c.started_at),
                          sa.func.max(delivery_attempts.c.ended_at))
                .group_by(delivery_attempts.c.claim_token)).all())
        assert len(spans) == 3
        assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:]))
        assert len(smtp.messages()) == 45


def test_less_than_a_batch_due_is_claimed_once_the_other_senders_not_called_in(
        databases, smtp, monkeypatch):
    """The other senders start only when the first claim comes back full: with less than
    a batch due, one claim, and no claim of theirs coming back empty."""
    claims = []
    claim_due = delivery.log.claim_due

    def counted(*args, **kwargs):
        rows = claim_due(*args, **kwargs)
        claims.append(len(rows))
        return rows

    monkeypatch.setattr(delivery.log, "claim_due", counted)
    with queued(databases, smtp, letters(15)) as (_, uow, mailer):
        assert deliver_all_due(uow, mailer, FixedClock(),
                               Settings(senders=SENDERS, batch_size=BATCH)) == 15

        assert claims == [15]
        assert len(smtp.messages()) == 15
        del claims[:]
        with uow:  # 65 due: a full first claim calls the others in
            queue(uow, letters(80)[15:], NOW)
            uow.commit()
        assert deliver_all_due(uow, mailer, FixedClock(),
                               Settings(senders=SENDERS, batch_size=BATCH)) == 65
        assert claims[0] == BATCH and sum(claims) == 65 and len(claims) >= 4
        assert len(smtp.messages()) == 80


def test_an_error_of_the_first_sender_is_raised_once_the_others_have_ended(
        databases, smtp, monkeypatch):
    """The first sender works in the timer's worker: its error is raised there, after the
    senders it called in have sent what they claimed."""
    caller, calls = threading.current_thread(), []
    dispatch_due = delivery.dispatch_due

    def failing_second_claim(*args, **kwargs):
        if threading.current_thread() is caller:
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("the database went away")
        return dispatch_due(*args, **kwargs)

    monkeypatch.setattr(delivery, "dispatch_due", failing_second_claim)
    with queued(databases, smtp, letters(100)) as (engine, uow, mailer):
        with pytest.raises(RuntimeError, match="database went away"):
            deliver_all_due(uow, mailer, FixedClock(), Settings(senders=SENDERS,
                                                                batch_size=BATCH))
        with engine.connect() as conn:
            statuses = Counter(conn.execute(sa.select(deliveries.c.status)).scalars())
        assert statuses == {"sent": 100}
        assert len(smtp.messages()) == 100
