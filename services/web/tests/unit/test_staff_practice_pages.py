"""Practitioner pages over fake APIs: suitability and consent after an assessment, a patient's history, the
week view, and closures and time off shaded on the day and the week."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from web.domain.day import lay_out_day
from web.domain.week import TIME_OFF, shade
from web.service_layer.ports import ApiError
from web.testing import FakeApi, PageClient, app_over_fakes, error_beside, patient_names_route, sign_in
from web.testing import staff_credentials as credentials

CLINIC = str(uuid.uuid4())
IDA, JO, ASSESS, IMS = (str(uuid.uuid4()) for _ in range(4))
ANA, BO = str(uuid.uuid4()), str(uuid.uuid4())
VANCOUVER = ZoneInfo("America/Vancouver")
DAY = date(2036, 3, 26)  # a Wednesday, in the future
MONDAY = date(2036, 3, 24)


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VANCOUVER).astimezone(UTC)


def appointment(ident: str, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "clinic_id": CLINIC,
        "practitioner_id": IDA,
        "treatment_type_id": ASSESS,
        "patient_id": ANA,
        "kind": "assessment",
        "status": "booked",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "version": 2,
    } | extra


class Practice(PageClient):
    scheduling: FakeApi

    def as_(self, roles: list[str], practitioner_id: str | None = None) -> None:
        sign_in(self.client, credentials(roles, CLINIC, practitioner_id=practitioner_id))


@pytest.fixture
def practice(tmp_path: Path) -> Practice:
    scheduling = FakeApi("scheduling")
    app = app_over_fakes(tmp_path, scheduling=scheduling)
    routes = scheduling.routes
    routes[("GET", f"/clinics/{CLINIC}")] = {
        "id": CLINIC,
        "name": "Vancouver IMS",
        "timezone": "America/Vancouver",
    }
    routes[("GET", f"/clinics/{CLINIC}/practitioners")] = [
        {"id": IDA, "display_name": "Ida Needham", "active": True},
        {"id": JO, "display_name": "Jo Park", "active": True},
    ]
    routes[("GET", f"/clinics/{CLINIC}/treatment-types")] = [
        {"id": ASSESS, "name": "IMS assessment"},
        {"id": IMS, "name": "IMS treatment"},
    ]
    routes.update(
        patient_names_route(CLINIC, {ANA: ("Ana", "Li")}, booked=lambda: routes[("GET", "/appointments")])
    )
    routes[("GET", "/appointments")] = []
    routes[("GET", f"/clinics/{CLINIC}/closures")] = []
    routes[("GET", f"/clinics/{CLINIC}/time-off")] = []
    routes[("GET", f"/clinics/{CLINIC}/ims-clearance")] = {"cleared": False, "assessed": False}
    practice = Practice(app=app, client=app.test_client(), scheduling=scheduling)
    practice.as_(["practitioner"], IDA)
    return practice


def seen(practice: Practice, ident: str, status: str = "fulfilled", **extra: Any) -> None:
    body = appointment(ident, local(9), status=status, **extra)
    practice.scheduling.routes[("GET", "/appointments")] = [body]
    practice.scheduling.routes[("GET", f"/appointments/{ident}")] = body


# --- suitability and consent ------------------------------------------------------------------------------


def test_a_completed_assessment_offers_record_suitability_to_its_practitioner_and_admins_only(
    practice: Practice,
) -> None:
    ident = str(uuid.uuid4())
    seen(practice, ident)
    link = f'href="/staff/appointments/{ident}/suitability">Record suitability'
    assert link in practice.page(f"/staff/day?date={DAY}")
    practice.as_(["admin"])
    assert link in practice.page(f"/staff/day?date={DAY}")
    practice.as_(["front_desk"])  # scheduling would refuse them: not offered, and the form is 403
    assert "Record suitability" not in practice.page(f"/staff/day?date={DAY}")
    assert practice.client.get(f"/staff/appointments/{ident}/suitability").status_code == 403
    practice.as_(["practitioner"], JO)  # another practitioner's assessment
    assert "Record suitability" not in practice.page(f"/staff/day?date={DAY}&practitioner=")
    seen(practice, ident, status="booked")  # not seen yet
    practice.as_(["practitioner"], IDA)
    assert "Record suitability" not in practice.page(f"/staff/day?date={DAY}")


def test_the_form_asks_both_in_one_and_says_what_is_missing_beside_each_field(practice: Practice) -> None:
    ident = str(uuid.uuid4())
    seen(practice, ident)
    path = f"/staff/appointments/{ident}/suitability"
    html = practice.page(path)
    assert "<h1>Record IMS suitability</h1>" in html
    assert "Ana Li" in html
    assert "IMS assessment" in html
    assert "Ida Needham" in html
    assert 'name="suitable"' in html
    assert 'name="consent_recorded"' in html
    html = practice.post(path, {}, status=422).get_data(as_text=True)
    assert "<title>Error:" in html
    assert 'href="#suitable">Select whether IMS is suitable for the patient' in html
    assert "Select whether IMS is suitable for the patient" in error_beside(html, "suitable")
    html = practice.post(path, {"suitable": "yes"}, status=422).get_data(as_text=True)
    assert "Confirm the patient gave consent" in error_beside(html, "consent_recorded")
    assert 'value="yes" checked' in html  # the answer is kept
    assert not practice.scheduling.posted(f"/appointments/{ident}/suitability")


def test_recording_posts_both_answers_then_returns_to_the_block_with_a_notice(practice: Practice) -> None:
    ident = str(uuid.uuid4())
    seen(practice, ident)
    path = f"/appointments/{ident}/suitability"
    practice.scheduling.routes[("POST", path)] = {"id": str(uuid.uuid4())}
    response = practice.post(f"/staff{path}", {"suitable": "yes", "consent_recorded": "true"})
    assert response.location.endswith(f"/staff/day?date={DAY}#appt-{ident}")
    assert practice.scheduling.posted(path) == [{"suitable": True, "consent_recorded": True}]
    assert "IMS suitability for Ana Li is recorded." in practice.page(f"/staff/day?date={DAY}")
    practice.post(f"/staff{path}", {"suitable": "no"})  # not suitable needs no consent
    assert practice.scheduling.posted(path)[-1] == {"suitable": False, "consent_recorded": False}


def test_a_refusal_by_scheduling_is_said_beside_the_field(practice: Practice) -> None:
    ident = str(uuid.uuid4())
    seen(practice, ident)
    path = f"/appointments/{ident}/suitability"
    practice.scheduling.routes[("POST", path)] = ApiError(409, "Conflict", fields={"assessment_id": "x"})
    html = practice.post(f"/staff{path}", {"suitable": "no"}, status=422).get_data(as_text=True)
    assert "Suitability is already recorded for this assessment." in error_beside(html, "suitable")
    practice.scheduling.routes[("POST", path)] = ApiError(422, "Invalid", fields={"consent_recorded": "x"})
    html = practice.post(
        f"/staff{path}", {"suitable": "yes", "consent_recorded": "true"}, status=422
    ).get_data(as_text=True)
    assert "Confirm the patient gave consent" in error_beside(html, "consent_recorded")


def test_an_assessment_not_completed_goes_back_to_its_block_with_the_reason(practice: Practice) -> None:
    ident = str(uuid.uuid4())
    seen(practice, ident, status="booked")
    response = practice.client.get(f"/staff/appointments/{ident}/suitability")
    assert response.status_code == 303
    assert response.location.endswith(f"#appt-{ident}")
    html = practice.page(f"/staff/day?date={DAY}")
    assert "on an assessment that has been completed" in html


# --- a patient's history ---------------------------------------------------------------------------------


def test_the_history_lists_upcoming_and_past_appointments_and_plans_with_progress(practice: Practice) -> None:
    practice.as_(["front_desk"])
    now = datetime.now(UTC)
    soon, earlier = now + timedelta(days=3), now - timedelta(days=20)
    practice.scheduling.routes[("GET", "/appointments")] = [
        appointment("a1", earlier, status="fulfilled"),
        appointment("a2", soon, kind="treatment", treatment_type_id=IMS, practitioner_id=JO),
        appointment("a3", earlier + timedelta(days=1), status="cancelled"),
    ]
    practice.scheduling.routes[("GET", "/plans")] = [
        {
            "id": "p1",
            "clinic_id": CLINIC,
            "patient_id": ANA,
            "practitioner_id": JO,
            "treatment_type_id": IMS,
            "status": "active",
            "total_sessions": 6,
            "completed_sessions": 2,
            "remaining_sessions": 4,
            "sessions": [{"status": "booked", "starts_at": soon.isoformat()}],
        }
    ]
    practice.scheduling.routes[("GET", f"/clinics/{CLINIC}/ims-clearance")] = {
        "cleared": True,
        "assessed": True,
        "suitable": True,
        "consent_recorded": True,
        "recorded_at": earlier.isoformat(),
    }
    html = practice.page(f"/staff/patients/{ANA}")
    assert "<h1>Ana Li</h1>" in html
    assert "Cleared for IMS" in html
    upcoming = html[html.index("Upcoming appointments") : html.index("Treatment plans")]
    assert "IMS treatment" in upcoming
    assert "Jo Park" in upcoming
    assert "Booked" in upcoming
    past = html[html.index('id="past-heading"') :]
    assert past.index("Cancelled") < past.index("Completed")  # latest first
    assert "2 of 6 sessions done" in html
    assert '<progress max="6" value="2"' in html
    assert f'href="/staff/book/{ANA}' in html  # the desk books from here
    listed = [c[3] for c in practice.scheduling.calls if c[1] in ("/appointments", "/plans")]
    assert all(params["patient_id"] == ANA for params in listed)


def test_a_patient_not_named_to_the_clinic_is_not_found_and_patients_cannot_open_it(
    practice: Practice,
) -> None:
    practice.scheduling.routes[("GET", "/plans")] = []
    html = practice.page(f"/staff/patients/{BO}", status=404)
    assert "Patient not found" in html
    sign_in(practice.client, credentials(["patient"], None, patient_id=ANA))
    assert practice.client.get(f"/staff/patients/{ANA}").status_code == 403


def test_the_patients_list_links_each_name_to_their_history(practice: Practice) -> None:
    practice.as_(["front_desk"])
    practice.scheduling.routes[("GET", f"/clinics/{CLINIC}/patients")] = [
        {"id": ANA, "first_name": "Ana", "last_name": "Li", "email": "ana@example.com", "phone": None}
    ]
    assert f'href="/staff/patients/{ANA}">Li, Ana' in practice.page("/staff/patients")


# --- the week and shaded time ----------------------------------------------------------------------------


def test_the_week_shows_seven_day_columns_with_each_days_blocks_and_practitioner(practice: Practice) -> None:
    practice.as_(["front_desk"])
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    practice.scheduling.routes[("GET", "/appointments")] = [
        appointment(first, local(9, day=MONDAY)),
        appointment(second, local(14, day=DAY), practitioner_id=JO),
        appointment(str(uuid.uuid4()), local(9, day=MONDAY + timedelta(days=7))),  # next week's
    ]
    html = practice.page(f"/staff/week?date={DAY}")
    assert "Week of Monday, March 24, 2036" in html
    assert html.count('class="day-column"') == 7
    monday = html[html.index(f'id="col-{MONDAY}"') : html.index(f'id="col-{MONDAY + timedelta(days=1)}"')]
    assert f'id="appt-{first}"' in monday
    assert "Ida Needham" in monday
    assert f'href="/staff/day?date={MONDAY}">' in monday  # each day opens its Day view
    assert html.count('class="appt ') == 2
    assert f"date={MONDAY - timedelta(days=7)}" in html
    assert f"date={MONDAY + timedelta(days=7)}" in html
    assert "Ana Li" in monday
    names_path = f"/clinics/{CLINIC}/patients/names"
    named = [c[3] for c in practice.scheduling.calls if c[1] == names_path]
    assert named == [  # everyone's week: named in one call for the week's instants, beside its appointments
        {"booked_from": "2036-03-24T07:00:00+00:00", "booked_before": "2036-03-31T07:00:00+00:00"}
    ]
    # One practitioner: scheduling filters, and the practitioner's name is no longer repeated on blocks.
    html = practice.page(f"/staff/week?date={DAY}&practitioner={JO}")
    asked = [c[3] for c in practice.scheduling.calls if c[1] == "/appointments"][-1]
    assert asked["practitioner_id"] == JO
    assert [c[3] for c in practice.scheduling.calls if c[1] == names_path][1:] == [{"id": [ANA]}]
    assert html.count('class="appt ') == 1
    assert 'class="appt-who"' not in html


def test_closures_and_time_off_are_shaded_and_said_in_words(practice: Practice) -> None:
    practice.as_(["front_desk"])
    routes = practice.scheduling.routes
    routes[("GET", f"/clinics/{CLINIC}/closures")] = [
        {"id": "c", "starts_on": str(MONDAY), "ends_on": str(MONDAY), "reason": "Holiday"}
    ]
    routes[("GET", f"/clinics/{CLINIC}/time-off")] = [
        {
            "id": "t",
            "practitioner_id": IDA,
            "starts_at": local(12).isoformat(),
            "ends_at": local(14).isoformat(),
            "reason": "Course",
        }
    ]
    html = practice.page(f"/staff/day?date={DAY}")
    ida = html[html.index(f'id="col-{IDA}"') : html.index(f'id="col-{JO}"')]
    assert 'class="off off-time_off row-49 span-24"' in ida  # 12:00 to 14:00 in the 8:00 grid
    assert "Time off 12:00" in ida
    assert "Course" in ida
    assert "off-time_off" not in html[html.index(f'id="col-{JO}"') :]
    html = practice.page(f"/staff/day?date={MONDAY}")
    assert "The clinic is closed on this day." in html
    assert html.count("off-closed") == 2
    html = practice.page(f"/staff/week?date={DAY}")
    assert "Ida Needham: time off from" in html  # everyone's week: listed, not shaded
    assert html.count("off-closed") == 1
    html = practice.page(f"/staff/week?date={DAY}&practitioner={IDA}")
    assert "off-time_off" in html


def test_time_off_no_one_may_read_leaves_the_day_unshaded(practice: Practice) -> None:
    routes = practice.scheduling.routes
    routes[("GET", f"/clinics/{CLINIC}/time-off")] = ApiError(403, "Forbidden")
    assert "off-time_off" not in practice.page(f"/staff/day?date={DAY}")


def test_a_shade_is_clipped_to_the_grid_window() -> None:
    layout = lay_out_day(DAY, VANCOUVER, [(IDA, "Ida")], [], datetime.now(UTC))
    found = shade(layout, VANCOUVER, local(6), local(9), TIME_OFF, "")
    assert found is not None
    assert (found.row, found.span) == (1, 12)
    assert shade(layout, VANCOUVER, local(19), local(20), TIME_OFF, "") is None


def test_the_rooms_toggle_shows_a_column_per_room_with_the_practitioner_on_each_block(
    practice: Practice,
) -> None:
    practice.as_(["front_desk"])
    room_a, room_b = str(uuid.uuid4()), str(uuid.uuid4())
    routes = practice.scheduling.routes
    routes[("GET", f"/clinics/{CLINIC}/rooms")] = [
        {"id": room_b, "name": "Room B", "active": True},
        {"id": room_a, "name": "Room A", "active": True},
    ]
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    routes[("GET", "/appointments")] = [
        appointment(first, local(9), room_id=room_b),
        appointment(second, local(9), practitioner_id=JO, room_id=None),
    ]
    html = practice.page(f"/staff/day?date={DAY}")
    assert f"/staff/day?date={DAY}&amp;by=rooms" in html
    practice.scheduling.calls.clear()
    html = practice.page(f"/staff/day?date={DAY}&by=rooms")
    heads = [html.index(f'id="col-{key}"') for key in (room_a, room_b, "no-room")]
    assert heads == sorted(heads)  # rooms by name, then appointments without a room
    room = html[heads[1] : heads[2]]
    assert f'id="appt-{first}"' in room
    assert '<span class="appt-who">Ida Needham</span>' in room
    assert f'id="appt-{second}"' in html[heads[2] :]
    assert "Show a column per practitioner" in html
    assert not any(c[1].endswith("/time-off") for c in practice.scheduling.calls)  # no time off by room


def test_the_days_time_off_is_one_read_for_every_column_whatever_the_blocks(practice: Practice) -> None:
    practice.as_(["front_desk"])
    practice.scheduling.routes[("GET", "/appointments")] = [
        appointment(str(uuid.uuid4()), local(9 + n)) for n in range(4)
    ]
    practice.page(f"/staff/day?date={DAY}")
    read = [(c[1], c[3]) for c in practice.scheduling.calls if c[1].endswith("/time-off")]
    assert [path for path, _ in read] == [f"/clinics/{CLINIC}/time-off"]
    window = read[0][1]
    assert datetime.fromisoformat(window["from"]) < local(9) < datetime.fromisoformat(window["to"])
