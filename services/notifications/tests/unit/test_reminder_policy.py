"""Reminder times: hours before the appointment per channel, SMS moved earlier out of quiet hours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications.domain.channels import Channel
from notifications.domain.errors import InvalidPolicy
from notifications.domain.reminders import QuietHours, ReminderPolicy

VANCOUVER = ZoneInfo("America/Vancouver")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VANCOUVER).astimezone(UTC)


def test_default_policy_reminds_by_email_48_hours_and_by_sms_24_hours_before() -> None:
    starts_at = local(2025, 3, 12, 14)
    due = ReminderPolicy.default(uuid.uuid4()).schedule(starts_at, VANCOUVER, NOW)
    assert due == {
        Channel.EMAIL: starts_at - timedelta(hours=48),
        Channel.SMS: starts_at - timedelta(hours=24),
    }


def test_an_sms_due_in_the_quiet_hours_is_sent_before_they_begin_the_evening_before() -> None:
    starts_at = local(2025, 3, 12, 8, 30)  # 24 h before is 08:30, inside 21:30-09:00
    due = ReminderPolicy.default(uuid.uuid4()).schedule(starts_at, VANCOUVER, NOW)
    assert due[Channel.SMS] == local(2025, 3, 10, 21, 25)
    assert due[Channel.SMS] < starts_at - timedelta(hours=24)


def test_an_sms_due_late_in_the_evening_moves_earlier_the_same_evening() -> None:
    starts_at = local(2025, 3, 12, 22, 0)
    due = ReminderPolicy.default(uuid.uuid4()).schedule(starts_at, VANCOUVER, NOW)
    assert due[Channel.SMS] == local(2025, 3, 11, 21, 25)


def test_quiet_hours_are_read_in_the_clinic_zone_across_a_dst_change() -> None:
    # Vancouver springs forward on 2025-03-09: 08:30 PDT is 15:30 UTC, 08:30 PST would be 16:30 UTC.
    starts_at = local(2025, 3, 10, 8, 30)
    due = ReminderPolicy.default(uuid.uuid4()).schedule(starts_at, VANCOUVER, NOW)
    assert due[Channel.SMS] == local(2025, 3, 8, 21, 25)
    assert due[Channel.SMS].astimezone(VANCOUVER).hour == 21


def test_email_reminders_ignore_sms_quiet_hours() -> None:
    starts_at = local(2025, 3, 12, 8, 30)
    due = ReminderPolicy.default(uuid.uuid4()).schedule(starts_at, VANCOUVER, NOW)
    assert due[Channel.EMAIL] == starts_at - timedelta(hours=48)


def test_a_reminder_whose_time_has_passed_is_not_scheduled() -> None:
    starts_at = NOW + timedelta(hours=30)
    due = ReminderPolicy.default(uuid.uuid4()).schedule(starts_at, VANCOUVER, NOW)
    assert set(due) == {Channel.SMS}


def test_a_channel_without_hours_gets_no_reminder_and_no_quiet_hours_means_none() -> None:
    policy = ReminderPolicy(uuid.uuid4(), email_hours_before=None, sms_hours_before=2, quiet_hours=None)
    starts_at = local(2025, 3, 12, 8, 0)
    assert policy.schedule(starts_at, VANCOUVER, NOW) == {Channel.SMS: starts_at - timedelta(hours=2)}


def test_daytime_quiet_hours_that_do_not_span_midnight() -> None:
    quiet = QuietHours(time(12, 0), time(13, 0))
    assert quiet.latest_allowed(local(2025, 3, 5, 12, 30), VANCOUVER) == local(2025, 3, 5, 11, 55)
    assert quiet.latest_allowed(local(2025, 3, 5, 13, 0), VANCOUVER) == local(2025, 3, 5, 13, 0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email_hours_before": 0}, "email_hours_before"),
        ({"sms_hours_before": 24 * 15}, "sms_hours_before"),
    ],
)
def test_rejects_reminders_outside_one_hour_to_two_weeks(changes: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidPolicy) as error:
        ReminderPolicy(uuid.uuid4(), **changes)  # type: ignore[arg-type]
    assert error.value.field == field


def test_rejects_empty_quiet_hours() -> None:
    with pytest.raises(InvalidPolicy):
        QuietHours(time(9, 0), time(9, 0))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2025, 3, 5, 20, 0), local(2025, 3, 5, 20, 0)),  # outside: at once
        (local(2025, 3, 5, 22, 0), local(2025, 3, 6, 9, 0)),  # evening: next morning
        (local(2025, 3, 6, 7, 45), local(2025, 3, 6, 9, 0)),  # early morning: the same morning
    ],
)
def test_what_cannot_go_earlier_waits_for_the_end_of_the_quiet_hours(
    at: datetime, expected: datetime
) -> None:
    assert QuietHours(time(21, 30), time(9, 0)).earliest_allowed(at, VANCOUVER) == expected


def test_daytime_quiet_hours_end_the_same_day() -> None:
    quiet = QuietHours(time(12, 0), time(13, 0))
    assert quiet.earliest_allowed(local(2025, 3, 5, 12, 30), VANCOUVER) == local(2025, 3, 5, 13, 0)
