"""Errors of the grants domain; each message names the file, its state and the rule."""
from __future__ import annotations


class GrantError(Exception):
    """A grant rule refused a step; nothing was changed."""


class IllegalTransition(GrantError):
    """A step was asked of a file in a state that does not allow it."""

    def __init__(self, grant_id: str, state: str, step: str, rule: str):
        self.grant_id, self.state, self.step, self.rule = grant_id, state, step, rule
        super().__init__(f"grant {grant_id} is {state!r}, so it cannot {step}: {rule}")


class DeadlinePassed(GrantError):
    """A coordinator step came after its deadline; the service should call ``expire``."""

    def __init__(self, grant_id: str, step: str, deadline_name: str, deadline, now):
        self.grant_id, self.step, self.deadline_name = grant_id, step, deadline_name
        self.deadline, self.now = deadline, now
        super().__init__(f"grant {grant_id}: cannot {step} at {now.isoformat()}, the "
                         f"{deadline_name} deadline was {deadline.isoformat()} (rule: the "
                         f"coordinator acts by the {deadline_name} deadline, else the "
                         "file ends)")
