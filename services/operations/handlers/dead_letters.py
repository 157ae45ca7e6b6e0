"""The dead-letter queue as operations sees it: list, and replay to the failed handler."""
from __future__ import annotations

from shared.web import NotFound


def _brief(letter: dict) -> dict:
    """What a person needs to decide: which event, where it failed, why; the payload's
    proposal or call when it has one."""
    payload = letter.get("payload") if isinstance(letter.get("payload"), dict) else {}
    return {**letter, "proposal_id": payload.get("proposal_id"),
            "call_id": payload.get("call_id")}


def list_dead_letters(dead_letters) -> dict:
    letters = [_brief(letter) for letter in dead_letters.list()]
    return {"count": len(letters), "letters": letters}


def replay(dead_letters, event_id: str | None) -> dict:
    """Replay one event's dead letters (404 when there is none), or all of them."""
    replayed = dead_letters.replay(event_id)
    if event_id is not None and not replayed:
        # another process listing the queue hides its letters for that moment
        # (adapters.dead_letters): a person who still sees the letter may try again
        raise NotFound(f"no dead letter has event id {event_id!r} (if it is still listed, "
                       "another process was reading the queue: try again)",
                       errors=[{"field": "event_id", "rule": "no dead letter has this event id"}])
    return {"count": len(replayed),
            "replayed": [{k: letter.get(k) for k in ("event_id", "event_type", "queue")}
                         for letter in replayed]}
