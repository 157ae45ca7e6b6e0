"""The closing manifest: at the deadline, the list of what was received on time.

Entries ``{proposal_id, version, content_hash, received_at}`` (received_at as ISO text in
UTC, exactly as hashed), sorted by proposal id; ``manifest_hash`` is SHA-256 over their
canonical JSON (sorted keys, no spaces: see :mod:`.canonical`). Publishing both lets any
applicant check, with their receipt alone, that the version they submitted is the one
that counts and that nobody changed the list afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from services.submission.domain.canonical import sha256_hex
from services.submission.domain.deadline import is_closed, utc_iso
from services.submission.domain.errors import InvalidTransition
from services.submission.domain.proposal import FrozenProposal, Proposal, Receipt
from shared.calls.model import Call
from shared.events import DeadlineClosed


def manifest_entry(proposal: FrozenProposal) -> dict:
    """The manifest entry of one frozen proposal."""
    return {"proposal_id": proposal.proposal_id, "version": proposal.version.number,
            "content_hash": proposal.version.content_hash,
            "received_at": utc_iso(proposal.version.received_at)}


def manifest_hash(entries: Iterable[dict]) -> str:
    """SHA-256 of the canonical JSON of the entries sorted by proposal id."""
    return sha256_hex(sorted(entries, key=lambda e: e["proposal_id"]))


def manifest_of(entries: Iterable[dict]) -> tuple[list[dict], str]:
    """``(entries sorted by proposal id, manifest_hash)`` of a topic's :func:`manifest_entry`
    entries (a topic frozen page by page keeps only its entries); a proposal id may appear
    once."""
    entries = sorted(entries, key=lambda e: e["proposal_id"])
    ids = [e["proposal_id"] for e in entries]
    if len(ids) != len(set(ids)):
        raise ValueError("a proposal may appear only once in a manifest")
    return entries, manifest_hash(entries)


@dataclass(frozen=True)
class EntryCheck:
    """What an applicant learns from :func:`check_entry`: ``ok`` only if the manifest is
    intact and lists their proposal with the content they were given a receipt for."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    entry: dict | None = None


def check_entry(entries: list[dict], published_hash: str, *, proposal_id: str,
                content_hash: str, version: int | None = None) -> EntryCheck:
    """Check one's own entry against a published manifest and its hash: the hash must
    match the entries, and the entry for ``proposal_id`` must carry ``content_hash``
    (and ``version``, if given)."""
    problems = []
    if manifest_hash(entries) != published_hash:
        problems.append("the manifest does not match its published hash: it was altered")
    mine = [e for e in entries if e.get("proposal_id") == proposal_id]
    if len(mine) != 1:
        problems.append(f"proposal {proposal_id} appears {len(mine)} times in the manifest")
        return EntryCheck(False, problems)
    entry = mine[0]
    if entry.get("content_hash") != content_hash:
        problems.append(f"the manifest lists content hash {entry.get('content_hash')}, "
                        f"not {content_hash}")
    if version is not None and entry.get("version") != version:
        problems.append(f"the manifest lists version {entry.get('version')}, not {version}")
    return EntryCheck(not problems, problems, entry)


def check_receipt(entries: list[dict], published_hash: str, receipt: Receipt) -> EntryCheck:
    """:func:`check_entry` for the receipt an applicant got on (re)submission. A receipt
    of an earlier version fails: only the last on-time version counts."""
    return check_entry(entries, published_hash, proposal_id=receipt.proposal_id,
                       content_hash=receipt.content_hash, version=receipt.version)


def freeze_topic(call: Call, topic_id: str, proposals: Iterable[Proposal], *,
                 now: datetime) -> list[dict]:
    """At or after the deadline, freeze the topic's proposals among ``proposals`` (refused
    before the deadline); the manifest entries of those that count (drafts, withdrawn
    proposals and other topics' are not in the manifest). A topic can be frozen in pages,
    one after another: only the entries are kept for :func:`closing_event`."""
    if not is_closed(now, call.deadline):
        raise InvalidTransition(f"topic {topic_id} cannot close before the deadline")
    return [manifest_entry(proposal.frozen()) for proposal in proposals
            if proposal.call_id == call.id and proposal.topic_id == topic_id
            and proposal.freeze(deadline=call.deadline, now=now) is not None]


def closing_event(call: Call, topic_id: str, entries: Iterable[dict], *,
                  now: datetime) -> DeadlineClosed:
    """The ``deadline_closed`` event of a topic frozen with these manifest entries."""
    entries, digest = manifest_of(entries)
    return DeadlineClosed(call_id=call.id, correlation_id=call.id, occurred_at=now,
                          topic_id=topic_id, deadline=call.deadline, closed_at=now,
                          manifest=entries, manifest_hash=digest)
