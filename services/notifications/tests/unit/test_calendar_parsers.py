"""Every invitation e-mailed reads as the appointments' instants in calendar parsers other than icalendar."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic_shared.testing.calendars import READERS, Instants
from notifications.adapters.calendar import appointment_calendar
from notifications.adapters.rendering import TemplateRenderer
from notifications.domain.composition import Notice
from notifications.domain.kinds import DeliveryKind

ZONES = ["America/Vancouver", "America/Toronto", "Europe/Paris", "Australia/Sydney", "Asia/Kolkata"]
MakeNotice = Callable[..., Notice]


def visit_days(zone: ZoneInfo) -> list[date]:
    """Mid-winter and mid-summer days, and the days around each offset change, in 2025 and 2026."""
    days = {date(year, month, 15) for year in (2025, 2026) for month in (1, 4, 7, 10)}
    instant = datetime(2025, 1, 1, tzinfo=UTC)
    while instant.year < 2027:
        after = instant + timedelta(days=1)
        if instant.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            change = after.astimezone(zone).date()
            days |= {change - timedelta(days=1), change, change + timedelta(days=1)}
        instant = after
    return sorted(days)


def morning(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=zone).astimezone(UTC)


def plan_notice(notice: Notice, starts: list[datetime], kind: DeliveryKind) -> Notice:
    sessions = [
        {
            "appointment_id": str(uuid.uuid4()),
            "sequence": 1,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat(),
        }
        for start in starts
    ]
    return dataclasses.replace(notice, kind=kind, payload={"sessions": sessions})


def expected_instants(notice: Notice) -> Instants:
    return {f"{e.appointment_id}@ims-clinic": (e.starts_at, e.ends_at) for e in notice.calendar_entries}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("zone_name", ZONES)
def test_every_invitation_reads_as_the_appointments_instants_in_other_parsers(
    make_notice: MakeNotice, zone_name: str, reader: str
) -> None:
    renderer = TemplateRenderer()
    zone = ZoneInfo(zone_name)
    starts = [morning(day, zone) for day in visit_days(zone)]
    sent: list[tuple[str, Notice, bytes]] = []
    for start in starts:
        for kind in (DeliveryKind.BOOKING_CONFIRMATION, DeliveryKind.CANCELLATION):
            notice = make_notice(kind=kind, timezone=zone_name, starts_at=start, sequence=1)
            attachment = renderer.email(notice).calendar
            assert attachment is not None
            sent.append((f"{kind} for {start}", notice, attachment.content))
    for kind in (DeliveryKind.PLAN_SUMMARY, DeliveryKind.PLAN_CANCELLED, DeliveryKind.PLAN_SHORTENED):
        # A weekly plan over two years: one invitation with a VEVENT per session.
        weekly = [morning(date(2025, 1, 6) + timedelta(weeks=n), zone) for n in range(104)]
        notice = plan_notice(make_notice(timezone=zone_name), weekly, kind)
        content = appointment_calendar(notice, summary="IMS, weekly", description="Your plan").content
        sent.append((f"{kind} of {len(weekly)} sessions", notice, content))

    read = READERS[reader]
    for label, notice, content in sent:
        expected = expected_instants(notice)
        instants = read(content)
        assert set(instants) == set(expected), label
        wrong = {uid: (got, expected[uid]) for uid, got in instants.items() if got != expected[uid]}
        assert not wrong, f"{reader} misreads {len(wrong)} of {len(instants)} events in the {label}: {wrong}"
