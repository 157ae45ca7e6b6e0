"""Domain errors of the submission service: each says which rule refused the command."""
from __future__ import annotations


class SubmissionError(Exception):
    """Base of every refusal by the submission domain; nothing changed when raised."""


class DeadlinePassed(SubmissionError):
    """The command came at or after the submission deadline instant."""


class InvalidTransition(SubmissionError):
    """The proposal's state does not allow the command (e.g. resubmitting a withdrawn one)."""


class InvalidProposal(SubmissionError, ValueError):
    """Proposal data that breaks a form rule (a float amount, an unknown field...)."""


class UnknownRule(SubmissionError, LookupError):
    """The call names an eligibility rule id that has no check in this domain."""
