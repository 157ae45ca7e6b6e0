"""Which call document may replace the published one.

A call is published once per version. Loading the same version with the same content
again changes nothing; the same version with other content, or an older version, is
refused. A newer version (an amendment) is published, unless it changes what can no
longer change: the submission deadline once a topic has closed, or the removal of a
topic that still has proposals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection

from services.submission.domain.deadline import utc_iso
from services.submission.domain.errors import CallVersionRefused
from shared.calls.model import Call


@dataclass(frozen=True)
class Published:
    """The call version currently published and its content hash."""

    call: Call
    content_hash: str


def decide_load(new: Call, new_hash: str, current: Published | None, *,
                deadline_closed: bool = False,
                topics_in_use: Collection[str] = ()) -> bool:
    """True if ``new`` is to be published, False if it is already (an idempotent
    reload). Raises :class:`CallVersionRefused` saying why otherwise."""
    if current is None:
        return True
    old = current.call
    if new.version == old.version:
        if new_hash == current.content_hash:
            return False
        raise CallVersionRefused(
            f"version {new.version} of call {new.id} is already published with other "
            "content; raise `version` to publish an amendment")
    if new.version < old.version:
        raise CallVersionRefused(
            f"version {new.version} of call {new.id} is older than the published "
            f"version {old.version}")
    if deadline_closed and new.deadline != old.deadline:
        raise CallVersionRefused(
            f"the submission deadline of call {new.id} closed at {utc_iso(old.deadline)}; "
            f"version {new.version} cannot move it to {utc_iso(new.deadline)}")
    kept = {topic.id for topic in new.topics}
    orphaned = sorted(set(topics_in_use) - kept)
    if orphaned:
        raise CallVersionRefused(
            f"version {new.version} of call {new.id} removes topic(s) "
            f"{', '.join(orphaned)} that still have proposals")
    return True
