"""The call's wire form: JSON-safe, and it round-trips exactly (it travels in
``call_published``)."""
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from shared.calls.loader import call_from_wire, call_to_wire, load_call_text
from shared.calls.schema import InvalidCall
from shared.events import CallPublished, dump, load

from .helpers import bundled_call, edited

UTC = timezone.utc


def test_wire_is_json_safe_with_decimals_as_text_and_instants_as_iso_utc():
    wire = call_to_wire(bundled_call())
    text = json.dumps(wire)  # raises on Decimal or datetime
    assert wire["budget"] == "16200000"
    assert wire["grant_rules"]["cofinancing_cap"] == "0.90"
    deadline = next(s for s in wire["timetable"] if s["name"] == "submission_deadline")
    assert deadline["at"] == "2019-01-31T16:00:00+00:00"
    assert "participating_countries" not in text  # derived, the rule carries the truth


def test_wire_round_trips_exactly_both_ways():
    call = bundled_call()
    wire = call_to_wire(call)
    again = call_from_wire(json.loads(json.dumps(wire)))
    assert again == call
    assert call_to_wire(again) == wire
    assert again.participating_countries == call.participating_countries
    assert again.eligibility[0].params["members"][-1]["until"] == \
        datetime(2020, 1, 31, 23, 0, tzinfo=UTC)


def test_round_trip_keeps_non_default_values():
    text = edited("prefinancing_rate: 0.60", "prefinancing_rate: 0.333")
    text = edited("consensus_method: mean", "consensus_method: rapporteur", text)
    call = load_call_text(text)
    again = call_from_wire(call_to_wire(call))
    assert again.grants.prefinancing_rate == Decimal("0.333")
    assert again.evaluation.consensus_method == "rapporteur"
    assert again == call


def test_wire_travels_inside_call_published():
    call = bundled_call()
    event = CallPublished(call_id=call.id, correlation_id=call.id,
                          occurred_at=datetime(2018, 7, 26, tzinfo=UTC), version=call.version,
                          title=call.title, call=call_to_wire(call))
    payload = json.loads(json.dumps(dump(event)))
    assert call_from_wire(load(payload).call) == call


def test_an_invalid_wire_dict_is_refused_with_its_problems():
    wire = call_to_wire(bundled_call())
    wire["topics"][0]["budget"] = "16200001"
    wire["evaluation"]["tie_break"].append("charm")
    with pytest.raises(InvalidCall) as raised:
        call_from_wire(wire)
    assert {p.path for p in raised.value.problems} >= {"topics", "evaluation.tie_break[5]"}


def test_parsed_calls_parse_a_version_once_and_keep_what_was_just_saved():
    from dataclasses import replace

    from shared.calls.loader import ParsedCalls

    call = bundled_call()
    document = call_to_wire(call)
    parsed = ParsedCalls()
    first = parsed.get(call.id, call.version, document)
    assert first == call_from_wire(document)
    assert parsed.get(call.id, call.version, {"not": "read again"}) is first
    retitled = replace(call, title="Another title, same version")
    parsed.keep(retitled)  # a reset database given another document under this version
    assert parsed.get(call.id, call.version, document) is retitled


def test_parsed_calls_fetch_a_document_only_for_a_version_not_parsed_yet():
    from shared.calls.loader import ParsedCalls

    call = bundled_call()
    fetches = []

    def fetch():
        fetches.append(1)
        return call_to_wire(call)

    parsed = ParsedCalls()
    first = parsed.fetched(call.id, call.version, fetch)
    assert first == call and parsed.fetched(call.id, call.version, fetch) is first
    assert parsed.fetched(call.id, call.version + 1, fetch) == call  # another version: read
    assert len(fetches) == 2
