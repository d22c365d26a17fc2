"""Price lookup by effective date, and the rules that keep price history from being rewritten."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.errors import CurrencyMismatch, RuleViolation
from billing.domain.model import PriceList, PriceListEntry, local_date, price_on, zone_or_utc
from billing.domain.money import Money

NOW = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)
TODAY = date(2025, 3, 3)


def entry(effective_from: date, cents: int, currency: str = "CAD") -> PriceListEntry:
    return PriceListEntry(
        id=uuid.uuid4(),
        clinic_id=uuid.UUID(int=1),
        treatment_type_id=uuid.UUID(int=2),
        effective_from=effective_from,
        price=Money(cents, currency),
        created_at=NOW,
        updated_at=NOW,
    )


def price_list(*entries: PriceListEntry) -> PriceList:
    return PriceList(uuid.UUID(int=1), uuid.UUID(int=2), list(entries))


def set_price(
    prices: PriceList, cents: int, effective_from: date, *, currency: str = "CAD", now: datetime = NOW
) -> tuple[PriceListEntry, bool]:
    return prices.set(
        entry_id=uuid.uuid4(),
        price=Money(cents, currency),
        effective_from=effective_from,
        today=TODAY,
        now=now,
    )


def cents_on(prices: PriceList, day: date) -> int | None:
    found = prices.price_on(day)
    return found.price.cents if found is not None else None


def test_a_price_applies_from_its_effective_date_not_the_day_before() -> None:
    prices = price_list(entry(date(2025, 1, 1), 9000), entry(date(2025, 4, 1), 9500))
    assert cents_on(prices, date(2024, 12, 31)) is None
    assert cents_on(prices, date(2025, 1, 1)) == 9000
    assert cents_on(prices, date(2025, 3, 31)) == 9000
    assert cents_on(prices, date(2025, 4, 1)) == 9500
    assert cents_on(prices, date(2030, 1, 1)) == 9500


def test_lookup_does_not_depend_on_the_order_entries_were_added() -> None:
    prices = price_list(entry(date(2025, 4, 1), 9500), entry(date(2025, 1, 1), 9000))
    assert cents_on(prices, date(2025, 2, 1)) == 9000


@given(
    effective_dates=st.sets(st.dates(date(2000, 1, 1), date(2040, 12, 31)), max_size=12),
    day=st.dates(date(1999, 1, 1), date(2041, 12, 31)),
)
def test_lookup_never_returns_a_future_price_and_always_the_latest_in_force(
    effective_dates: set[date], day: date
) -> None:
    entries = [entry(d, i) for i, d in enumerate(sorted(effective_dates))]
    found = price_on(entries, day)
    in_force = [d for d in effective_dates if d <= day]
    if not in_force:
        assert found is None
    else:
        assert found is not None
        assert found.effective_from <= day
        assert found.effective_from == max(in_force)


def test_setting_the_same_date_again_replaces_that_entry() -> None:
    prices = price_list()
    first, created = set_price(prices, 9000, date(2025, 4, 1))
    assert created
    later = NOW + timedelta(hours=1)
    again, created = set_price(prices, 9900, date(2025, 4, 1), now=later)
    assert not created
    assert again is first
    assert again.price == Money(9900, "CAD")
    assert again.updated_at == later
    assert len(prices.entries) == 1


def test_the_first_price_may_be_back_dated() -> None:
    prices = price_list()
    _, created = set_price(prices, 9000, date(2020, 1, 1))
    assert created


@pytest.mark.parametrize("effective_from", [date(2025, 3, 2), date(2025, 1, 1)])
def test_a_change_to_an_existing_price_list_cannot_be_back_dated(effective_from: date) -> None:
    prices = price_list(entry(date(2025, 1, 1), 9000))
    with pytest.raises(RuleViolation) as raised:
        set_price(prices, 9500, effective_from)
    assert raised.value.field == "effective_from"
    assert prices.entries[0].price == Money(9000, "CAD")


def test_a_change_may_take_effect_today() -> None:
    prices = price_list(entry(date(2025, 1, 1), 9000))
    set_price(prices, 9500, TODAY)
    assert cents_on(prices, TODAY) == 9500
    assert cents_on(prices, TODAY - timedelta(days=1)) == 9000


def test_a_price_list_keeps_one_currency() -> None:
    prices = price_list(entry(date(2025, 1, 1), 9000))
    with pytest.raises(CurrencyMismatch):
        set_price(prices, 9000, date(2025, 6, 1), currency="USD")


def test_service_date_is_the_clinics_local_date() -> None:
    # 05:30 UTC on 1 April is still 31 March (22:30) in Vancouver and already 1 April in Halifax.
    instant = datetime(2025, 4, 1, 5, 30, tzinfo=UTC)
    assert local_date(instant, ZoneInfo("America/Vancouver")) == date(2025, 3, 31)
    assert local_date(instant, ZoneInfo("America/Halifax")) == date(2025, 4, 1)
    assert local_date(instant, UTC) == date(2025, 4, 1)


def test_unknown_zones_fall_back_to_utc() -> None:
    assert zone_or_utc(None) is UTC
    assert zone_or_utc("Mars/Olympus_Mons") is UTC
    assert zone_or_utc("America/Vancouver") == ZoneInfo("America/Vancouver")


def test_local_date_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2025, 4, 1, 5, 30), UTC)
