"""The front desk's day: what the page asks of scheduling, in the signed-in staff member's name.

The day's appointments come from scheduling's ``GET /appointments`` filtered to the clinic and the day's
instants (``clinic_id``, ``starts_from``, ``starts_before``), in one page of up to 500. Patient names come
from ``GET /clinics/{id}/patients/names``: for everyone's day, the patients booked in the day's instants,
asked beside the appointments; for one practitioner's column, the ids it shows, once they are known.

The desk actions, and moving an appointment to another free time (the booking flow's week of free times,
``service_layer.booking``), send the version the page showed (If-Match); scheduling refuses a change to an
appointment someone else changed meanwhile (412), and one its rules forbid (409, 422).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.day import Booking, DayLayout, day_bounds, lay_out_day
from web.domain.slots import Slot, Times
from web.domain.visits import parse_instant
from web.domain.week import Closure, Shade, closure_on, shades_by_column
from web.service_layer import booking, clinic_catalogue, slot_search
from web.service_layer.accounts import Credentials
from web.service_layer.booking import Appointment
from web.service_layer.clinic_catalogue import Catalogue, Treatment
from web.service_layer.concurrency import together
from web.service_layer.listing import every_page
from web.service_layer.ports import Api, ApiError, Apis
from web.service_layer.time_away import closures_reader, rooms_reader, time_off_reader

DESK_ROLES = frozenset({"front_desk", "admin", "practitioner"})  # who may arrive, complete, no-show
ACTIONS = {"arrive": "arrive", "complete": "complete", "no_show": "no-show", "cancel": "cancel"}


class Refused(Exception):
    """Scheduling refused a desk action: ``reason`` is 'stale' (412), 'gone' (404) or 'rule' (409/422)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ClinicChoice:
    id: str
    name: str


@dataclass(frozen=True)
class DayPage:
    clinic_id: str
    clinic_name: str
    timezone: str
    layout: DayLayout
    practitioners: list[tuple[str, str]]  # every active practitioner of the clinic, for the filter
    chosen_practitioner: str | None
    closure: Closure | None = None  # the clinic is closed on the day
    shades: dict[str, list[Shade]] = field(default_factory=dict)  # per column: closed or time off
    by_rooms: bool = False  # columns are rooms, not practitioners

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def clinics(apis: Apis, credentials: Credentials) -> list[ClinicChoice]:
    """The clinics this staff member works in (one for a clinic's staff, all for organisation-wide)."""
    listed = every_page(apis.scheduling, "/clinics", credentials.access_token)
    return sorted((ClinicChoice(str(c["id"]), str(c["name"])) for c in listed), key=lambda c: c.name)


APPOINTMENTS_PAGE = 500  # scheduling's largest page of appointments: a full clinic day in one call


