"""When nobody can be booked: the clinic's closures and its practitioners' time off, as the day and week
grids shade them. Read with the staff member's token; a list scheduling will not show them (403/404) is
left unshaded rather than failing the calendar it decorates. The clinic's time off over the grid's window is
one read, however many columns are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from web.domain.visits import parse_instant
from web.domain.week import Closure, TimeOff
from web.service_layer.listing import every_page
from web.service_layer.ports import Api, ApiError

UNSHOWN = (403, 404)  # not this member of staff's to read: no shading, no error page


def _or_nothing(read: Callable[[], list[Any]]) -> list[Any]:
    try:
        return read()
    except ApiError as error:
        if error.status not in UNSHOWN:
            raise
        return []


def closures_reader(api: Api, token: str, clinic_id: str) -> Callable[[], list[Closure]]:
    """A call reading the clinic's closures (to run beside the page's other reads)."""

    def read() -> list[Closure]:
        listed = _or_nothing(lambda: every_page(api, f"/clinics/{clinic_id}/closures", token))
        return [
            Closure(
                date.fromisoformat(str(c["starts_on"])),
                date.fromisoformat(str(c["ends_on"])),
                str(c.get("reason") or ""),
            )
            for c in listed
        ]

    return read


def time_off_reader(
    api: Api,
    token: str,
    clinic_id: str,
    practitioner_ids: Sequence[str] | None,
    start: datetime,
    end: datetime,
) -> Callable[[], list[TimeOff]]:
    """A call reading the time off of the practitioners shown (None: all the clinic's) that overlaps
    [start, end)."""
    shown = None if practitioner_ids is None else set(practitioner_ids)
    window = {"from": start.isoformat(), "to": end.isoformat()}

    def read() -> list[TimeOff]:
        listed = _or_nothing(lambda: every_page(api, f"/clinics/{clinic_id}/time-off", token, window))
        return [
            TimeOff(
                str(t["practitioner_id"]),
                parse_instant(str(t["starts_at"])),
                parse_instant(str(t["ends_at"])),
                str(t.get("reason") or ""),
            )
            for t in listed
            if shown is None or str(t["practitioner_id"]) in shown
        ]

    return read


def rooms_reader(api: Api, token: str, clinic_id: str) -> Callable[[], list[dict[str, Any]]]:
    """A call reading the clinic's rooms (the day's room columns); none when not shown to this staff."""
    return lambda: _or_nothing(lambda: every_page(api, f"/clinics/{clinic_id}/rooms", token))
