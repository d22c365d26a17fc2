"""Money: whole minor units of one currency, arithmetic that refuses to mix currencies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.errors import CurrencyMismatch, InvalidMoney
from billing.domain.money import Money

CAD = "CAD"


def test_adds_and_subtracts_in_one_currency() -> None:
    assert Money(12000, CAD) + Money(550, CAD) == Money(12550, CAD)
    assert Money(12000, CAD) - Money(12550, CAD) == Money(-550, CAD)
    assert -Money(100, CAD) == Money(-100, CAD)


def test_multiplies_by_whole_numbers_only() -> None:
    assert Money(9000, CAD) * 3 == Money(27000, CAD)
    assert 2 * Money(9000, CAD) == Money(18000, CAD)
    with pytest.raises(TypeError):
        Money(9000, CAD) * 1.5  # type: ignore[operator]


@pytest.mark.parametrize("cents", [12.0, "12000", True, None])
def test_rejects_amounts_that_are_not_integers(cents: object) -> None:
    with pytest.raises(InvalidMoney) as raised:
        Money(cents, CAD)  # type: ignore[arg-type]
    assert raised.value.field == "amount_cents"


@pytest.mark.parametrize("currency", ["cad", "CA", "CADD", "", None])
def test_rejects_currencies_that_are_not_iso_codes(currency: object) -> None:
    with pytest.raises(InvalidMoney) as raised:
        Money(100, currency)  # type: ignore[arg-type]
    assert raised.value.field == "currency"


def test_refuses_to_mix_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        Money(100, CAD) + Money(100, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(100, CAD) - Money(100, "USD")
    with pytest.raises(CurrencyMismatch):
        assert Money(100, CAD) < Money(200, "USD")


def test_amounts_in_different_currencies_are_simply_unequal() -> None:
    assert Money(100, CAD) != Money(100, "USD")


def test_compares_amounts_of_one_currency() -> None:
    assert Money(100, CAD) < Money(101, CAD) <= Money(101, CAD)
    assert Money(102, CAD) > Money(101, CAD) >= Money(101, CAD)


def test_formats_with_the_currencys_minor_unit() -> None:
    assert str(Money(12050, CAD)) == "120.50 CAD"
    assert str(Money(-5, CAD)) == "-0.05 CAD"
    assert str(Money(1500, "JPY")) == "1500 JPY"
    assert str(Money(1500, "KWD")) == "1.500 KWD"


def test_allocation_gives_leftover_cents_to_the_first_non_zero_parts() -> None:
    assert Money(100, CAD).allocate([1, 1, 1]) == [Money(34, CAD), Money(33, CAD), Money(33, CAD)]
    assert Money(3, CAD).allocate([0, 1, 1]) == [Money(0, CAD), Money(2, CAD), Money(1, CAD)]


@given(
    cents=st.integers(min_value=-(10**12), max_value=10**12),
    ratios=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=6).filter(
        lambda r: sum(r)
    ),
)
def test_allocation_never_loses_or_invents_a_cent(cents: int, ratios: list[int]) -> None:
    parts = Money(cents, CAD).allocate(ratios)
    assert sum(part.cents for part in parts) == cents
    assert all(part.is_zero for part, ratio in zip(parts, ratios, strict=True) if ratio == 0)


@given(
    a=st.integers(min_value=-(10**12), max_value=10**12), b=st.integers(min_value=-(10**12), max_value=10**12)
)
def test_addition_is_exact_integer_arithmetic(a: int, b: int) -> None:
    assert (Money(a, CAD) + Money(b, CAD)).cents == a + b
    assert Money(a, CAD) + Money(b, CAD) - Money(b, CAD) == Money(a, CAD)
