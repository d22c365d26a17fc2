"""Free times shown a week at a time in the clinic's zone: one row per local day, Monday to Sunday.

The visit is in person, so every day and time is the clinic's, whatever zone the browser is in. A week is
keyed by its Monday (a local date); a day a clock change falls on is still one row, its slots in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class Slot:
    """A free start time (UTC) with the practitioner who is free then."""

    starts_at: datetime
    practitioner_id: str

    def local(self, zone: ZoneInfo | str) -> datetime:
        return self.starts_at.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)

    @property
    def at(self) -> str:
        """The start as it travels in a URL: UTC to the minute, e.g. '2026-12-08T17:30Z'."""
        return as_param(self.starts_at)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Slot:
        return cls(parse_instant(str(data["starts_at"])), str(data["practitioner_id"]))


@dataclass(frozen=True)
class Times:
    """A week of free times to show, the earliest free time (None: none up to the horizon) and today."""

    week: Week
    earliest: Slot | None
    today: date


@dataclass(frozen=True)
class Day:
    day: date
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Week:
    """Seven local days from ``monday``; ``earlier``/``later`` are the neighbouring Mondays one may visit."""

    monday: date
    days: tuple[Day, ...]
    earlier: date | None
    later: date | None

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=DAYS_PER_WEEK - 1)

    @property
    def empty(self) -> bool:
        return not any(day.slots for day in self.days)


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant with its offset (or 'Z'), as an aware UTC datetime; ValueError if naive."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an instant needs a UTC offset")
    return moment.astimezone(UTC)


def as_param(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def last_bookable_day(now: datetime, zone: ZoneInfo, horizon_days: int) -> date:
    """The last local day online booking reaches (the clinic's horizon)."""
    return (now + timedelta(days=horizon_days)).astimezone(zone).date()


def choose_monday(requested: date | None, *, today: date, last_day: date, fallback: date | None) -> date:
    """The week to show: the one asked for (kept between this week and the horizon), else ``fallback``
    (the earliest free time's week), else this week. An empty current week is never shown by default."""
    first = monday_of(today)
    last = monday_of(last_day)
    if requested is not None:
        return min(max(monday_of(requested), first), last)
    if fallback is not None:
        return min(max(monday_of(fallback), first), last)
    return first


def one_per_time(slots: Iterable[Slot], preferred: Iterable[str] = ()) -> list[Slot]:
    """For "any practitioner": each start time once, with the first free practitioner in ``preferred``
    order (others after, in the order given); times in order."""
    rank = {pid: n for n, pid in enumerate(preferred)}
    best: dict[datetime, Slot] = {}
    for slot in slots:
        kept = best.get(slot.starts_at)
        if kept is None or rank.get(slot.practitioner_id, len(rank)) < rank.get(
            kept.practitioner_id, len(rank)
        ):
            best[slot.starts_at] = slot
    return [best[at] for at in sorted(best)]


def week_of(slots: Iterable[Slot], monday: date, zone: ZoneInfo, *, today: date, last_day: date) -> Week:
    """Group ``slots`` into the local days of the week starting ``monday`` (slots outside it are dropped)."""
    monday = monday_of(monday)
    by_day: dict[date, list[Slot]] = {monday + timedelta(days=n): [] for n in range(DAYS_PER_WEEK)}
    for slot in slots:
        local_day = slot.local(zone).date()
        if local_day in by_day:
            by_day[local_day].append(slot)
    days = tuple(Day(day, tuple(sorted(found, key=lambda s: s.starts_at))) for day, found in by_day.items())
    earlier = monday - timedelta(weeks=1)
    later = monday + timedelta(weeks=1)
    return Week(
        monday=monday,
        days=days,
        earlier=earlier if earlier >= monday_of(today) else None,
        later=later if later <= last_day else None,
    )


def search_range(monday: date, today: date) -> tuple[date, date]:
    """The local days to ask the API about for a week: from today (never the past) to Sunday."""
    return max(monday, today), monday + timedelta(days=DAYS_PER_WEEK - 1)


def earliest(slots: Iterable[Slot]) -> Slot | None:
    return min(slots, key=lambda s: s.starts_at, default=None)
