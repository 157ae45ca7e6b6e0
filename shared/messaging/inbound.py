"""What a consumer checks in a message before any handler sees it.

Consumers receive raw bodies (kombu would otherwise ack and drop a body it cannot decode
before Grantflow sees it), so every check is here, each failure naming its reason:

- the body is JSON text: content type ``application/json``, UTF-8, a JSON object;
- its ``event_type`` is one of the catalogue's;
- it came the way that event travels: published on its producer's exchange
  (``<producer>.events``) with its own type as routing key (qualified by the payload's
  field for an event routed by one, ``Event.routed_by``), or sent back to this very
  queue through ``grantflow.requeue`` (a retry or a replay); and it is an event this
  handler subscribes to.

A message that fails a check is dead-lettered at once (no retry can fix it). Metric labels
come from :func:`metric_label`, never from a body: a forged type cannot create series.
"""
from __future__ import annotations

import json

from shared.events.registry import EVENT_CLASSES
from shared.messaging import topology as t

JSON = "application/json"
UNKNOWN = "unknown"  # the one metric label for whatever is not in the catalogue


class Refused(Exception):
    """The message cannot be handled, for the reason given (dead-lettered at once)."""


def metric_label(event_type: object) -> str:
    return event_type if isinstance(event_type, str) and event_type in EVENT_CLASSES \
        else UNKNOWN


def decode_body(message) -> dict:
    """The JSON object in ``message``, or :class:`Refused` saying why not."""
    content_type = (message.content_type or "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise Refused(f"undecodable body: content type {message.content_type!r} is not "
                      f"{JSON}")
    encoding = (message.content_encoding or "utf-8").lower()
    if encoding not in ("utf-8", "utf8"):
        raise Refused(f"undecodable body: content encoding {message.content_encoding!r} "
                      "is not utf-8")
    body = message.body
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray, memoryview)) \
            else body
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise Refused(f"undecodable body: not UTF-8 text ({exc})") from None
    except (TypeError, ValueError) as exc:
        raise Refused(f"undecodable body: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Refused(f"undecodable body: a JSON {type(data).__name__}, not an object")
    return data


def check_route(body: dict, delivery_info: dict, source: str, wanted: str,
                queue_name: str) -> str:
    """The event type of ``body`` if it may reach the handler of ``queue_name`` (events
    ``wanted`` from ``source``, or all of its events), else :class:`Refused`."""
    event_type = body.get("event_type")
    cls = EVENT_CLASSES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise Refused(f"unknown event type {str(event_type)[:80]!r}")
    exchange = delivery_info.get("exchange", "")
    routing_key = delivery_info.get("routing_key", "")
    if exchange == f"{source}.events":
        # the bare type is an earlier release's key for a routed event (an upgrade)
        if routing_key != event_type and routing_key != cls.routing_key_for(body):
            raise Refused(f"misrouted: a {event_type} event published with routing key "
                          f"{routing_key[:80]!r}")
    elif exchange != t.REQUEUE_EXCHANGE or routing_key != queue_name:
        raise Refused(f"misrouted: a {event_type} event arrived through exchange "
                      f"{exchange[:80]!r} with routing key {routing_key[:80]!r}")
    if cls.producer != source:
        raise Refused(f"misrouted: {event_type} is produced by {cls.producer}, not by "
                      f"{source}")
    if wanted not in (t.ALL_EVENTS, event_type):
        raise Refused(f"misrouted: this handler takes {wanted}, not {event_type}")
    return event_type
