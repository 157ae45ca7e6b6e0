"""The delivery log's life: sent, refused for good, retried with backoff, given up,
taken over after a crash, and the outcome events that go with each."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY

from services.notifications.adapters import delivery_log as log
from services.notifications.adapters.tables import deliveries
from services.notifications.adapters.mailer import PermanentMailError, TransientMailError
from services.notifications.domain.delivery import FAILED, QUEUED, SENDING, SENT, RetryPolicy
from services.notifications.handlers import delivery, delivery_health
from services.notifications.handlers.delivery import wall_now

from . import factories as f
from .service_support import (FakeMailer, FixedClock, call_published, deliver, handle,
                              outbox_types, rows, settings)

NOW = datetime(2019, 2, 1, 9, 0, tzinfo=timezone.utc)
ANNA, OFFICE = "anna.rossi@comune.example.it", "office@comune.example.it"


@pytest.fixture
def queued(uows):
    handle(uows, call_published())
    handle(uows, f.submitted())
    return uows


def _by_recipient(uows):
    return {r.recipient: r for r in rows(uows)}


def test_a_refused_address_ends_failed_with_the_reason_and_is_never_retried(queued):
    mailer = FakeMailer(failures={OFFICE: PermanentMailError(
        "recipient refused: office@comune.example.it: 550 5.1.1 no such user")})
    deliver(queued, mailer, NOW)
    office = _by_recipient(queued)[OFFICE]
    assert office.status == FAILED and office.attempts == 1 and office.failed_at == NOW
    assert "550 5.1.1 no such user" in office.last_error
    assert sorted(outbox_types(queued)) == ["notification_delivered", "notification_failed"]
    failed_event = [e for e in queued.outbox() if e["event_type"] == "notification_failed"][0]
    assert failed_event["recipient"] == OFFICE and "550" in failed_event["reason"]
    assert failed_event["notification_id"] == office.id
    assert deliver(queued, mailer, NOW) == 0 and len(mailer.tried) == 2


def test_a_deferral_is_retried_with_backoff_until_it_goes(queued):
    mailer = FakeMailer(failures={OFFICE: TransientMailError("451 4.3.0 try later")})
    slow = settings(retry=RetryPolicy(max_attempts=5, first=timedelta(hours=1),
                                      cap=timedelta(hours=2)))
    deliver(queued, mailer, NOW, slow)
    office = _by_recipient(queued)[OFFICE]
    assert office.status == QUEUED and office.attempts == 1
    assert office.last_error == "451 4.3.0 try later"
    assert office.next_attempt_at > wall_now() + timedelta(minutes=59)
    assert deliver(queued, mailer, NOW, slow) == 0  # not due yet

    del mailer.failures[OFFICE]
    _an_hour_passes(queued)
    assert deliver(queued, mailer, NOW, slow) == 1
    assert deliver(queued, mailer, NOW, slow) == 0
    office = _by_recipient(queued)[OFFICE]
    assert office.status == SENT and office.attempts == 2 and office.last_error is None
    assert [m.recipient for m in mailer.sent].count(OFFICE) == 1
    # one notification_deferred at the first deferral; its delivery says it recovered
    assert sorted(outbox_types(queued)) == ["notification_deferred",
                                            "notification_delivered",
                                            "notification_delivered"]
    events = {(e["event_type"], e["recipient"]): e for e in queued.outbox()}
    assert events["notification_deferred", OFFICE]["reason"] == "451 4.3.0 try later"
    assert events["notification_delivered", OFFICE]["after_deferral"] is True
    assert events["notification_delivered", ANNA]["after_deferral"] is False


def _an_hour_passes(uows):
    """Retry timing is wall-clock: make the deferred rows due now."""
    with uows.engine.begin() as conn:
        conn.execute(deliveries.update().values(next_attempt_at=wall_now()))


def test_after_max_attempts_a_deferral_ends_failed_with_the_last_error(queued):
    mailer = FakeMailer(failures={OFFICE: TransientMailError("451 mailbox busy")})
    for _ in range(5):
        deliver(queued, mailer, NOW)  # settings(): max 3 attempts, no wait
    office = _by_recipient(queued)[OFFICE]
    assert office.status == FAILED and office.attempts == 3
    assert office.last_error == "gave up after 3 attempts; last error: 451 mailbox busy"
    assert outbox_types(queued).count("notification_failed") == 1


def test_an_unreachable_server_counts_one_try_for_the_whole_batch_and_sends_nothing(queued):
    down = TransientMailError("ConnectionRefusedError: refused", unreachable=True)
    mailer = FakeMailer(failures={ANNA: down, OFFICE: down})
    assert deliver(queued, mailer, NOW) == 2
    assert len(mailer.tried) == 1  # the second was not even tried
    assert {(r.status, r.attempts, r.last_error) for r in rows(queued)} == {
        (QUEUED, 1, "ConnectionRefusedError: refused")}
    mailer.failures.clear()
    deliver(queued, mailer, NOW)
    assert {r.status for r in rows(queued)} == {SENT} and len(mailer.sent) == 2


def test_backoff_doubles_up_to_its_cap():
    policy = RetryPolicy(max_attempts=50, first=timedelta(seconds=0.5),
                         cap=timedelta(minutes=5))
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [0.5, 1, 2, 4]
    assert policy.backoff(20) == policy.backoff(200) == timedelta(minutes=5)
    assert not policy.gives_up(49) and policy.gives_up(50)


def test_a_row_left_sending_by_a_crash_is_sent_again_with_the_same_message_id(queued):
    """The crash window: the first process sent, then died before committing."""
    with queued() as uow:  # what the dead process had claimed; its lease is over
        crashed = log.claim_due(uow.session, wall_now(), 10, timedelta(0), "dead-process")
        uow.commit()
    assert {r.status for r in rows(queued)} == {SENDING}
    mailer = FakeMailer()
    deliver(queued, mailer, NOW)
    assert {(r.status, r.attempts) for r in rows(queued)} == {(SENT, 2)}
    assert {m.message_id for m in mailer.sent} == {r.message_id for r in crashed}
    # the dead claim cannot report an outcome any more: one delivered event per message
    with queued() as uow:
        assert not delivery.end(uow, crashed[0], "dead-process", NOW)
        uow.commit()
    assert outbox_types(queued) == ["notification_delivered"] * 2


def test_a_row_still_leased_is_not_taken_over(queued):
    with queued() as uow:
        log.claim_due(uow.session, wall_now(), 10, timedelta(minutes=2), "live-process")
        uow.commit()
    assert deliver(queued, FakeMailer(), NOW) == 0


def test_a_batch_out_of_time_gives_the_rest_back_untried(queued):
    mailer = FakeMailer(lease=timedelta(0))  # no time at all: nothing may start
    assert deliver(queued, mailer, NOW) == 2
    assert mailer.tried == []
    assert {(r.status, r.attempts) for r in rows(queued)} == {(QUEUED, 0)}


def test_every_attempt_of_one_message_carries_the_same_message_id(queued):
    mailer = FakeMailer(failures={OFFICE: TransientMailError("451 later")})
    deliver(queued, mailer, NOW)
    mailer.failures.clear()
    deliver(queued, mailer, NOW)
    ids = [m.message_id for m in mailer.tried if m.recipient == OFFICE]
    assert len(ids) == 2 and len(set(ids)) == 1
    assert ids[0] == _by_recipient(queued)[OFFICE].message_id


def test_clock_time_stamps_the_outcome_not_the_wall(queued):
    simulated = datetime(2019, 1, 31, 15, 0, tzinfo=timezone.utc)
    delivery.dispatch_due(queued(), FakeMailer(), FixedClock(simulated), settings())
    sent_event = queued.outbox()[0]
    assert sent_event["sent_at"].startswith("2019-01-31T15:00:00")
    assert sent_event["template"] == "submission_receipt" and sent_event["proposal_id"] == "P-0042"


def test_a_stopping_service_gives_back_what_its_batch_has_not_tried(queued):
    mailer = FakeMailer(stop_after=1)
    assert deliver(queued, mailer, NOW) == 2
    assert len(mailer.tried) == 1
    by_status = sorted((r.status, r.attempts) for r in rows(queued))
    assert by_status == [(QUEUED, 0), (SENT, 1)]  # untried: queued again, its try uncounted
    untried = next(r for r in rows(queued) if r.status == QUEUED)
    assert untried.lease_until is None and untried.claim_token is None
    assert log_attempts(queued, untried.id) == []


def test_an_error_mid_batch_gives_back_the_untried_rows_at_once(queued):
    mailer = FakeMailer(failures={ANNA: RuntimeError("a bug in the mailer")})
    with pytest.raises(RuntimeError):
        deliver(queued, mailer, NOW)
    statuses = {r.recipient: r.status for r in rows(queued)}
    assert statuses[ANNA] == SENDING  # it may have reached the server: its lease decides
    office_first = mailer.tried[0].recipient == OFFICE
    assert statuses[OFFICE] == (SENT if office_first else QUEUED)


def test_the_lease_is_renewed_while_a_batch_sends(queued):
    """While the batch's second message is being sent, the lease its claim set has run
    out: another replica that looks for due rows then must find none, because the
    heartbeat renewed it. The replica looks once a renewal is seen in the table (not
    after a fixed sleep: on a loaded machine the heartbeat's thread may run late, and
    the test would then say so through the batch's own stop, not by a race)."""
    lease = timedelta(seconds=1.5)
    claimed_until, taken_over = [], []

    def leases():
        return {r.lease_until for r in rows(queued) if r.status == SENDING}

    def first_lease_over_and_renewed() -> bool:
        give_up = time.monotonic() + 4 * lease.total_seconds()
        while time.monotonic() < give_up:
            if wall_now() > claimed_until[0] and min(leases(), default=NOW) > claimed_until[0]:
                return True
            time.sleep(0.02)
        return False

    class SlowMailer(FakeMailer):
        def send(self, mail, then=None):
            if not self.tried:
                claimed_until.append(max(leases()))
            else:  # another replica looks for due rows once the claim's lease is over
                first_lease_over_and_renewed()
                taken_over.append(deliver(queued, FakeMailer(), NOW))
            super().send(mail, then)

    mailer = SlowMailer(lease=lease)
    assert deliver(queued, mailer, NOW) == 2
    assert taken_over == [0] and len(mailer.sent) == 2
    assert {(r.status, r.attempts) for r in rows(queued)} == {(SENT, 1)}


def test_the_attempt_after_an_interrupted_one_is_a_possible_duplicate(queued):
    with queued() as uow:  # a process claimed both, started the first, and died
        claimed = log.claim_due(uow.session, wall_now(), 10, timedelta(0), "dead-process")
        log.start_attempts(uow.session, claimed[:1], "dead-process", wall_now(), set())
        uow.commit()
    before = _possible_duplicates(claimed[0].template)
    deliver(queued, FakeMailer(), NOW)
    assert [(a.outcome, a.after_interruption) for a in log_attempts(queued, claimed[0].id)] \
        == [("interrupted", False), ("sent", True)]
    # the second had never been tried: sending it now duplicates nothing
    assert [(a.outcome, a.after_interruption) for a in log_attempts(queued, claimed[1].id)] \
        == [("sent", False)]
    assert _possible_duplicates(claimed[0].template) == before + 1


def test_a_connection_lost_during_the_text_counts_the_retry_as_a_possible_duplicate(queued):
    lost = TransientMailError("connection lost while sending the text", uncertain=True)
    mailer = FakeMailer(failures={OFFICE: lost})
    deliver(queued, mailer, NOW)
    mailer.failures.clear()
    deliver(queued, mailer, NOW)
    office = _by_recipient(queued)[OFFICE]
    assert [(a.outcome, a.after_interruption) for a in log_attempts(queued, office.id)] == [
        ("interrupted", False), ("sent", True)]


def test_health_counts_what_the_server_has_not_accepted(queued):
    mailer = FakeMailer(failures={OFFICE: TransientMailError("451 later")})
    slow = settings(retry=RetryPolicy(max_attempts=5, first=timedelta(hours=1)))
    assert delivery_health(queued(), mailer)["deliveries"] == {
        "queued": 2, "sending": 0, "deferred": 0}
    deliver(queued, mailer, NOW, slow)
    health = delivery_health(queued(), mailer)
    assert health["deliveries"] == {"queued": 0, "sending": 0, "deferred": 1}
    assert health["smtp"] == {"state": "up", "since": None, "last_error": None}


def log_attempts(uows, delivery_id):
    with uows() as uow:
        return log.attempts_of(uow.session, delivery_id)


def _possible_duplicates(template):
    return REGISTRY.get_sample_value("notifications_possible_duplicates_total",
                                     {"service": "notifications", "template": template}) or 0


def test_each_message_names_the_next_of_its_group_and_never_the_next_groups(uows):
    """The next message's envelope may go with a text (one round trip a message), but a
    message reaches the server only once its group's attempts are recorded: the last of
    a group names none."""
    handle(uows, call_published())
    for n in range(6):  # two contacts each: 12 messages, a group of 10 and one of 2
        handle(uows, f.submitted(proposal_id=f"P-{n:04d}"))
    mailer = FakeMailer()
    assert deliver(uows, mailer, NOW) == 12 == delivery.GROUP + 2
    following = {mail.message_id: then and then.message_id
                 for mail, then in zip(mailer.tried, mailer.announced)}
    ids = [mail.message_id for mail in mailer.tried]
    assert [following[i] for i in ids] == ids[1:10] + [None] + ids[11:] + [None]
