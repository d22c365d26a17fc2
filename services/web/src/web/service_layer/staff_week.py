"""The clinic's week for the desk and practitioners: seven day columns of appointments (one practitioner's,
or everyone's), closures shaded, and time off shaded (one practitioner) or listed (everyone).

Reads, side by side where they can be: the clinic's reference and closures; then the week's appointments
(filtered by practitioner in scheduling) and each shown practitioner's time off; then the patients' names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.day import day_bounds
from web.domain.week import (
    CLOSED,
    TIME_OFF,
    Closure,
    Shade,
    TimeOff,
    WeekLayout,
    closure_on,
    lay_out_week,
    shade,
    week_of,
)
from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.listing import every_page
from web.service_layer.ports import Apis
from web.service_layer.staff_day import (
    APPOINTMENTS_PAGE,
    booked_names_reader,
    booking_from_api,
    name_readers,
    names_from,
    reference_reads,
)
from web.service_layer.time_away import closures_reader, time_off_reader


@dataclass(frozen=True)
class WeekPage:
    clinic_id: str
    clinic_name: str
    timezone: str
    layout: WeekLayout
    practitioners: list[tuple[str, str]]
    chosen_practitioner: str | None
    closed: dict[str, Closure] = field(default_factory=dict)  # by ISO day
    shades: dict[str, list[Shade]] = field(default_factory=dict)  # by ISO day
    away: list[tuple[str, TimeOff]] = field(default_factory=list)  # (practitioner's name, time off)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def week_page(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    day: date | None,
    now: datetime,
    *,
    practitioner_id: str | None = None,
    show_cancelled: bool = False,
    unnamed: str = "",
) -> WeekPage:
    """The week holding ``day`` (None: this week on the clinic's clock)."""
    token = credentials.access_token
    clinic, listed_practitioners, listed_treatments, closures = together(
        *reference_reads(apis, credentials, clinic_id), closures_reader(apis.scheduling, token, clinic_id)
    )
    zone = ZoneInfo(str(clinic["timezone"]))
    monday = week_of(day or now.astimezone(zone).date())
    start, _ = day_bounds(monday, zone)
    _, end = day_bounds(monday + timedelta(days=6), zone)
    practitioners = sorted(
        ((str(p["id"]), str(p["display_name"])) for p in listed_practitioners if p.get("active", True)),
        key=lambda p: (p[1].casefold(), p[0]),
    )
    chosen = practitioner_id if practitioner_id in {pid for pid, _ in practitioners} else None
    shown = [pid for pid, _ in practitioners if chosen is None or pid == chosen]
    query: dict[str, Any] = {
        "clinic_id": clinic_id,
        "starts_from": start.isoformat(),
        "starts_before": end.isoformat(),
    } | ({"practitioner_id": chosen} if chosen else {})
    read, time_off, booked_names = together(
        lambda: every_page(apis.scheduling, "/appointments", token, query, page_size=APPOINTMENTS_PAGE),
        time_off_reader(apis.scheduling, token, clinic_id, shown, start, end),
        # Everyone's week: its patients are named beside reading it (one practitioner's: theirs, after).
        booked_names_reader(apis, credentials, clinic_id, start, end) if chosen is None else list,
    )
    listed = [
        a
        for a in read
        if str(a.get("clinic_id")) == clinic_id
        and str(a.get("practitioner_id")) in shown
        and start <= datetime.fromisoformat(str(a["starts_at"])) < end
    ]
    if chosen is None:
        names = names_from([booked_names])
    else:
        named_ids = (str(a["patient_id"]) for a in listed if a.get("patient_id"))
        names = names_from(together(*name_readers(apis, credentials, clinic_id, named_ids)))
    who = dict(practitioners)
    treatments = {str(t["id"]): str(t["name"]) for t in listed_treatments}
    bookings = [
        replace(
            booking_from_api(a, names, treatments, unnamed),
            practitioner=who.get(str(a["practitioner_id"]), ""),
        )
        for a in listed
    ]
    layout = lay_out_week(monday, zone, bookings, now, show_cancelled=show_cancelled)
    closed: dict[str, Closure] = {}
    shades: dict[str, list[Shade]] = {}
    for laid in layout.days:
        key = laid.day.isoformat()
        bounds = day_bounds(laid.day, zone)
        closure = closure_on(laid.day, closures)
        if closure is not None:
            closed[key] = closure
            found = [shade(laid, zone, *bounds, CLOSED, closure.reason)]
        elif chosen is not None:  # one practitioner's column: their time off is the column's
            found = [shade(laid, zone, t.starts_at, t.ends_at, TIME_OFF, t.reason) for t in time_off]
        else:
            found = []
        shades[key] = [s for s in found if s is not None]
    return WeekPage(
        clinic_id=clinic_id,
        clinic_name=str(clinic["name"]),
        timezone=str(clinic["timezone"]),
        layout=layout,
        practitioners=practitioners,
        chosen_practitioner=chosen,
        closed=closed,
        shades=shades,
        away=[]
        if chosen
        else sorted(((who.get(t.practitioner_id, ""), t) for t in time_off), key=lambda x: x[1].starts_at),
    )
