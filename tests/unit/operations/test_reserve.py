"""When a waiting reserve proposal is final ``reserve`` (domain.reserve)."""
from decimal import Decimal as D

from services.operations.domain.reserve import Standing, reserve_changes, settled_reserve


def main(pid, state, signed=None):
    return Standing(pid, "main", state, signed_amount=signed)


def waiting(pid, amount):
    return Standing(pid, "reserve", "reserve_list", amount=D(amount))


def test_waiting_while_a_file_is_open_and_its_grant_could_still_fit():
    standings = [main("A", "grant_preparation"), main("B", "grant_signed", D("200")),
                 waiting("R", "300")]
    assert settled_reserve(standings, D("500"), signature_ended=False) == set()


def test_settled_when_no_file_of_the_topic_is_open():
    standings = [main("A", "declined"), main("B", "grant_signed", D("200")),
                 Standing("P", "reserve", "grant_signed", promoted=True, signed_amount=D("240")),
                 waiting("R", "10")]
    assert settled_reserve(standings, D("500"), signature_ended=False) == {"R"}


def test_settled_when_its_grant_exceeds_the_budget_not_yet_signed():
    standings = [main("A", "grant_preparation"), main("B", "grant_signed", D("200")),
                 waiting("R", "300.01"), waiting("S", "300")]
    assert settled_reserve(standings, D("500"), signature_ended=False) == {"R"}


def test_settled_at_the_end_of_the_signature_period():
    standings = [main("A", "grant_preparation"), waiting("R", "1")]
    assert settled_reserve(standings, D("500"), signature_ended=True) == {"R"}


def test_an_empty_main_list_frees_nothing_so_the_reserve_is_final():
    assert settled_reserve([waiting("R", "900")], D("500"), signature_ended=False) == {"R"}


def test_promoted_and_withdrawn_reserve_proposals_are_not_waiting():
    standings = [main("A", "declined"),
                 Standing("P", "reserve", "grant_preparation", promoted=True),
                 Standing("W", "reserve", "withdrawn")]
    assert settled_reserve(standings, D("500"), signature_ended=True) == set()


def test_without_a_known_budget_only_the_closed_chain_settles():
    standings = [main("A", "grant_preparation"), waiting("R", "10")]
    assert settled_reserve(standings, None, signature_ended=False) == set()


def test_changes_settle_waiting_proposals_and_reopen_one_whose_chain_reopened():
    standings = [main("A", "declined"),
                 Standing("R", "reserve", "reserve_list", amount=D("10")),
                 Standing("S", "reserve", "reserve", amount=D("10"))]
    assert reserve_changes(standings, D("500"), signature_ended=False) == {"R": "reserve"}
    # a promotion that arrives late opens a file again: the others wait again
    reopened = standings + [Standing("P", "reserve", "grant_preparation", promoted=True)]
    assert reserve_changes(reopened, D("500"), signature_ended=False) == {"S": "reserve_list"}
