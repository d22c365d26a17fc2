"""A series of IMS sessions as the patient sees it before confirming: one row per proposed date.

The series is asked for as scheduling books it: a weekday and a local wall-clock time in the clinic's zone
from a first day, every k weeks, so a 9:30 series stays at 9:30 when the clocks change. The preview says
for each date whether it is free; a taken one offers the nearest free times that day, and the patient's
picks go back as ``overrides``. Nothing is booked until every row is free or has a pick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.slots import as_param, parse_instant

RHYTHMS = (1, 2, 3, 4)  # every N weeks
MIN_SESSIONS = 2
MAX_SESSIONS = 12
DEFAULT_SESSIONS = 6


@dataclass(frozen=True)
class Alternative:
    starts_at: datetime
    practitioner_id: str
    same_practitioner: bool

    @property
    def key(self) -> str:
        """The radio button's value: the start and the practitioner, e.g. '2026-12-08T17:30Z/uuid'."""
        return f"{as_param(self.starts_at)}/{self.practitioner_id}"


@dataclass(frozen=True)
class ProposalRow:
    """One proposed session: when, with whom, in which room, and whether it can be booked as is."""

    index: int
    day: date
    starts_at: datetime | None
    practitioner_id: str
    room_id: str | None
    status: str  # free, taken, unavailable, nonexistent_local_time
    alternatives: tuple[Alternative, ...]

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def free(self) -> bool:
        return self.status == "free"

    def alternative(self, key: str | None) -> Alternative | None:
        return next((a for a in self.alternatives if a.key == key), None)


@dataclass(frozen=True)
class Series:
    """What POST /plans needs besides the catalogue ids: where the series starts and its rhythm."""

    first_day: date
    weekday: int
    local_time: str
    every_weeks: int
    sessions: int

    def request(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day.isoformat(),
            "weekday": self.weekday,
            "local_time": self.local_time,
            "every_weeks": self.every_weeks,
            "sessions": self.sessions,
        }


def series_from(first: datetime, zone: ZoneInfo, every_weeks: int, sessions: int) -> Series:
    """The series whose first session is ``first`` (a free time the patient picked)."""
    if every_weeks not in RHYTHMS:
        raise ValueError("unsupported rhythm")
    if not MIN_SESSIONS <= sessions <= MAX_SESSIONS:
        raise ValueError("unsupported number of sessions")
    local = first.astimezone(zone)
    return Series(
        first_day=local.date(),
        weekday=local.weekday(),
        local_time=local.strftime("%H:%M"),
        every_weeks=every_weeks,
        sessions=sessions,
    )


def proposal_rows(sessions: Sequence[Mapping[str, Any]]) -> list[ProposalRow]:
    """The preview's sessions (scheduling's POST /plans/preview) as rows, in order."""
    rows = []
    for data in sessions:
        starts_at = data.get("starts_at")
        rows.append(
            ProposalRow(
                index=int(data["index"]),
                day=date.fromisoformat(str(data["local_date"])),
                starts_at=parse_instant(str(starts_at)) if starts_at else None,
                practitioner_id=str(data["practitioner_id"]),
                room_id=str(data["room_id"]) if data.get("room_id") else None,
                status=str(data["status"]),
                alternatives=tuple(
                    Alternative(
                        starts_at=parse_instant(str(a["starts_at"])),
                        practitioner_id=str(a["practitioner_id"]),
                        same_practitioner=a.get("kind") == "same_practitioner",
                    )
                    for a in data.get("alternatives") or ()
                ),
            )
        )
    return sorted(rows, key=lambda r: r.index)


def overrides(
    rows: Sequence[ProposalRow], picks: Mapping[int, str]
) -> tuple[list[dict[str, Any]], list[int]]:
    """The overrides for the patient's picks, and the numbers of sessions still needing one.

    A pick is honoured only if it is one of the alternatives offered on that row.
    """
    chosen: list[dict[str, Any]] = []
    missing: list[int] = []
    for row in rows:
        if row.free:
            continue
        alternative = row.alternative(picks.get(row.index))
        if alternative is None:
            missing.append(row.number)
            continue
        chosen.append(
            {
                "index": row.index,
                "starts_at": alternative.starts_at.isoformat(),
                "practitioner_id": alternative.practitioner_id,
            }
        )
    return chosen, missing


def clocks_change(rows: Sequence[ProposalRow], zone: ZoneInfo) -> bool:
    """Whether the series spans a daylight-saving change (its times keep their local wall-clock time)."""
    offsets = {row.starts_at.astimezone(zone).utcoffset() for row in rows if row.starts_at is not None}
    return len(offsets) > 1


def conflicts(rows: Sequence[ProposalRow]) -> int:
    return sum(1 for row in rows if not row.free)
