"""Domain errors of the submission service: each says which rule refused the command."""
from __future__ import annotations


class SubmissionError(Exception):
    """Base of every refusal by the submission domain; nothing changed when raised."""


class DeadlinePassed(SubmissionError):
    """The command came at or after the submission deadline instant."""


class InvalidTransition(SubmissionError):
    """The proposal's state does not allow the command (e.g. resubmitting a withdrawn one)."""


class WithdrawalClosed(InvalidTransition):
    """Withdrawal asked for after the topic's ranking was published."""


class CallVersionRefused(SubmissionError):
    """A call document that may not replace the published one (same version with other
    content, an older version, or a change the timetable no longer allows)."""


class InvalidProposal(SubmissionError, ValueError):
    """Proposal data that breaks a form rule (a float amount, an unknown field...)."""


class UnknownRule(SubmissionError, LookupError):
    """The call names an eligibility rule id that has no check in this domain."""


class InvalidEntry(SubmissionError, ValueError):
    """Values of a partner profile or a question that break a rule; ``problems`` lists
    ``(field, rule)`` for each one, so every problem is reported at once."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{field}: {rule}" for field, rule in problems))
        self.problems = problems


class NotOwner(SubmissionError):
    """Somebody other than its owner (or operations) tried to change an entry."""


class LimitReached(SubmissionError):
    """A person has as many entries of a kind open as the service allows."""
