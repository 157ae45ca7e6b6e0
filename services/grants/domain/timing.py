"""Time to inform (TTI) and time to grant (TTG), and their targets.

TTI runs from the submission deadline to the delivery of the proposal's result letter;
TTG from the deadline to the grant's signature. A target of N months is breached when the
letter or signature comes strictly after deadline + N calendar months (day clamped to the
month's end, wall-clock time kept, in the call's time zone), or when it has still not come
at that instant: a breach is known without waiting for the late letter or signature.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.calls.model import GrantRules, add_months
from shared.events import TimeTargetBreached

from services.grants.domain.terms import require_aware, utc

TTI, TTG = "tti", "ttg"


@dataclass(frozen=True)
class Elapsed:
    """A duration as whole days and whole calendar months (both rounded down)."""

    days: int
    months: int


def elapsed(start: datetime, end: datetime, timezone: str) -> Elapsed:
    """Whole days (24 h each, on the absolute time line) and whole calendar months from
    ``start`` to ``end``."""
    if utc(end) < utc(start):
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    local_start, local_end = (t.astimezone(ZoneInfo(timezone)) for t in (start, end))
    months = (local_end.year - local_start.year) * 12 + local_end.month - local_start.month
    if months > 0 and add_months(start, months, timezone) > end:
        months -= 1
    # in UTC, else a daylight-saving hour that never elapsed would be counted
    return Elapsed(days=(utc(end) - utc(start)) // timedelta(days=1), months=months)


def time_to_inform(deadline: datetime, letter_delivered_at: datetime,
                   timezone: str) -> Elapsed:
    return elapsed(deadline, letter_delivered_at, timezone)


def time_to_grant(deadline: datetime, signed_at: datetime, timezone: str) -> Elapsed:
    return elapsed(deadline, signed_at, timezone)


@dataclass
class ProposalClock:
    """TTI/TTG of one proposal, fed by the service as facts arrive, checked on each tick.

    TTI is watched for every screened proposal until it is withdrawn; TTG only once the
    proposal is invited to grant preparation (main list or promoted) and until its file
    ends. Each breach is reported once."""

    call_id: str
    proposal_id: str
    deadline: datetime
    timezone: str
    informed_at: datetime | None = None
    signed_at: datetime | None = None
    withdrawn: bool = False
    grant_expected: bool = False
    tti_breached: bool = False
    ttg_breached: bool = False

    def proposal_withdrawn(self) -> None:
        """A withdrawn proposal gets no letter and no grant: nothing to measure."""
        self.withdrawn = True

    def letter_delivered(self, at: datetime) -> None:
        """A result letter reached one of the proposal's contacts; the earliest counts
        (deliveries to several contacts may be reported in any order)."""
        require_aware("at", at)
        if self.informed_at is None or utc(at) < utc(self.informed_at):
            self.informed_at = at

    def invited(self) -> None:
        self.grant_expected = True

    def grant_ended(self) -> None:
        """The grant file ended unsigned: no time to grant to measure any more."""
        self.grant_expected = False

    def grant_signed(self, at: datetime) -> None:
        self.signed_at = self.signed_at or require_aware("at", at)

    @property
    def time_to_inform(self) -> Elapsed | None:
        """Deadline to the first result letter, once it was delivered."""
        return self._since_deadline(self.informed_at)

    @property
    def time_to_grant(self) -> Elapsed | None:
        """Deadline to the grant's signature, once it was signed."""
        return self._since_deadline(self.signed_at)

    def _since_deadline(self, at: datetime | None) -> Elapsed | None:
        if at is None:
            return None
        # a fact reported before the deadline (clock skew between services) counts as 0
        return elapsed(self.deadline, max(utc(at), utc(self.deadline)), self.timezone)

    def limit(self, measure: str, rules: GrantRules) -> datetime:
        """The instant after which ``measure`` (tti or ttg) breaches the call's target."""
        months = {TTI: rules.tti_target_months, TTG: rules.ttg_target_months}[measure]
        return add_months(self.deadline, months, self.timezone)

    def check(self, now: datetime, rules: GrantRules) -> list[TimeTargetBreached]:
        """The breaches found by ``now`` not reported before (and mark them reported)."""
        require_aware("now", now)
        breaches = []
        if not self.withdrawn and not self.tti_breached:
            breach = self._breach(TTI, self.informed_at, rules.tti_target_months, now)
            if breach:
                self.tti_breached = True
                breaches.append(breach)
        if self.grant_expected and not self.withdrawn and not self.ttg_breached:
            breach = self._breach(TTG, self.signed_at, rules.ttg_target_months, now)
            if breach:
                self.ttg_breached = True
                breaches.append(breach)
        return breaches

    def _breach(self, measure: str, done_at: datetime | None, target_months: int,
                now: datetime) -> TimeTargetBreached | None:
        limit = add_months(self.deadline, target_months, self.timezone)
        until = done_at if done_at is not None else now
        if utc(until) <= utc(limit):
            return None
        return TimeTargetBreached(
            call_id=self.call_id, correlation_id=self.proposal_id, occurred_at=now,
            proposal_id=self.proposal_id, measure=measure, target_months=target_months,
            days=elapsed(self.deadline, until, self.timezone).days, limit_at=utc(limit))
