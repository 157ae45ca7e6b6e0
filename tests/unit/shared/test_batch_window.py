"""When a batch that does not fill goes: at its wait after its first event (the ceiling)
or its idle gap after its latest, whichever is first; driven through the consumer's own
collecting and flushing code on a simulated clock, and read from the environment."""
from __future__ import annotations

import pytest

from shared import config
from shared.messaging import consumer as consumer_module
from shared.messaging.batch_window import BatchWindow
from shared.messaging.consumer import DomainEventHandler


def test_the_window_is_the_earlier_of_the_wait_and_the_idle_gap():
    window = BatchWindow.of(300, 100)
    assert window.due(first_at=0.0, latest_at=0.05) == pytest.approx(0.15)  # flow paused
    assert window.due(first_at=0.0, latest_at=0.25) == pytest.approx(0.3)  # the ceiling


def test_no_idle_gap_is_the_wait_and_a_gap_longer_than_the_wait_is_cut_to_it():
    assert BatchWindow.of(50, None) == BatchWindow(50, 50)
    assert BatchWindow.of(50, 500) == BatchWindow(50, 50)
    with pytest.raises(ValueError, match="must be >= 0"):
        BatchWindow(-1, 0)


class _SimulatedTime:
    """time.monotonic and time.sleep for the consumer module: a sleep moves the clock on
    and delivers the events that arrive meanwhile, as the receiving thread would."""

    def __init__(self, handler, arrivals):
        self.handler, self.now, self.arrivals = handler, 0.0, sorted(arrivals)

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        end = self.now + seconds
        while self.arrivals and self.arrivals[0] <= end:
            self.deliver_next()
        self.now = end

    def deliver_next(self):
        self.now = self.arrivals.pop(0)
        self.handler._collect(("event", {}, None, 0))


class _Container:
    """Runs the flush thread the handler asks for when the driver says (one at a time)."""

    def __init__(self):
        self.threads = []

    def spawn_managed_thread(self, run, identifier):
        self.threads.append(run)
        return run


def _batches(monkeypatch, arrivals, size=100, wait_ms=300, idle_ms=100):
    """(moment, events) of each batch the handler sends for events arriving at these
    moments (seconds)."""
    handler = DomainEventHandler("submission", "proposal_screened", batch_size=size,
                                 batch_wait_ms=wait_ms, batch_idle_ms=idle_ms)
    container = handler.container = _Container()
    clock = _SimulatedTime(handler, arrivals)
    monkeypatch.setattr(consumer_module, "time", clock)
    sent = []
    handler._spawn = lambda items, single: sent.append((round(clock.now, 6), len(items)))
    handler._spawn_later = handler._spawn
    while clock.arrivals or container.threads:
        if container.threads:
            container.threads.pop(0)()
        else:
            clock.deliver_next()
    assert not handler._pending and handler._flush_thread is None
    return sent


def test_under_a_steady_flow_a_batch_fills_for_the_whole_wait(monkeypatch):
    # an event every 35 ms for a second: each batch goes 300 ms after its first event
    # (9 events), not 100 ms after one of them; the last goes 100 ms after the last event
    arrivals = [round(0.035 * i, 6) for i in range(29)]
    assert _batches(monkeypatch, arrivals) == [(0.3, 9), (0.615, 9), (0.93, 9), (1.08, 2)]


def test_after_a_burst_the_batch_goes_an_idle_gap_after_its_last_event(monkeypatch):
    arrivals = [0.001 * i for i in range(30)]  # 30 events in 29 ms, then nothing
    assert _batches(monkeypatch, arrivals) == [(0.129, 30)]


def test_a_full_batch_goes_at_once(monkeypatch):
    arrivals = [0.001 * i for i in range(12)]
    assert _batches(monkeypatch, arrivals, size=5) == [(0.004, 5), (0.009, 5), (0.111, 2)]


def test_the_environment_sets_the_wait_and_the_idle_gap_per_service(monkeypatch):
    monkeypatch.setenv("GRANTFLOW_EVENT_BATCH_WAIT_MS", "400")
    monkeypatch.setenv("GRANTFLOW_OPERATIONS_EVENT_BATCH_IDLE_MS", "30")
    assert config.consumer_settings("operations")["EVENT_BATCH"] == {
        "wait_ms": 400, "idle_ms": 30}
    assert config.consumer_settings("grants")["EVENT_BATCH"] == {"wait_ms": 400}
    monkeypatch.setenv("GRANTFLOW_GRANTS_EVENT_BATCH_IDLE_MS", "soon")
    with pytest.raises(ValueError, match="EVENT_BATCH_IDLE_MS"):
        config.consumer_settings("grants")


def test_a_flush_that_fails_lets_the_next_event_start_another(monkeypatch):
    handler = DomainEventHandler("submission", "proposal_screened", batch_size=100,
                                 batch_wait_ms=300, batch_idle_ms=100)
    container = handler.container = _Container()
    monkeypatch.setattr(consumer_module, "time", _SimulatedTime(handler, []))

    def no_worker(items, single):
        raise RuntimeError("no worker")
    handler._spawn = no_worker
    handler._collect(("event", {}, None, 0))
    with pytest.raises(RuntimeError):
        container.threads.pop()()
    handler._collect(("event", {}, None, 0))
    assert len(container.threads) == 1  # a new flush thread for the events still pending
