from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.grants.domain.money import maximum_grant, prefinancing_amount

CAP = Decimal("0.90")


def test_requested_exactly_at_the_cap_is_granted_in_full():
    assert maximum_grant(Decimal("900000.00"), Decimal("1000000.00"), CAP) == Decimal("900000.00")


def test_requested_above_the_cap_is_cut_to_the_cap():
    assert maximum_grant(Decimal("900000.01"), Decimal("1000000.00"), CAP) == Decimal("900000.00")


def test_requested_below_the_cap_is_granted_as_requested():
    assert maximum_grant(Decimal("750000.00"), Decimal("1000000.00"), CAP) == Decimal("750000.00")


def test_cap_is_rounded_down_to_the_cent_never_up():
    # 0.9 x 555,555.55 = 499,999.995: rounding to nearest would exceed the cap by half a cent
    assert maximum_grant(Decimal("600000"), Decimal("555555.55"), CAP) == Decimal("499999.99")


def test_result_is_quantised_to_cents():
    assert maximum_grant(Decimal("500000"), Decimal("1000000"), CAP).as_tuple().exponent == -2


@pytest.mark.parametrize("bad", [900000.0, "900000"])
def test_floats_and_strings_are_refused(bad):
    with pytest.raises(TypeError):
        maximum_grant(bad, Decimal("1000000"), CAP)


@pytest.mark.parametrize("requested,costs,cap", [
    (Decimal(0), Decimal(1000), CAP), (Decimal(10), Decimal(0), CAP),
    (Decimal(10), Decimal(100), Decimal("1.2")), (Decimal(10), Decimal(100), Decimal(0))])
def test_nonsense_amounts_are_refused(requested, costs, cap):
    with pytest.raises(ValueError):
        maximum_grant(requested, costs, cap)


@given(requested=st.decimals(min_value=1, max_value=10_000_000, places=2),
       costs=st.decimals(min_value=1, max_value=20_000_000, places=2),
       cap=st.decimals(min_value=Decimal("0.01"), max_value=1, places=2))
def test_maximum_grant_never_exceeds_either_limit_and_loses_less_than_a_cent(
        requested, costs, cap):
    grant = maximum_grant(requested, costs, cap)
    assert grant <= requested and grant <= cap * costs
    assert min(requested, cap * costs) - grant < Decimal("0.01")


def test_prefinancing_is_rate_times_grant_rounded_half_up():
    assert prefinancing_amount(Decimal("899999.99"), Decimal("0.40")) == Decimal("360000.00")
    assert prefinancing_amount(Decimal("123456.78"), Decimal("0.35")) == Decimal("43209.87")
    assert prefinancing_amount(Decimal("0.05"), Decimal("0.5")) == Decimal("0.03")


def test_prefinancing_rate_above_one_is_refused():
    with pytest.raises(ValueError):
        prefinancing_amount(Decimal("100"), Decimal("1.5"))
