"""Plan series rules, pure domain: local times that are skipped or repeated, and cutting a series."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.domain.errors import RuleViolation
from scheduling.domain.model import Appointment, AppointmentKind, AppointmentStatus
from scheduling.domain.plans import Occurrence, cut_series, series

VANCOUVER = ZoneInfo("America/Vancouver")
NOW = datetime(2027, 1, 4, tzinfo=UTC)


def session(
    index: int | None, starts_at: datetime, status: AppointmentStatus = AppointmentStatus.BOOKED
) -> Appointment:
    return Appointment(
        id=uuid.uuid4(),
        clinic_id=uuid.uuid4(),
        practitioner_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        treatment_type_id=uuid.uuid4(),
        kind=AppointmentKind.TREATMENT,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        occupied_until=starts_at + timedelta(minutes=30),
        late_cancel_window=timedelta(hours=24),
        booked_at=NOW,
        status=status,
        plan_index=index,
    )


def weekly(count: int) -> list[Appointment]:
    return [session(n, NOW + timedelta(weeks=n + 1)) for n in range(count)]


def test_a_skipped_local_time_is_reported_and_aimed_at_as_the_clock_reads_it_after_the_change() -> None:
    [skipped] = series(date(2027, 3, 14), 6, 1, 1, time(2, 30), VANCOUVER)
    assert skipped.starts_at is None
    assert skipped.near == datetime(2027, 3, 14, 3, 30, tzinfo=VANCOUVER)
    assert not skipped.repeated


def test_a_repeated_local_time_is_flagged_and_either_occurrence_taken() -> None:
    before, repeated = series(date(2027, 10, 31), 6, 1, 2, time(1, 30), VANCOUVER)
    assert (before.repeated, repeated.repeated) == (False, True)
    assert repeated.starts_at == datetime(2027, 11, 7, 8, 30, tzinfo=UTC)
    [second] = series(date(2027, 11, 7), 6, 1, 1, time(1, 30), VANCOUVER, occurrence=Occurrence.SECOND)
    assert second.starts_at == datetime(2027, 11, 7, 9, 30, tzinfo=UTC)
    assert second.repeated


def test_cutting_follows_the_series_order_not_the_start_times() -> None:
    sessions = weekly(4)
    sessions[3].starts_at = sessions[1].starts_at + timedelta(days=1)  # moved before session 3
    cut = cut_series(sessions, sessions[2], 4, NOW)
    assert cut.cancelled == [sessions[2], sessions[3]]
    assert cut.keeps == 2


def test_cutting_at_the_first_session_or_after_only_cancelled_ones_keeps_nothing() -> None:
    sessions = weekly(3)
    assert cut_series(sessions, sessions[0], 3, NOW).keeps == 0
    sessions[0].status = AppointmentStatus.CANCELLED
    cut = cut_series(sessions, sessions[1], 3, NOW)
    assert (cut.cancelled, cut.keeps) == ([sessions[1], sessions[2]], 0)


def test_a_session_that_has_started_cannot_be_cut_off() -> None:
    sessions = weekly(3)
    with pytest.raises(RuleViolation, match="session 2 has already started"):
        cut_series(sessions, sessions[1], 3, sessions[1].starts_at)
    sessions[2].status = AppointmentStatus.FULFILLED
    with pytest.raises(RuleViolation, match="session 3"):
        cut_series(sessions, sessions[0], 3, NOW)


def test_a_session_already_cut_off_cannot_be_cut_from_again() -> None:
    sessions = weekly(4)
    for cut_off in sessions[2:]:
        cut_off.status = AppointmentStatus.CANCELLED
    with pytest.raises(RuleViolation, match="already cut off"):
        cut_series(sessions, sessions[3], 2, NOW)


def test_sessions_without_a_recorded_place_are_placed_by_start_time() -> None:
    sessions = [session(None, NOW + timedelta(weeks=n + 1)) for n in range(3)]
    assert cut_series(sessions, sessions[1], 3, NOW).keeps == 1
