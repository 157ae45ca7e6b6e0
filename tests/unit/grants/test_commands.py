"""Who may act on a file, and how refusals read: 404 for strangers, 403 for a contact who
is not the coordinator, 409 naming the state or the deadline; a refusal changes nothing."""
from datetime import timedelta

import pytest

from services.grants import handlers
from shared.auth import Principal
from shared.web import Conflict, Forbidden, NotFound
from tests.support.grants_events import (INFORMATION_AT, amif_call, call_published, entry,
                                         ranking, stage_reached)

from .harness import Grants

PARTNER = Principal("office@m1.example.org", "applicant")  # a proposal contact of M1
STRANGER = Principal("someone@else.example.org", "applicant")


@pytest.fixture
def grants(tmp_path):
    grants = Grants(tmp_path).at(INFORMATION_AT)
    grants.deliver(call_published(amif_call()))
    grants.deliver(ranking([entry("M1", 1, "1000000"), entry("M2", 2, "900000")], [],
                           "2000000"))
    grants.deliver(stage_reached())
    grants.new_events()
    return grants.advance(days=1)


def test_contacts_read_their_files_strangers_get_404(grants):
    mine = handlers.list_grants(grants.uows(), grants.now, email=PARTNER.email)["grants"]
    assert [g["grant_id"] for g in mine] == ["GRANT-M1"]
    assert handlers.get_grant(grants.uows(), PARTNER, "GRANT-M1", grants.now)["state"] == "invited"
    for grant_id in ("GRANT-M2", "GRANT-NOPE"):
        with pytest.raises(NotFound) as refused:
            handlers.get_grant(grants.uows(), PARTNER, grant_id, grants.now)
        assert refused.value.errors == [{"field": "grant_id",
                                         "rule": "unknown, or not one of yours"}]
    assert handlers.list_grants(grants.uows(), grants.now, email=STRANGER.email)["grants"] == []


def test_only_the_coordinator_acts(grants):
    with pytest.raises(Forbidden, match="only the coordinator"):
        handlers.confirm_data(grants.uows(), PARTNER, "GRANT-M1", grants.now)
    with pytest.raises(NotFound):
        handlers.decline(grants.uows(), STRANGER, "GRANT-M1", "no", grants.now, "a@b.c")
    assert grants.grant("M1")["state"] == "invited"


def test_out_of_order_steps_are_409s_naming_the_state_and_the_rule(grants):
    with pytest.raises(Conflict) as refused:
        grants.sign("M1")
    assert refused.value.code == "illegal_transition"
    [error] = refused.value.errors
    assert error["field"] == "state" and error["state"] == "invited"
    assert "confirming the grant data" in error["rule"]
    with pytest.raises(Conflict, match="'invited'"):
        grants.countersign("M1")
    grants.decline("M1")
    with pytest.raises(Conflict, match="'declined'"):
        grants.decline("M1")
    assert grants.new_types() == [("grant_declined", "M1")]


def test_a_late_step_is_a_409_naming_the_deadline_and_changes_nothing(grants):
    deadline = grants.grant("M1")["preparation_deadline"]
    grants.at(deadline + timedelta(minutes=1))
    with pytest.raises(Conflict) as refused:
        grants.confirm("M1")
    assert refused.value.code == "deadline_passed"
    [error] = refused.value.errors
    assert error["field"] == "preparation_deadline"
    assert error["deadline"] == deadline.isoformat()
    assert grants.grant("M1")["state"] == "invited" and grants.new_events() == []


def test_payments_are_listed_for_the_authority(grants):
    grants.confirm("M2")
    grants.sign("M2")
    assert handlers.payments(grants.uows(), "GRANT-M2", grants.now)["payment_orders"] == []
    grants.countersign("M2")
    [order] = handlers.payments(grants.uows(), "GRANT-M2", grants.now)["payment_orders"]
    assert (order["kind"], str(order["amount"])) == ("prefinancing", "540000.00")
    with pytest.raises(NotFound):
        handlers.payments(grants.uows(), "GRANT-X", grants.now)


def test_after_the_tick_ended_a_late_file_steps_still_name_the_deadline(grants):
    deadline = grants.grant("M1")["preparation_deadline"]
    grants.at(deadline + timedelta(minutes=1)).tick()
    assert grants.grant("M1")["state"] == "declined"
    for step in (grants.confirm, grants.decline):
        with pytest.raises(Conflict) as refused:
            step("M1")
        assert refused.value.code == "deadline_passed"
        assert refused.value.errors[0]["field"] == "preparation_deadline"
