"""The publisher's count of confirmed messages from RabbitMQ's acks (publisher confirms),
whatever order they come in: one at a time out of order, or several at once (multiple)."""
from shared.messaging.broker import ConfirmingPublisher


def _publisher(published: int) -> ConfirmingPublisher:
    publisher = ConfirmingPublisher("amqp://guest:guest@127.0.0.1:5672//")
    publisher._published = published
    return publisher


def test_single_acks_out_of_order_confirm_the_contiguous_prefix():
    publisher = _publisher(3)
    publisher._on_ack(2, False)
    assert publisher._confirmed == 0
    publisher._on_ack(1, False)
    publisher._on_ack(3, False)
    assert (publisher._confirmed, publisher._single_acks) == (3, set())


def test_a_multiple_ack_takes_in_the_single_acks_beyond_it_and_keeps_none_below():
    publisher = _publisher(12)
    publisher._on_ack(5, False)   # early, before the multiple ack that covers it
    publisher._on_ack(11, False)  # later tags acked one by one, before the multiple ack
    publisher._on_ack(12, False)

    publisher._on_ack(10, True)

    # every tag is confirmed (else the batch waits out its confirm timeout), and no tag at
    # or below the confirmed count is kept (else the set grows with every publish)
    assert (publisher._confirmed, publisher._single_acks) == (12, set())


def test_a_late_single_ack_below_the_confirmed_count_is_not_kept():
    publisher = _publisher(10)
    publisher._on_ack(10, True)
    publisher._on_ack(7, False)
    assert (publisher._confirmed, publisher._single_acks) == (10, set())
