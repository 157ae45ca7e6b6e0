"""Handlers of the events the submission service consumes (run by ``uow.consume``)."""
from __future__ import annotations

from services.submission.adapters.tables import rankings
from shared.db.inserts import insert_ignoring_duplicates
from shared.events import RankingPublished


def on_ranking_published(uow, event: RankingPublished) -> None:
    """From now on the topic's proposals can no longer be withdrawn (a main-list
    coordinator declines the grant instead). A second ranking of the topic keeps the
    first date; the event may come before or after anything else we know of the topic."""
    insert_ignoring_duplicates(uow.session, rankings, call_id=event.call_id,
                               topic_id=event.topic_id, published_at=event.occurred_at,
                               event_id=event.event_id)
