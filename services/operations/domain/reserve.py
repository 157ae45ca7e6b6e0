"""When a reserve-list proposal is final: ``reserve``, not funded.

The grants service promotes waiting reserve proposals, best rank first, when a grant file
of the topic ends unsigned (``grant_declined``) and frees its budget. A waiting reserve
proposal (on the reserve list of the topic's latest ranking, not promoted, not withdrawn)
is therefore final ``reserve`` as soon as one of these holds:

1. the call's signature period has ended: no grant of the call is signed after it;
2. no grant file of its topic is still open: every proposal holding the topic's budget
   (the main list, and every promoted reserve proposal) has a signed or declined grant or
   was withdrawn, so no budget can be freed any more;
3. its grant is more than the topic's budget minus the grants already signed: even if
   every open file were declined it could not fit.

Until then it is ``reserve_list``. A promotion that is still in flight when (2) seems to
hold is corrected when it arrives: a promoted proposal is never ``reserve``.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from services.operations.domain.lifecycle import (DECLINED, GRANT_SIGNED, RESERVE,
                                                  RESERVE_LIST, WITHDRAWN)

_CLOSED = (GRANT_SIGNED, DECLINED, WITHDRAWN)


@dataclass(frozen=True)
class Standing:
    """A ranked proposal of one topic, as the reserve rule needs it."""

    proposal_id: str
    list: str | None  # main | reserve | rejected
    state: str | None
    promoted: bool = False
    amount: Decimal | None = None  # the grant its ranking counted
    signed_amount: Decimal | None = None

    @property
    def waiting(self) -> bool:
        return self.list == "reserve" and not self.promoted and \
            self.state in (RESERVE_LIST, RESERVE)

    @property
    def holds_budget(self) -> bool:
        return self.list == "main" or self.promoted


def settled_reserve(standings: Iterable[Standing], budget: Decimal | None,
                    signature_ended: bool) -> set[str]:
    """Ids of the waiting reserve proposals of one topic that are final ``reserve``."""
    standings = list(standings)
    waiting = [s for s in standings if s.waiting]
    if signature_ended:
        return {s.proposal_id for s in waiting}
    holders = [s for s in standings if s.holds_budget]
    if not any(h.state not in _CLOSED for h in holders):
        return {s.proposal_id for s in waiting}
    if budget is None:
        return set()
    ceiling = budget - sum((h.signed_amount or Decimal(0) for h in holders
                            if h.state == GRANT_SIGNED), Decimal(0))
    return {s.proposal_id for s in waiting if s.amount is not None and s.amount > ceiling}


def reserve_changes(standings: Iterable[Standing], budget: Decimal | None,
                    signature_ended: bool) -> dict[str, str]:
    """The new state of each waiting reserve proposal whose state changes under the rule:
    ``reserve`` (final) or back to ``reserve_list``."""
    standings = list(standings)
    settled = settled_reserve(standings, budget, signature_ended)
    changes = {}
    for s in standings:
        if s.waiting:
            state = RESERVE if s.proposal_id in settled else RESERVE_LIST
            if state != s.state:
                changes[s.proposal_id] = state
    return changes
