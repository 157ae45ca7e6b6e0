"""Drive the notifications service through the broker, as its producers would, and look
at what it did: its delivery log and outbox (its own database), and the test SMTP server."""
from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime

import pypdf
import requests
import sqlalchemy as sa
from kombu import Connection, Exchange

from shared.calls.loader import call_to_wire, load_default_call
from shared.events import CallPublished, Event, dump
from shared.events.base import new_event_id
from tests.unit.notifications import factories as f

CALL_ID = f.CALL_ID


def publish(stack, *events: Event) -> None:
    """Publish to each producer's exchange, routed by event type, with broker confirms."""
    with Connection(stack.vhost.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for event in events:
            producer.publish(dump(event), exchange=Exchange(f"{event.producer}.events",
                                                            type="topic", durable=True),
                             routing_key=event.routing_key(), serializer="json",
                             delivery_mode=2, message_id=event.event_id)


def call_published(at: datetime) -> CallPublished:
    call = load_default_call()
    return CallPublished(call_id=call.id, correlation_id=call.id, occurred_at=at,
                         version=call.version, title=call.title, call=call_to_wire(call))


def about(event: Event, proposal_id: str, at: datetime | None = None, **changes) -> Event:
    """The same kind of event about another proposal, as a new event."""
    return replace(event, event_id=new_event_id(), proposal_id=proposal_id,
                   correlation_id=proposal_id, occurred_at=at or event.occurred_at, **changes)


def deliveries(stack, **equal) -> list:
    """Rows of the delivery log, daily digests left out unless asked for by template (the
    service's clock makes them on its own)."""
    where = " AND ".join([f"{name} = :{name}" for name in equal]
                         or ["template <> 'daily_digest'"])
    return query(stack, f"SELECT * FROM deliveries WHERE {where} ORDER BY created_at, "
                        "recipient", **equal)


def outbox_count(stack, event_type: str, template: str | None = None) -> int:
    """Events in the service's outbox; for notification outcomes, digests left out unless
    ``template`` names one."""
    by_template = ("AND CAST(payload AS json)->>'template' = :template" if template else
                   "AND coalesce(CAST(payload AS json)->>'template', '') <> 'daily_digest'")
    return query(stack, f"SELECT count(*) AS n FROM outbox WHERE event_type = :t "
                        f"{by_template}", t=event_type, template=template)[0].n


def query(stack, sql: str, **params) -> list:
    engine = stack.databases.engine("notifications")
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    except sa.exc.ProgrammingError:  # the service has not created its tables yet
        return []
    finally:
        engine.dispose()


def attempts(stack, delivery_id: str) -> list:
    return query(stack, "SELECT * FROM delivery_attempts WHERE delivery_id = :d "
                        "ORDER BY attempt", d=delivery_id)


def pdf_text(content: bytes) -> str:
    """The text of a PDF document, whitespace runs as one space."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def health(stack) -> dict:
    return requests.get(f"{stack.url('notifications')}/health", timeout=5).json()


def mails(stack, to: str | None = None, subject: str = "") -> list[dict]:
    return [m for m in stack.smtp.messages()
            if (to is None or to in m["rcpt_tos"]) and subject in (m["subject"] or "")]


def metric(stack, name: str, **labels) -> float:
    """A counter of the service's /metrics with exactly these labels (0 when absent)."""
    text = requests.get(f"{stack.url('notifications')}/metrics", timeout=5).text
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if not series.startswith(name + "{"):
            continue
        found = dict(pair.split("=", 1) for pair in series[len(name) + 1:-1].split(","))
        if {k: v.strip('"') for k, v in found.items()} == labels:
            return float(value)
    return 0.0


def consumed(stack, event_type: str, outcome: str) -> float:
    """The service's own count of events handled with ``outcome``."""
    return metric(stack, "grantflow_events_consumed_total", event_type=event_type,
                  outcome=outcome, service="notifications")
