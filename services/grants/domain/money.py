"""Money rules of a grant: the maximum EU grant and the pre-financing amount.

Amounts are :class:`decimal.Decimal` in the call's currency; floats are refused because a
binary float cannot hold most cent amounts exactly.
"""
from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def as_money(value: Decimal | int) -> Decimal:
    """``value`` as a Decimal; ints are exact, floats and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"money must be Decimal or int, not {type(value).__name__}")
    return Decimal(value)


def maximum_grant(requested: Decimal, total_eligible_costs: Decimal,
                  cofinancing_cap: Decimal) -> Decimal:
    """min(requested grant, cap x total eligible costs), rounded down to the cent.

    Rounded down, not to nearest: rounding up could put the grant one cent above the
    co-financing cap, which the call forbids.
    """
    requested = as_money(requested)
    costs = as_money(total_eligible_costs)
    cap = as_money(cofinancing_cap)
    if requested <= 0 or costs <= 0:
        raise ValueError(f"requested grant ({requested}) and total eligible costs ({costs}) "
                         "must be positive")
    if not 0 < cap <= 1:
        raise ValueError(f"co-financing cap must be in (0, 1], got {cap}")
    return min(requested, cap * costs).quantize(CENT, rounding=ROUND_DOWN)


def prefinancing_amount(grant_amount: Decimal, rate: Decimal) -> Decimal:
    """rate x grant amount, rounded half up to the cent (ordinary commercial rounding;
    the amount is a payment order, not a ceiling)."""
    rate = as_money(rate)
    if not 0 <= rate <= 1:
        raise ValueError(f"pre-financing rate must be in [0, 1], got {rate}")
    return (as_money(grant_amount) * rate).quantize(CENT, rounding=ROUND_HALF_UP)
