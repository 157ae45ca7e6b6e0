"""Sign-in links in mail: a message whose context asks for one (``routing.SIGN_IN``) gets
``sign_in_url`` and ``sign_in_minutes`` when it is queued, minted for its recipient with
the deployment's secret (``shared.pages.signin``). Minting here, not in the producing
service, keeps the token off the broker and out of every other service's event log; the
link is checked and used once by the service that signs the audience in."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Iterable

from services.notifications.domain.notification import Notification
from services.notifications.domain.routing import SIGN_IN
from shared.pages.audiences import AUDIENCES
from shared.pages.settings import PageSettings
from shared.pages.signin import sign_in_link


def with_sign_in_links(notes: Iterable[Notification], pages: PageSettings,
                       now: datetime | None = None) -> list[Notification]:
    minutes = int(pages.sign_in_ttl.total_seconds() // 60)
    linked = []
    for note in notes:
        wanted = note.context.get(SIGN_IN)
        if wanted:
            url = sign_in_link(pages, note.recipient, AUDIENCES[wanted["audience"]],
                               wanted.get("next", ""), now)
            note = dataclasses.replace(note, context={**note.context, "sign_in_url": url,
                                                      "sign_in_minutes": minutes})
        linked.append(note)
    return linked
