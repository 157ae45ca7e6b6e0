"""The closing manifest and its hash: an applicant can check their own entry."""
import hashlib
import json
from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

from services.submission.domain.errors import InvalidTransition
from services.submission.domain.manifest import (check_entry, check_receipt, closing_event,
                                                 freeze_topic, manifest_entry, manifest_hash,
                                                 manifest_of)
from shared.events import dump, load

from .factories import AT_DEADLINE, BEFORE, CALL, ON_TIME, TOPIC_1, TOPIC_2, content, draft, \
    frozen


def independent_hash(entries):
    """The recipe published for applicants, written out again here."""
    ordered = sorted(entries, key=lambda e: e["proposal_id"])
    text = json.dumps(ordered, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_manifest(proposals):
    return manifest_of(manifest_entry(p) for p in proposals)


def close_topic(call, topic_id, proposals, *, now):
    """Closing as the deadline does it: freeze (in one page here), then the event."""
    return closing_event(call, topic_id, freeze_topic(call, topic_id, proposals, now=now),
                         now=now)


def three():
    return [frozen(proposal_id=pid, received_at=ON_TIME - timedelta(minutes=i))
            for i, pid in enumerate(["P-3", "P-1", "P-2"])]


def test_entries_are_sorted_by_proposal_id_with_utc_iso_times():
    entries, digest = build_manifest(three())
    assert [e["proposal_id"] for e in entries] == ["P-1", "P-2", "P-3"]
    assert entries[0]["received_at"] == "2019-01-31T15:58:59.000000+00:00"
    assert set(entries[0]) == {"proposal_id", "version", "content_hash", "received_at"}
    assert digest == independent_hash(entries)


def test_an_intact_manifest_confirms_the_entry():
    entries, digest = build_manifest(three())
    mine = next(f for f in three() if f.proposal_id == "P-2")
    result = check_entry(entries, digest, proposal_id="P-2",
                         content_hash=mine.version.content_hash, version=1)
    assert result.ok and result.problems == []


@pytest.mark.parametrize("field,value", [("content_hash", "0" * 64), ("version", 2),
                                         ("received_at", "2019-01-31T15:00:00.000000+00:00")])
def test_a_tampered_entry_fails_the_check(field, value):
    entries, digest = build_manifest(three())
    original = entries[1]["content_hash"]
    entries[1] = {**entries[1], field: value}
    result = check_entry(entries, digest, proposal_id="P-2", content_hash=original)
    assert not result.ok
    assert any("altered" in p for p in result.problems)


def test_a_removed_entry_or_a_wrong_hash_fails_the_check():
    entries, digest = build_manifest(three())
    mine = entries[0]
    assert not check_entry(entries[1:], digest, proposal_id="P-1",
                           content_hash=mine["content_hash"]).ok
    assert not check_entry(entries, digest, proposal_id="P-1", content_hash="f" * 64).ok


def test_a_receipt_of_an_earlier_version_does_not_match_the_frozen_one():
    proposal = draft()
    old = proposal.submit(received_at=BEFORE, deadline=CALL.deadline)
    proposal.edit(now=BEFORE, deadline=CALL.deadline, abstract="v2")
    new = proposal.resubmit(received_at=ON_TIME, deadline=CALL.deadline)
    event = close_topic(CALL, TOPIC_1, [proposal], now=AT_DEADLINE)
    assert check_receipt(event.manifest, event.manifest_hash, new).ok
    assert not check_receipt(event.manifest, event.manifest_hash, old).ok


def test_close_topic_freezes_the_topic_and_leaves_out_drafts_withdrawn_and_other_topics():
    kept = draft(proposal_id="P-1")
    kept.submit(received_at=ON_TIME, deadline=CALL.deadline)
    withdrawn = draft(proposal_id="P-2")
    withdrawn.submit(received_at=BEFORE, deadline=CALL.deadline)
    withdrawn.withdraw(now=ON_TIME)
    never_sent = draft(proposal_id="P-3")
    elsewhere = draft(content(acronym="OTHER"), proposal_id="P-4", topic_id=TOPIC_2)
    elsewhere.submit(received_at=ON_TIME, deadline=CALL.deadline)
    event = close_topic(CALL, TOPIC_1, [kept, withdrawn, never_sent, elsewhere],
                        now=AT_DEADLINE)
    assert [e["proposal_id"] for e in event.manifest] == ["P-1"]
    assert event.manifest_hash == independent_hash(event.manifest)
    assert (event.deadline, event.closed_at, event.topic_id) == (CALL.deadline, AT_DEADLINE,
                                                                  TOPIC_1)
    assert kept.state.value == "frozen" and elsewhere.state.value == "submitted"
    assert load(json.loads(json.dumps(dump(event)))) == event


def test_close_topic_is_refused_before_the_deadline():
    with pytest.raises(InvalidTransition):
        close_topic(CALL, TOPIC_1, [], now=ON_TIME)


@given(st.permutations(["P-1", "P-2", "P-3", "P-4", "P-10"]))
def test_the_hash_does_not_depend_on_the_order_entries_are_given_in(ids):
    proposals = [frozen(proposal_id=pid) for pid in ids]
    entries, digest = build_manifest(proposals)
    assert digest == manifest_hash(list(reversed(entries))) == independent_hash(entries)
