"""The eligibility pre-check: the call's own screening, run on a working copy before it
is submitted, so an applicant sees each failed rule while there is time to fix it.

It is exactly :func:`screening.screen` on the working copy as if received ``now``: the
same admissibility (every required part, on time) and eligibility rules with the same
messages. The one difference is what ``single_topic`` compares with: at screening, every
frozen proposal of the call; here, only the applicant's own other proposals of the call
(as last submitted), since other applicants' proposals are not theirs to learn about.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from services.submission.domain.proposal import FrozenProposal, Proposal
from services.submission.domain.screening import ScreeningResult, screen
from shared.calls.model import Call


def precheck(call: Call, proposal: Proposal, now: datetime,
             own_others: Iterable[Proposal] = ()) -> ScreeningResult:
    number = proposal.latest_version.number + 1 if proposal.latest_version else 1
    draft = FrozenProposal.of(proposal.id, proposal.call_id, proposal.topic_id,
                              proposal.content, now, number)
    others = [FrozenProposal(o.id, o.call_id, o.topic_id, o.latest_version)
              for o in own_others if o.id != proposal.id and o.latest_version is not None]
    return screen(call, draft, others)
