"""The clinic admin's set-up rules: a week of hours, money typed as text, prices in force, days off."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from web.domain.clinic_setup import (
    DayHours,
    HoursProblem,
    MoneyProblem,
    PercentProblem,
    PriceEntry,
    basis_points_as_text,
    cents_as_text,
    days_as_instants,
    form_values,
    instants_as_days,
    may_take_effect,
    parse_basis_points,
    parse_cents,
    parse_clock,
    prices_on,
    read_week,
    week_from_spans,
)


def week_form(**days: tuple[str, str] | None) -> dict[str, str]:
    """Monday..Sunday as mon=("09:00", "17:00") or mon=None (closed); unnamed days are closed."""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    form: dict[str, str] = {}
    for weekday, name in enumerate(names):
        hours = days.get(name)
        if hours is None:
            form[f"day-{weekday}-closed"] = "true"
        else:
            form[f"day-{weekday}-opens"], form[f"day-{weekday}-closes"] = hours
    return form


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("9", time(9)),
        ("09:00", time(9)),
        ("9:30", time(9, 30)),
        ("17h30", time(17, 30)),
        ("9 h 30", time(9, 30)),
        ("9 h", time(9)),
        ("5:30 pm", time(17, 30)),
        ("5 p.m.", time(17)),
        ("12 a.m.", time(0)),
        ("12pm", time(12)),
        ("24:00", None),
        ("9:60", None),
        ("13 pm", None),
        ("nine", None),
        ("9:5", None),
        ("9 m", None),
    ],
)
def test_times_are_read_as_people_type_them(typed: str, expected: time | None) -> None:
    assert parse_clock(typed) == expected


def test_a_week_becomes_one_span_per_open_day() -> None:
    answer = read_week(week_form(mon=("9", "17:30"), wed=("08:00", "12:00")))
    assert answer.ok
    assert answer.spans == [
        {"weekday": 0, "starts": "09:00", "ends": "17:30"},
        {"weekday": 2, "starts": "08:00", "ends": "12:00"},
    ]


def test_closed_wins_over_times_left_in_the_row() -> None:
    form = week_form(mon=("09:00", "17:00")) | {"day-1-opens": "09:00", "day-1-closes": "nonsense"}
    assert read_week(form).spans == [{"weekday": 0, "starts": "09:00", "ends": "17:00"}]


def test_each_problem_is_on_the_field_to_fix_with_its_day() -> None:
    form = week_form(mon=("", "17:00"), tue=("9", "noon"), wed=("17:00", "09:00"), thu=("9", ""))
    problems = read_week(form).problems
    assert problems == {
        "day-0-opens": (HoursProblem.OPENS_MISSING, 0),
        "day-1-closes": (HoursProblem.CLOSES_NOT_A_TIME, 1),
        "day-2-closes": (HoursProblem.CLOSES_BEFORE_OPENS, 2),
        "day-3-closes": (HoursProblem.CLOSES_MISSING, 3),
    }
    assert read_week(form).spans == []


def test_a_week_closed_every_day_cannot_be_saved() -> None:
    # No hours at all means "open around the clock" to scheduling: a closure says "closed" instead.
    answer = read_week(week_form())
    assert answer.problems == {"day-0-closed": (HoursProblem.ALL_CLOSED, None)}


def test_the_apis_spans_become_the_weeks_table_and_back() -> None:
    spans = [
        {"weekday": 0, "starts": "09:00", "ends": "12:00"},
        {"weekday": 0, "starts": "13:00", "ends": "17:00"},
        {"weekday": 4, "starts": "10:00:00", "ends": "16:00:00"},
    ]
    week = week_from_spans(spans)
    assert week is not None
    assert week[0] == DayHours(0, time(9), time(17), joined=True)
    assert week[1].closed
    assert week[4] == DayHours(4, time(10), time(16))
    values = form_values(week)
    assert values["day-0-opens"] == "09:00"
    assert values["day-1-closed"] == "true"
    assert read_week(values).spans[1] == {"weekday": 4, "starts": "10:00", "ends": "16:00"}
    assert week_from_spans([]) is None
    assert form_values(None) == {}


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("95", 9500),
        ("95.00", 9500),
        ("95.5", 9550),
        ("$95.00", 9500),
        ("95,00 $", 9500),
        ("1,200.50", 120050),
        ("1 200,50", 120050),
        ("1\u202f200,50 $", 120050),
        ("0", 0),
        (".99", 99),
        ("120 CAD", 12000),
        ("0.1", 10),
        ("1000000.00", 100_000_000),
    ],
)
def test_money_is_read_into_integer_cents(typed: str, cents: int) -> None:
    assert parse_cents(typed) == cents
    assert isinstance(parse_cents(typed), int)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", MoneyProblem.MISSING),
        ("  ", MoneyProblem.MISSING),
        ("ninety", MoneyProblem.NOT_MONEY),
        ("-5", MoneyProblem.NOT_MONEY),
        ("1e3", MoneyProblem.NOT_MONEY),
        ("1,2,3", MoneyProblem.NOT_MONEY),
        ("1.234,50", MoneyProblem.NOT_MONEY),
        ("95.001", MoneyProblem.TOO_PRECISE),
        ("1000000.01", MoneyProblem.TOO_LARGE),
        ("NaN", MoneyProblem.NOT_MONEY),
    ],
)
def test_money_that_is_not_money_says_why(typed: str, problem: MoneyProblem) -> None:
    assert parse_cents(typed) == problem


def test_cents_read_back_unchanged() -> None:
    for cents in (0, 1, 99, 9500, 120050):
        assert parse_cents(cents_as_text(cents)) == cents


def test_the_price_in_force_is_the_latest_not_after_today_and_later_ones_are_upcoming() -> None:
    entries = [
        PriceEntry(date(2026, 1, 1), 9000, "CAD"),
        PriceEntry(date(2027, 1, 1), 11000, "CAD"),
        PriceEntry(date(2026, 6, 1), 10000, "CAD"),
        PriceEntry(date(2026, 12, 25), 10500, "CAD"),
    ]
    prices = prices_on(entries, date(2026, 12, 2))
    assert prices.in_force == PriceEntry(date(2026, 6, 1), 10000, "CAD")
    assert [e.amount_cents for e in prices.upcoming] == [10500, 11000]
    on_the_day = prices_on(entries, date(2026, 12, 25))
    assert on_the_day.in_force is not None
    assert on_the_day.in_force.amount_cents == 10500
    assert not prices_on([], date(2026, 12, 2)).priced


def test_only_a_first_price_may_be_back_dated() -> None:
    today = date(2026, 12, 2)
    assert may_take_effect(date(2020, 1, 1), today, has_prices=False)
    assert not may_take_effect(date(2026, 12, 1), today, has_prices=True)
    assert may_take_effect(today, today, has_prices=True)


# --- time off as whole days ---------------------------------------------------------------------------


def test_days_off_run_from_the_first_midnight_to_the_midnight_after_the_last_in_the_clinics_zone() -> None:
    starts, ends = days_as_instants(date(2027, 3, 13), date(2027, 3, 14), "America/Vancouver")
    assert starts.astimezone(UTC) == datetime(2027, 3, 13, 8, tzinfo=UTC)  # PST
    assert ends.astimezone(UTC) == datetime(2027, 3, 15, 7, tzinfo=UTC)  # PDT: the 14th has 23 hours
    assert instants_as_days(starts, ends, "America/Vancouver") == (date(2027, 3, 13), date(2027, 3, 14))


def test_time_off_shows_every_day_it_touches() -> None:
    afternoon = datetime(2027, 1, 5, 22, tzinfo=UTC)  # 14:00 in Vancouver
    assert instants_as_days(afternoon, datetime(2027, 1, 6, 1, tzinfo=UTC), "America/Vancouver") == (
        date(2027, 1, 5),
        date(2027, 1, 5),
    )
    one_day = days_as_instants(date(2027, 1, 5), date(2027, 1, 5), "America/Toronto")
    assert instants_as_days(*one_day, "America/Toronto") == (date(2027, 1, 5), date(2027, 1, 5))


# --- percentages as basis points ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("5", 500),
        ("5.5", 550),
        ("5,5", 550),
        (" 13 % ", 1300),
        ("0", 0),
        ("0.01", 1),
        ("100", 10_000),
        ("", PercentProblem.MISSING),
        ("five", PercentProblem.NOT_A_PERCENT),
        ("-5", PercentProblem.NOT_A_PERCENT),
        ("14.975", PercentProblem.TOO_PRECISE),
        ("100.01", PercentProblem.TOO_LARGE),
    ],
)
def test_a_percentage_is_read_as_basis_points_with_decimal(
    typed: str, expected: int | PercentProblem
) -> None:
    assert parse_basis_points(typed) == expected


@pytest.mark.parametrize("basis_points", [0, 1, 500, 550, 1225, 10_000])
def test_basis_points_are_shown_as_the_percentage_that_reads_back(basis_points: int) -> None:
    shown = basis_points_as_text(basis_points)
    assert parse_basis_points(shown) == basis_points
    assert "e" not in shown.lower()
