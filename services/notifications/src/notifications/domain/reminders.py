"""When reminders go out: a clinic's reminder policy, and quiet hours that move an SMS earlier, never later.

A reminder is due a fixed number of hours before the appointment (by default an e-mail 48 h and an SMS
24 h before). An SMS that would land in the clinic's quiet hours (by default 21:30-09:00 local time) is sent
shortly before the quiet hours begin instead: a reminder that arrives early is useful, one that arrives after
the appointment is not. A reminder whose time has already passed when the appointment is booked is not
scheduled: the booking confirmation, sent at once, serves the purpose.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifications.domain.channels import Channel
from notifications.domain.errors import InvalidPolicy
from notifications.domain.instants import require_utc

DEFAULT_EMAIL_HOURS = 48
DEFAULT_SMS_HOURS = 24
DEFAULT_QUIET_START = time(21, 30)
DEFAULT_QUIET_END = time(9, 0)
MAX_HOURS_BEFORE = 14 * 24
# A reminder moved out of the quiet hours is due this long before they begin (dispatch takes a moment).
BEFORE_QUIET_HOURS = timedelta(minutes=5)


@dataclass(frozen=True)
class QuietHours:
    """A daily window [start, end) in local time during which no SMS is sent; it may span midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise InvalidPolicy("quiet hours must start and end at different times", field="quiet_hours_end")

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def latest_allowed(self, at: datetime, zone: ZoneInfo) -> datetime:
        """``at`` itself when outside the quiet hours, else a moment just before the window it falls in."""
        local = at.astimezone(zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return at
        day = local.date()
        if self.start > self.end and local.time() < self.end:
            day -= timedelta(days=1)
        window_start = datetime.combine(day, self.start, tzinfo=zone)
        return require_utc(window_start, "window_start") - BEFORE_QUIET_HOURS

    def earliest_allowed(self, at: datetime, zone: ZoneInfo) -> datetime:
        """``at`` itself when outside the quiet hours, else the end of the window it falls in.

        For what cannot go earlier any more (a fallback for a message that just failed).
        """
        local = at.astimezone(zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return at
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)
        return require_utc(datetime.combine(day, self.end, tzinfo=zone), "window_end")


@dataclass(frozen=True)
class ReminderPolicy:
    """A clinic's reminders: hours before the appointment per channel (None: no reminder on that channel),
    whether an appointment the patient confirmed still gets reminders, and the SMS quiet hours (None: none).
    """

    clinic_id: uuid.UUID
    email_hours_before: int | None = DEFAULT_EMAIL_HOURS
    sms_hours_before: int | None = DEFAULT_SMS_HOURS
    skip_when_confirmed: bool = True
    quiet_hours: QuietHours | None = QuietHours(DEFAULT_QUIET_START, DEFAULT_QUIET_END)
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("email_hours_before", "sms_hours_before"):
            hours = getattr(self, name)
            if hours is not None and not 1 <= hours <= MAX_HOURS_BEFORE:
                raise InvalidPolicy(f"must be between 1 and {MAX_HOURS_BEFORE} hours", field=name)

    @classmethod
    def default(cls, clinic_id: uuid.UUID) -> ReminderPolicy:
        return cls(clinic_id)

    def hours_before(self, channel: Channel) -> int | None:
        return self.email_hours_before if channel is Channel.EMAIL else self.sms_hours_before

    def schedule(self, starts_at: datetime, zone: ZoneInfo, now: datetime) -> dict[Channel, datetime]:
        """When each channel's reminder for an appointment starting at ``starts_at`` is due.

        Channels without a reminder, and reminders whose time has passed by ``now``, are left out.
        """
        due: dict[Channel, datetime] = {}
        for channel in Channel:
            hours = self.hours_before(channel)
            if hours is None:
                continue
            at = starts_at - timedelta(hours=hours)
            if channel is Channel.SMS and self.quiet_hours is not None:
                at = self.quiet_hours.latest_allowed(at, zone)
            if at > now:
                due[channel] = at
        return due