def appointments_between(
    api: Api, token: str, clinic_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The clinic's appointments starting in [start, end), every page of them."""
    query = {"clinic_id": clinic_id, "starts_from": start.isoformat(), "starts_before": end.isoformat()}
    return every_page(api, "/appointments", token, query, page_size=APPOINTMENTS_PAGE)


NAMES_PER_CALL = 80  # scheduling's limit for /clinics/{id}/patients/names (a request line's length)


def patient_names(
    apis: Apis, credentials: Credentials, clinic_id: str, patient_ids: Iterable[str]
) -> dict[str, str]:
    """The clinic's patients' names, a call per 80 (side by side); one scheduling does not name stays
    unnamed (not the clinic's patient, or not visible to this member of staff)."""
    return names_from(together(*name_readers(apis, credentials, clinic_id, patient_ids)))


def name_readers(
    apis: Apis, credentials: Credentials, clinic_id: str, patient_ids: Iterable[str]
) -> list[Callable[[], list[Any]]]:
    """The calls ``patient_names`` makes (a page may run them beside its other reads; ``names_from``)."""
    ids = sorted(set(patient_ids))
    path = f"/clinics/{clinic_id}/patients/names"

    def names_of(chunk: list[str]) -> Callable[[], list[Any]]:
        def read() -> list[Any]:
            return list(apis.scheduling.get(path, token=credentials.access_token, params={"id": chunk}))

        return read

    return [names_of(ids[i : i + NAMES_PER_CALL]) for i in range(0, len(ids), NAMES_PER_CALL)]


def booked_names_reader(
    apis: Apis, credentials: Credentials, clinic_id: str, start: datetime, end: datetime
) -> Callable[[], list[Any]]:
    """A call naming the clinic's patients booked in [start, end), to run beside reading their appointments
    (``names_from`` its answer)."""
    path = f"/clinics/{clinic_id}/patients/names"
    window = {"booked_from": start.isoformat(), "booked_before": end.isoformat()}
    return lambda: list(apis.scheduling.get(path, token=credentials.access_token, params=window))


def names_from(answers: Iterable[list[Any]]) -> dict[str, str]:
    return {
        str(body["id"]): name
        for bodies in answers
        for body in bodies
        if (name := f"{body.get('first_name', '')} {body.get('last_name', '')}".strip())
    }


def clinic_reference(
    apis: Apis, credentials: Credentials, clinic_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The clinic, all its practitioners and all its treatment types (inactive ones too: old appointments
    and entries still name them), side by side."""
    clinic, practitioners, treatments = together(*reference_reads(apis, credentials, clinic_id))
    return dict(clinic), practitioners, treatments


def reference_reads(apis: Apis, credentials: Credentials, clinic_id: str) -> list[Callable[[], Any]]:
    """The reads ``clinic_reference`` makes (the clinic, practitioners, treatment types), for a page to run
    beside its own."""
    token = credentials.access_token
    clinic_path = f"/clinics/{clinic_id}"
    return [
        # Not from the shared reference cache: scheduling itself decides who may see this clinic.
        lambda: apis.scheduling.get(clinic_path, token=token),
        lambda: every_page(apis.scheduling, f"{clinic_path}/practitioners", token),
        lambda: every_page(apis.scheduling, f"{clinic_path}/treatment-types", token),
    ]


# Each clinic's time zone as last read, so a day's appointments can be asked for beside the clinic itself.
_ZONES: dict[str, ZoneInfo] = {}


def day_page(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    day: date | None,
    now: datetime,
    *,
    practitioner_id: str | None = None,
    show_cancelled: bool = False,
    unnamed: str = "",
    by_rooms: bool = False,
    no_room: str = "",
) -> DayPage:
    """The clinic's day (``None``: today on its clock): a column per practitioner (``by_rooms``: per room,
    and one named ``no_room`` for appointments without one), with patient names.

    The day's appointments are read beside the clinic's reference data when the clinic's time zone is
    known from an earlier page (a clinic seldom moves); read again should the zone have changed.
    """
    token = credentials.access_token
    # Everyone's day (no practitioner asked for): its patients are named beside reading its appointments.
    whole_day = practitioner_id is None

    def today(zone: ZoneInfo) -> date:
        return now.astimezone(zone).date()

    def day_reads(zone: ZoneInfo) -> list[Callable[[], Any]]:
        """The day's appointments, its patients' names (whole day only) and the clinic's time off."""
        start, end = day_bounds(day or today(zone), zone)
        return [
            lambda: appointments_between(apis.scheduling, token, clinic_id, start, end),
            booked_names_reader(apis, credentials, clinic_id, start, end) if whole_day else list,
            list if by_rooms else time_off_reader(apis.scheduling, token, clinic_id, None, start, end),
        ]

    guessed = _ZONES.get(clinic_id)
    clinic, listed_practitioners, listed_treatments, closures, rooms, *day_read = together(
        *reference_reads(apis, credentials, clinic_id),
        closures_reader(apis.scheduling, token, clinic_id),
        rooms_reader(apis.scheduling, token, clinic_id) if by_rooms else list,
        *(day_reads(guessed) if guessed is not None else []),
    )
    zone = _ZONES[clinic_id] = ZoneInfo(str(clinic["timezone"]))
    if guessed != zone:
        day_read = together(*day_reads(zone))
    read, booked_names, time_off = day_read
    day = day or today(zone)
    start, end = day_bounds(day, zone)
    listed = [  # scheduling filters already; what it answers is still kept to the clinic and the day
        a
        for a in read
        if str(a.get("clinic_id")) == clinic_id and start <= parse_instant(str(a["starts_at"])) < end
    ]
    treatments = {str(t["id"]): str(t["name"]) for t in listed_treatments}
    booked_with = {str(a["practitioner_id"]) for a in listed}
    practitioners = sorted(
        (
            (str(p["id"]), str(p["display_name"]))
            for p in listed_practitioners
            if p.get("active", True) or str(p["id"]) in booked_with
        ),
        key=lambda p: (p[1].casefold(), p[0]),
    )
    chosen = practitioner_id if practitioner_id in {pid for pid, _ in practitioners} else None
    shown_ids = [pid for pid, _ in practitioners if chosen is None or pid == chosen]
    closed = closure_on(day, closures)
    if whole_day:
        names = names_from([booked_names])
    else:  # the shown columns' patients only are read
        shown_patients = (str(a["patient_id"]) for a in listed if str(a["practitioner_id"]) in shown_ids)
        names = patient_names(apis, credentials, clinic_id, shown_patients)
    away = [] if closed else time_off
    bookings = [booking_from_api(a, names, treatments, unnamed) for a in listed]
    if by_rooms:  # a column per room; the blocks name the practitioner
        who = dict(practitioners)
        bookings = [
            replace(b, practitioner=who.get(b.practitioner_id, ""))
            for b in bookings
            if b.practitioner_id in shown_ids
        ]
        layout = lay_out_day(
            day,
            zone,
            room_columns(rooms, bookings, no_room),
            bookings,
            now,
            show_cancelled=show_cancelled,
            column_of=lambda b: b.room_id or NO_ROOM,
        )
    else:
        layout = lay_out_day(
            day,
            zone,
            [p for p in practitioners if chosen is None or p[0] == chosen],
            bookings,
            now,
            show_cancelled=show_cancelled,
        )
    return DayPage(
        clinic_id=clinic_id,
        clinic_name=str(clinic["name"]),
        timezone=str(clinic["timezone"]),
        layout=layout,
        practitioners=practitioners,
        chosen_practitioner=chosen,
        closure=closed,
        shades=shades_by_column(layout, zone, closures, away),
        by_rooms=by_rooms,
    )


NO_ROOM = "no-room"  # the column of appointments without a room


def room_columns(rooms: list[dict[str, Any]], bookings: list[Booking], no_room: str) -> list[tuple[str, str]]:
    """The clinic's active rooms (and inactive ones booked that day) by name, then "no room" if needed."""
    booked = {b.room_id for b in bookings}
    columns = sorted(
        ((str(r["id"]), str(r["name"])) for r in rooms if r.get("active", True) or str(r["id"]) in booked),
        key=lambda r: (r[1].casefold(), r[0]),
    )
    return columns + ([(NO_ROOM, no_room)] if None in booked or not columns else [])


def booking_from_api(
    body: Mapping[str, Any], names: Mapping[str, str], treatments: Mapping[str, str], unnamed: str
) -> Booking:
    version = body.get("version")
    return Booking(
        id=str(body["id"]),
        practitioner_id=str(body["practitioner_id"]),
        starts_at=parse_instant(str(body["starts_at"])),
        ends_at=parse_instant(str(body["ends_at"])),
        status=str(body["status"]),
        patient=names.get(str(body.get("patient_id")), unnamed),
        treatment=treatments.get(str(body["treatment_type_id"]), ""),
        version=int(version) if version is not None else None,
        confirmed=bool(body.get("confirmed_at")),
        late_cancellation=bool(body.get("late_cancellation")),
        fee_waived=bool(body.get("fee_waived")),
        patient_id=str(body["patient_id"]) if str(body.get("patient_id")) in names else None,
        kind=str(body.get("kind") or ""),
        room_id=str(body["room_id"]) if body.get("room_id") else None,
    )


def act(
    apis: Apis,
    credentials: Credentials,
    appointment_id: str,
    action: str,
    *,
    version: int | None = None,
    waive_fee: bool = False,
) -> dict[str, Any]:
    """Arrive, complete, no-show or cancel one appointment, at the version the page showed."""
    body: dict[str, Any] | None = None
    if action in ("no_show", "cancel"):
        body = {"waive_fee": waive_fee}
    headers = {"If-Match": f'"{version}"'} if version is not None else None
    try:
        answer = apis.scheduling.post(
            f"/appointments/{appointment_id}/{ACTIONS[action]}",
            token=credentials.access_token,
            json=body,
            headers=headers,
        )
    except ApiError as error:
        raise _refusal(error) from None
    return dict(answer or {})


def _refusal(error: ApiError) -> Exception:
    """A refused change as the desk is told of it (``Refused``), or the error itself when it is no refusal."""
    if error.status == 412:
        return Refused("stale")
    if error.status == 404:
        return Refused("gone")
    if error.status in (400, 403, 409, 422):
        return Refused("rule")
    return error


# --- moving an appointment to another time ---------------------------------------------------------------


@dataclass(frozen=True)
class Moving:
    """An appointment the desk moves: as scheduling has it now (its version), whose, and what the clinic
    offers (its treatment's free times are searched)."""

    visit: Appointment
    version: int | None
    patient: str
    catalogue: Catalogue
    treatment: Treatment | None

    @property
    def zone(self) -> ZoneInfo:
        return self.catalogue.clinic.zone


def moving(apis: Apis, credentials: Credentials, appointment_id: str, unnamed: str = "") -> Moving:
    """The appointment to move (404: ``Refused('gone')``), its patient's name and its clinic's catalogue."""
    try:
        body = apis.scheduling.get(f"/appointments/{appointment_id}", token=credentials.access_token)
    except ApiError as error:
        raise _refusal(error) from None
    visit = Appointment.from_api(body)
    patient_id = str(body.get("patient_id") or "")
    found, names = together(
        lambda: clinic_catalogue.catalogue(apis, credentials, visit.clinic_id, patient_id=patient_id),
        lambda: patient_names(apis, credentials, visit.clinic_id, [patient_id] if patient_id else []),
    )
    version = body.get("version")
    return Moving(
        visit=visit,
        version=int(version) if version is not None else None,
        patient=names.get(patient_id, unnamed),
        catalogue=found,
        treatment=next((t for t in found.treatments if t.id == visit.treatment_type_id), None),
    )


def free_times(
    apis: Apis,
    credentials: Credentials,
    move: Moving,
    practitioner_id: str | None,
    week: date | None,
    now: datetime,
) -> Times:
    """A week of free times for the appointment's treatment: with ``practitioner_id``, else any qualified."""
    assert move.treatment is not None
    preferred = [p.id for p in move.catalogue.qualified(move.treatment)]
    return slot_search.times(
        apis,
        credentials,
        move.catalogue.clinic,
        move.treatment.id,
        practitioner_id,
        week,
        now=now,
        preferred=preferred,
    )


def reschedule(apis: Apis, credentials: Credentials, move: Moving, slot: Slot, version: int | None) -> None:
    """Move the appointment to ``slot`` if still at ``version`` (the one the desk saw): ``Refused`` ('stale'
    when someone changed it meanwhile), ``booking.SlotTaken`` when the time went."""
    try:
        booking.reschedule(apis, credentials, move.visit.id, slot, version)
    except ApiError as error:
        raise _refusal(error) from None
