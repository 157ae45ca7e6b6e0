"""The dead-letter queue as operations sees it: list, and replay to the failed handler."""
from __future__ import annotations

from shared.messaging.dlq import DeadLettersBusy
from shared.web import NotFound, Unavailable


def _brief(letter: dict) -> dict:
    """What a person needs to decide: which event, where it failed, why; the payload's
    proposal or call when it has one."""
    payload = letter.get("payload") if isinstance(letter.get("payload"), dict) else {}
    return {**letter, "proposal_id": payload.get("proposal_id"),
            "call_id": payload.get("call_id")}


def list_dead_letters(dead_letters) -> dict:
    try:
        letters = [_brief(letter) for letter in dead_letters.list()]
    except DeadLettersBusy as exc:
        raise Unavailable(str(exc)) from None
    return {"count": len(letters), "letters": letters}


def replay(dead_letters, event_id: str | None) -> dict:
    """Replay one event's dead letters (404 when there is none), or all of them (503 when
    another process held the queue longer than the replay waited for its turn)."""
    try:
        replayed = dead_letters.replay(event_id)
    except DeadLettersBusy as exc:
        raise Unavailable(str(exc)) from None
    if event_id is not None and not replayed:
        raise NotFound(f"no dead letter has event id {event_id!r}",
                       errors=[{"field": "event_id", "rule": "no dead letter has this event id"}])
    return {"count": len(replayed),
            "replayed": [{k: letter.get(k) for k in ("event_id", "event_type", "queue")}
                         for letter in replayed]}
