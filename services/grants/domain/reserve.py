"""A topic's grant budget and its reserve chain.

The ledger is opened from ``ranking_published``: the main list commits its maximum grants,
the reserve list waits in rank order. When a file ends (GrantDeclined) its grant is
released, and the available budget (everything not committed: freed grants plus whatever
the main list left unallocated) goes to reserve proposals, highest rank first.

Fitting rule: each promotion takes the highest-ranked waiting reserve proposal whose
maximum grant fits the available budget. A proposal that does not fit is skipped but stays
waiting, and every later decline starts again from the top of the list, so a larger
budget freed later reaches a skipped proposal before any lower-ranked one. Promotions go
on while a waiting proposal fits, so one large release can promote several. The order is
fully determined by (rank, proposal id). Promotions end with the call's signature period
(:func:`reserve_lapsed`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from shared.calls.model import Call
from shared.events import Event, GrantDeclined, RankingPublished, ReservePromoted

from services.grants.domain.errors import GrantError
from services.grants.domain.grant import GrantFile
from services.grants.domain.money import as_money, maximum_grant
from services.grants.domain.terms import Candidate, signature_cap, utc


def reserve_lapsed(call: Call, now: datetime) -> bool:
    """True once a promotion at ``now`` could not be signed: the call's signature period,
    which caps a promoted file's deadlines (``terms.signature_cap``), has ended. The budget
    a file frees after that stays unspent; operations counts every waiting reserve
    proposal final (``reserve``) at the end of the period. Promoting anyway opened files
    whose deadlines had passed: each expired at the next clock tick and promoted the next
    proposal, an invitation and an expiry notice per reserve proposal down the whole list.
    A call that lets promoted files run past the period (``reserve_signature_after_period``)
    keeps promoting."""
    cap = signature_cap(call, promoted_from_reserve=True)
    return cap is not None and utc(now) >= utc(cap)


def check_ranking(ranking: RankingPublished) -> None:
    """Refuse a ranking no ledger can be opened from, naming every problem: main and
    reserve entries need a rank and positive amounts, and a proposal appears once."""
    problems, seen = [], set()
    for list_name in ("main", "reserve", "rejected"):
        for entry in getattr(ranking, list_name):
            pid = entry.get("proposal_id")
            if pid in seen:
                problems.append(f"{list_name}: proposal {pid} is listed twice")
            seen.add(pid)
            if list_name == "rejected":
                continue
            if entry.get("rank") is None:
                problems.append(f"{list_name}: proposal {pid} has no rank")
            for amount in ("requested_grant", "total_eligible_costs"):
                if not as_money(entry[amount]) > 0:
                    problems.append(f"{list_name}: proposal {pid} has {amount} "
                                    f"{entry[amount]}, not a positive amount")
    if problems:
        raise GrantError(f"ranking {ranking.event_id} of topic {ranking.topic_id} cannot "
                         "open a grant ledger: " + "; ".join(problems))


@dataclass(eq=False)
class TopicLedger:
    call_id: str
    topic_id: str
    budget: Decimal
    ranking_event_id: str
    main: tuple[Candidate, ...]
    reserve: tuple[Candidate, ...]  # in rank order
    amounts: dict[str, Decimal]  # proposal id -> its maximum grant
    committed: dict[str, Decimal] = field(default_factory=dict)  # proposal id -> grant
    released: dict[str, Decimal] = field(default_factory=dict)  # ended files' grants
    promoted: list[str] = field(default_factory=list)  # in promotion order
    dropped: list[str] = field(default_factory=list)  # reserve proposals withdrawn
    main_invited: bool = False
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def from_ranking(cls, ranking: RankingPublished, call: Call) -> "TopicLedger":
        """Open the ledger: the main list's maximum grants are committed at once."""
        cap = call.grants.cofinancing_cap

        def candidates(entries) -> tuple[Candidate, ...]:
            found = (Candidate.from_ranking_entry(e, ranking.topic_id) for e in entries)
            return tuple(sorted(found, key=lambda c: (c.rank, c.proposal_id)))

        main, reserve = candidates(ranking.main), candidates(ranking.reserve)
        amounts = {c.proposal_id: maximum_grant(c.requested_grant, c.total_eligible_costs, cap)
                   for c in (*main, *reserve)}
        return cls(call_id=ranking.call_id, topic_id=ranking.topic_id,
                   budget=as_money(ranking.budget), ranking_event_id=ranking.event_id,
                   main=main, reserve=reserve, amounts=amounts,
                   committed={c.proposal_id: amounts[c.proposal_id] for c in main})

    # ------------------------------------------------------------------ queries
    @property
    def available(self) -> Decimal:
        """Budget not committed to an open or signed grant."""
        return self.budget - sum(self.committed.values(), Decimal("0"))

    def waiting(self) -> list[Candidate]:
        """Reserve proposals not promoted nor withdrawn, in rank order."""
        gone = set(self.promoted) | set(self.dropped)
        return [c for c in self.reserve if c.proposal_id not in gone]

    # ------------------------------------------------------------------ commands
    def invite_main_list(self, call: Call, now: datetime,
                         authority_email: str) -> list[GrantFile]:
        """Open a grant file for each main-list proposal, invited at ``now``; once only
        (a second call returns no files)."""
        if self.main_invited:
            return []
        self.main_invited = True
        return [GrantFile.start(c, call, now, authority_email,
                                causation_id=self.ranking_event_id) for c in self.main]

    def drop_reserve(self, proposal_id: str) -> None:
        """A waiting reserve proposal was withdrawn: it is never promoted."""
        if any(c.proposal_id == proposal_id for c in self.waiting()):
            self.dropped.append(proposal_id)

    def on_grant_declined(self, declined: GrantDeclined, call: Call, now: datetime,
                          authority_email: str) -> list[GrantFile]:
        """Release the ended file's grant and promote every reserve proposal that now
        fits, in rank order; returns their new files (fresh deadlines from ``now``). Once
        the reserve list has lapsed (:func:`reserve_lapsed`) the grant is released and no
        one is promoted.

        A redelivered decline releases nothing twice and promotes no one."""
        if declined.topic_id != self.topic_id:
            raise GrantError(f"grant {declined.grant_id} belongs to topic "
                             f"{declined.topic_id}, not {self.topic_id}")
        if declined.proposal_id in self.released:
            return []
        if declined.proposal_id not in self.committed:
            raise GrantError(f"proposal {declined.proposal_id} has no committed grant in "
                             f"topic {self.topic_id}; only a committed grant can be freed")
        self.released[declined.proposal_id] = self.committed.pop(declined.proposal_id)
        if reserve_lapsed(call, now):
            return []
        files = []
        while (candidate := self._best_fit()) is not None:
            files.append(self._promote(candidate, declined, call, now, authority_email))
        return files

    def pull_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    # ------------------------------------------------------------------ helpers
    def _best_fit(self) -> Candidate | None:
        available = self.available
        return next((c for c in self.waiting() if self.amounts[c.proposal_id] <= available),
                    None)

    def _promote(self, candidate: Candidate, declined: GrantDeclined, call: Call,
                 now: datetime, authority_email: str) -> GrantFile:
        promoted = ReservePromoted(
            call_id=self.call_id, correlation_id=candidate.proposal_id, occurred_at=now,
            causation_id=declined.event_id, proposal_id=candidate.proposal_id,
            topic_id=self.topic_id, rank=candidate.rank, freed_by=declined.proposal_id,
            available_budget=self.available, acronym=candidate.acronym,
            contact_emails=list(candidate.contact_emails))
        self.events.append(promoted)
        self.promoted.append(candidate.proposal_id)
        self.committed[candidate.proposal_id] = self.amounts[candidate.proposal_id]
        return GrantFile.start(candidate, call, now, authority_email,
                               causation_id=promoted.event_id, promoted_from_reserve=True)
