"""My appointments' rules: the terms of cancelling, upcoming and past, plan progress, waitlist dates and
offers. Plain Python, no Flask."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from web.domain.cancellation import Fee, FeeQuote, Outcome, cancellation_terms, terms_for
from web.domain.visits import (
    ClinicName,
    Names,
    Visit,
    plan_progress,
    session_number,
    split_upcoming_and_past,
    without_released_offers,
)
from web.domain.waitlist import (
    DateProblem,
    OfferState,
    Window,
    earlier_window,
    offer_state,
    read_date,
)

NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)  # 9:00 a.m. in Vancouver
FREE_UNTIL = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)
FORTY = FeeQuote(charged=True, total_cents=4000, currency="CAD")
NAMES = Names(
    clinics={"c": ClinicName("Vancouver IMS", "America/Vancouver", "+16045550100")},
    practitioners={"p": "Ida Needham"},
    treatments={"t": "IMS assessment"},
)


def appointment(starts_at: datetime, status: str = "booked", **extra: Any) -> Visit:
    body = {
        "id": extra.pop("id", f"a-{starts_at.isoformat()}"),
        "clinic_id": "c",
        "practitioner_id": "p",
        "treatment_type_id": "t",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=1)).isoformat(),
        "status": status,
        "free_cancellation_until": (starts_at - timedelta(hours=24)).isoformat(),
    } | extra
    return Visit.from_api(body, NAMES)


# --- cancelling -----------------------------------------------------------------------------------------


def test_before_the_end_of_free_cancellation_cancelling_is_free_and_the_later_fee_is_known() -> None:
    terms = cancellation_terms(FREE_UNTIL, NOW, FORTY)
    assert terms.outcome is Outcome.FREE
    assert not terms.charges_fee
    assert (terms.fee, terms.fee_cents, terms.currency) == (Fee.AMOUNT, 4000, "CAD")


def test_at_the_very_end_of_free_cancellation_it_is_still_free_and_a_moment_later_it_is_late() -> None:
    assert cancellation_terms(FREE_UNTIL, FREE_UNTIL, FORTY).outcome is Outcome.FREE
    late = cancellation_terms(FREE_UNTIL, FREE_UNTIL + timedelta(seconds=1), FORTY)
    assert late.outcome is Outcome.FEE
    assert late.charges_fee


@pytest.mark.parametrize(
    ("quote", "outcome"),
    [
        (FeeQuote(charged=False, total_cents=None, currency=None), Outcome.NO_FEE),
        (FeeQuote(charged=True, total_cents=0, currency="CAD"), Outcome.NO_FEE),
        (FeeQuote(charged=True, total_cents=None, currency="CAD"), Outcome.FEE_UNKNOWN),
        (None, Outcome.FEE_UNKNOWN),
    ],
)
def test_a_late_cancellation_without_a_known_fee_says_so(quote: FeeQuote | None, outcome: Outcome) -> None:
    assert cancellation_terms(FREE_UNTIL, NOW + timedelta(hours=1), quote).outcome is outcome


def test_billing_s_quote_is_read_from_its_json() -> None:
    quote = FeeQuote.from_api({"charged": True, "total_cents": 4200, "currency": "CAD", "amount_cents": 4000})
    assert quote == FeeQuote(charged=True, total_cents=4200, currency="CAD")


def test_a_patient_told_free_is_asked_again_once_free_cancellation_has_ended() -> None:
    shown = cancellation_terms(FREE_UNTIL, NOW, FORTY)
    now_late = cancellation_terms(FREE_UNTIL, FREE_UNTIL + timedelta(minutes=1), FORTY)
    assert now_late.changed_since(shown.seen)
    assert not now_late.changed_since(now_late.seen)
    assert not shown.changed_since(shown.seen)
    dearer = cancellation_terms(FREE_UNTIL, FREE_UNTIL + timedelta(minutes=1), FeeQuote(True, 5000, "CAD"))
    assert dearer.changed_since(now_late.seen)
    no_fee = terms_for(FREE_UNTIL, late=True, quote=FeeQuote(False, None, None))
    assert not no_fee.changed_since("free")  # nothing to pay: no need to ask again


# --- the list -------------------------------------------------------------------------------------------


def test_upcoming_soonest_first_and_past_or_cancelled_most_recent_first() -> None:
    tomorrow = appointment(NOW + timedelta(days=1))
    next_week = appointment(NOW + timedelta(days=7))
    under_way = appointment(NOW - timedelta(minutes=30), status="arrived")
    last_week = appointment(NOW - timedelta(days=7), status="fulfilled")
    yesterday = appointment(NOW - timedelta(days=1), status="noshow")
    called_off = appointment(NOW + timedelta(days=3), status="cancelled")
    hold = appointment(NOW + timedelta(days=2), status="proposed")

    upcoming, past = split_upcoming_and_past(
        [next_week, last_week, tomorrow, called_off, yesterday, under_way, hold], NOW
    )

    assert upcoming == [under_way, tomorrow, next_week]
    assert past == [called_off, yesterday, last_week]


def test_released_holds_of_offers_are_left_out_but_a_taken_one_is_the_patient_s() -> None:
    released = appointment(NOW + timedelta(days=1), status="cancelled", id="offer-1")
    taken = appointment(NOW + timedelta(days=2), status="booked", id="offer-2")
    own = appointment(NOW + timedelta(days=3), status="cancelled", id="mine")
    assert without_released_offers([released, taken, own], ["offer-1", "offer-2"]) == [taken, own]


@pytest.mark.parametrize(
    ("status", "late", "waived", "key"),
    [
        ("booked", False, False, "booked"),
        ("fulfilled", False, False, "attended"),
        ("noshow", False, False, "missed"),
        ("cancelled", False, False, "cancelled"),
        ("cancelled", True, False, "cancelled_late"),
        ("cancelled", True, True, "cancelled_fee_waived"),
    ],
)
def test_each_status_has_its_word(status: str, late: bool, waived: bool, key: str) -> None:
    visit = appointment(NOW, status=status, late_cancellation=late, fee_waived=waived)
    assert visit.status_key == key


def test_an_appointment_can_be_cancelled_or_moved_only_while_booked_and_not_started() -> None:
    soon = appointment(NOW + timedelta(minutes=5))
    assert soon.can_cancel(NOW)
    assert soon.can_move(NOW)
    assert not soon.can_cancel(soon.starts_at)
    assert not appointment(NOW + timedelta(days=1), status="cancelled").can_cancel(NOW)


def test_an_appointment_names_its_day_on_the_clinic_s_clock() -> None:
    late_evening = appointment(datetime(2026, 12, 9, 6, 30, tzinfo=UTC))  # 10:30 p.m. on the 8th there
    assert late_evening.local_starts_at.date() == date(2026, 12, 8)
    assert (late_evening.clinic, late_evening.practitioner, late_evening.treatment) == (
        "Vancouver IMS",
        "Ida Needham",
        "IMS assessment",
    )


def test_plan_progress_counts_attended_sessions_out_of_those_still_counting() -> None:
    sessions = [
        appointment(NOW - timedelta(weeks=3), status="fulfilled", id="s1"),
        appointment(NOW - timedelta(weeks=2), status="fulfilled", id="s2"),
        appointment(NOW - timedelta(weeks=1), status="cancelled", id="s3"),
        appointment(NOW + timedelta(days=2), id="s4"),
        appointment(NOW + timedelta(weeks=1, days=2), id="s5"),
        appointment(NOW + timedelta(weeks=2, days=2), id="s6"),
    ]
    progress = plan_progress(
        {"id": "plan", "status": "active"}, sessions, NOW, treatment="IMS", practitioner="Ida"
    )
    assert (progress.done, progress.total, progress.cancelled, progress.remaining) == (2, 5, 1, 3)
    assert progress.next_session == sessions[3]
    assert session_number(sessions, "s4") == 4


# --- the waitlist ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected", "problem", "wrong"),
    [
        (("", "", ""), None, None, ()),
        (("8", "12", "2026"), date(2026, 12, 8), None, ()),
        (("8", "", "2026"), None, DateProblem.INCOMPLETE, ("month",)),
        (("8", "13", "2026"), None, DateProblem.NOT_A_DATE, ("month",)),
        (("31", "11", "2026"), None, DateProblem.NOT_A_DATE, ("day",)),
        (("8", "12", "26"), None, DateProblem.NOT_A_DATE, ("year",)),
        (("eight", "12", "2026"), None, DateProblem.NOT_A_DATE, ("day",)),
    ],
)
def test_a_date_is_read_from_three_boxes_and_only_the_wrong_parts_are_flagged(
    typed: tuple[str, str, str], expected: date | None, problem: DateProblem | None, wrong: tuple[str, ...]
) -> None:
    answer = read_date(*typed)
    assert (answer.value, answer.problem, answer.wrong_parts) == (expected, problem, wrong)


def test_an_earlier_time_is_any_start_from_the_chosen_day_until_just_before_the_appointment() -> None:
    starts_at = datetime(2026, 12, 12, 18, 0, tzinfo=UTC)
    window = earlier_window(starts_at, date(2026, 12, 9), "America/Vancouver", NOW)
    assert window == Window(
        not_before=datetime(2026, 12, 9, 8, 0, tzinfo=UTC),  # midnight in Vancouver
        not_after=starts_at - timedelta(minutes=1),
    )
    assert earlier_window(starts_at, None, "America/Vancouver", NOW) == Window(NOW, window.not_after)
    today = earlier_window(starts_at, date(2026, 12, 7), "America/Vancouver", NOW)
    assert isinstance(today, Window)
    assert today.not_before == NOW


def test_an_earliest_day_in_the_past_or_not_before_the_appointment_is_refused() -> None:
    starts_at = datetime(2026, 12, 12, 18, 0, tzinfo=UTC)
    zone = "America/Vancouver"
    assert earlier_window(starts_at, date(2026, 12, 6), zone, NOW) is DateProblem.PAST
    assert earlier_window(starts_at, date(2026, 12, 13), zone, NOW) is DateProblem.NOT_BEFORE_APPOINTMENT
    assert earlier_window(NOW, None, zone, NOW) is DateProblem.NOT_BEFORE_APPOINTMENT


@pytest.mark.parametrize(
    ("status", "expires_in", "state"),
    [
        ("offered", timedelta(minutes=10), OfferState.OPEN),
        ("offered", timedelta(0), OfferState.LAPSED),  # the sweep has not marked it yet
        ("expired", timedelta(minutes=-5), OfferState.LAPSED),
        ("booked", timedelta(minutes=10), OfferState.TAKEN),
        ("withdrawn", timedelta(minutes=10), OfferState.WITHDRAWN),
    ],
)
def test_an_offer_is_open_until_it_expires(status: str, expires_in: timedelta, state: OfferState) -> None:
    assert offer_state(status, NOW + expires_in, NOW) is state
