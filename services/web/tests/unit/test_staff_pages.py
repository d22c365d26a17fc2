"""The front desk's day over fake APIs: who may open it, what it shows, what its actions send."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from web.service_layer import staff_day
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis
from web.service_layer.staff_day import appointments_between
from web.testing import FakeApi, PageClient, app_over_fakes, patient_names_route, sign_in, staff_credentials

CLINIC, OTHER_CLINIC = str(uuid.uuid4()), str(uuid.uuid4())
IDA, JO, ASSESS = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
ANA, BO = str(uuid.uuid4()), str(uuid.uuid4())
VANCOUVER = ZoneInfo("America/Vancouver")
DAY = date(2036, 3, 28)  # a future day: nothing on it can be checked in yet


class Scheduling(FakeApi):
    """FakeApi that also records the headers sent with each POST (If-Match)."""

    def __init__(self) -> None:
        super().__init__("scheduling")
        self.headers: list[Any] = []

    def post(self, path: str, *, token: Any = None, json: Any = None, headers: Any = None) -> Any:
        self.headers.append(headers)
        return super().post(path, token=token, json=json, headers=headers)


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VANCOUVER).astimezone(UTC)


def appointment(ident: str, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "clinic_id": CLINIC,
        "practitioner_id": IDA,
        "treatment_type_id": ASSESS,
        "patient_id": ANA,
        "status": "booked",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "confirmed_at": None,
        "late_cancellation": False,
        "fee_waived": False,
        "version": 3,
    } | extra


def credentials(
    roles: list[str],
    clinic_id: str | None = CLINIC,
    patient_id: str | None = None,
    practitioner_id: str | None = None,
) -> Credentials:
    return staff_credentials(roles, clinic_id, patient_id=patient_id, practitioner_id=practitioner_id)


class Desk(PageClient):
    scheduling: Scheduling

    def sign_in_as(self, signed: Credentials) -> None:
        sign_in(self.client, signed)


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    scheduling = Scheduling()
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
    routes[("GET", f"/clinics/{CLINIC}/treatment-types")] = [{"id": ASSESS, "name": "IMS assessment"}]
    routes.update(
        patient_names_route(CLINIC, {ANA: ("Ana", "Li")}, booked=lambda: routes[("GET", "/appointments")])
    )
    routes[("GET", "/appointments")] = []
    desk = Desk(app=app, client=app.test_client(), scheduling=scheduling)
    desk.sign_in_as(credentials(["front_desk"]))
    return desk


def day_path(day: date = DAY, **extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in ({"date": day.isoformat()} | extra).items())
    return f"/staff/day?{query}"


def test_the_day_shows_a_column_per_practitioner_and_blocks_with_patient_treatment_and_status(
    desk: Desk,
) -> None:
    first = str(uuid.uuid4())
    desk.scheduling.routes[("GET", "/appointments")] = [
        appointment(first, local(9, 30)),
        appointment(str(uuid.uuid4()), local(11), practitioner_id=JO, patient_id=BO, status="arrived"),
        appointment(str(uuid.uuid4()), local(9), clinic_id=OTHER_CLINIC),  # another clinic's: left out
        appointment(str(uuid.uuid4()), local(9, day=date(2036, 3, 29))),  # another day's: left out
    ]
    html = desk.page(day_path())
    assert "Friday, March 28, 2036" in html
    assert "Times in Pacific Time." in html
    assert re.search(r'<h2 class="col-head" id="col-' + IDA + r'">Ida Needham</h2>', html)
    assert f'id="col-{JO}">Jo Park</h2>' in html
    block = html[html.index(f'id="appt-{first}"') :]
    assert "9:30\u202fa.m.\u201310:30\u202fa.m." in block[:600]  # an en dash between
    assert "Ana Li" in block[:600]
    assert "IMS assessment" in block[:600]
    assert "Booked" in block[:600]
    assert "row-19 span-12" in html  # 9:30 in the 8:00 to 18:00 grid
    assert "Arrived" in html
    assert html.count('class="appt ') == 2
    assert "Patient</span>" in html  # Bo's record is not shown to this account: no name, no error
    # A future day: check in is not offered yet, cancelling is; each form carries the version.
    assert f'action="/staff/appointments/{first}/cancel"' in html
    assert f'action="/staff/appointments/{first}/arrive"' not in html
    assert 'name="version" value="3"' in html
    assert "now-line" not in html
    # The day's patients are named in one call, for the day's instants (midnight to midnight in Vancouver).
    named = [c[3] for c in desk.scheduling.calls if c[1] == f"/clinics/{CLINIC}/patients/names"]
    assert named == [
        {"booked_from": "2036-03-28T07:00:00+00:00", "booked_before": "2036-03-29T07:00:00+00:00"}
    ]


def test_today_has_a_now_line_and_the_desk_actions_of_a_started_appointment(desk: Desk) -> None:
    now = datetime.now(UTC)
    today = now.astimezone(VANCOUVER).date()
    started = str(uuid.uuid4())
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=5)
    desk.scheduling.routes[("GET", "/appointments")] = [appointment(started, start)]
    html = desk.page("/staff/day")  # no date: today on the clinic's clock
    assert 'class="tag ok">Today</span>' in html
    for action in ("arrive", "complete", "no_show", "cancel"):
        if start.astimezone(VANCOUVER).date() == today:
            assert f'action="/staff/appointments/{started}/{action}"' in html
    assert "now-line" in html
    assert "Waive the fee" in html


def test_cancelled_appointments_are_hidden_behind_a_toggle_and_struck_when_shown(desk: Desk) -> None:
    gone = str(uuid.uuid4())
    desk.scheduling.routes[("GET", "/appointments")] = [
        appointment(gone, local(9), status="cancelled", late_cancellation=True),
        appointment(str(uuid.uuid4()), local(10)),
    ]
    html = desk.page(day_path())
    assert f"appt-{gone}" not in html
    assert "Show 1 cancelled appointment" in html
    shown = desk.page(day_path(cancelled="shown"))
    assert f'status-cancelled row-13 span-12 lane-1 lane-span-1" id="appt-{gone}"' in shown
    assert "Hide cancelled appointments" in shown
    assert "Late" in shown


def test_the_practitioner_filter_keeps_one_column_and_reads_only_its_patients_names(desk: Desk) -> None:
    desk.scheduling.routes[("GET", "/appointments")] = [
        appointment(str(uuid.uuid4()), local(9)),  # Ana, with Ida
        appointment(str(uuid.uuid4()), local(11), practitioner_id=JO, patient_id=BO),
    ]
    html = desk.page(day_path(practitioner=JO))
    assert f'id="col-{JO}"' in html
    assert f'id="col-{IDA}"' not in html
    assert f'<option value="{JO}" selected>Jo Park</option>' in html
    named = [c[3] for c in desk.scheduling.calls if c[1] == f"/clinics/{CLINIC}/patients/names"]
    assert named == [{"id": [BO]}], "Ana is not on the page: her name is not read (nor logged as read)"


def test_a_practitioner_starts_on_their_own_day_and_may_see_everyones(desk: Desk) -> None:
    desk.sign_in_as(credentials(["practitioner"], practitioner_id=JO))
    own = desk.page(day_path())
    assert f'id="col-{JO}"' in own
    assert f'id="col-{IDA}"' not in own
    assert f'<option value="{JO}" selected>Jo Park</option>' in own
    everyone = desk.page(day_path(practitioner=""))
    assert f'id="col-{JO}"' in everyone
    assert f'id="col-{IDA}"' in everyone
    assert 'href="/staff/day?date=2036-03-29&amp;practitioner="' in everyone, "and so does the next day"


def test_previous_and_next_day_keep_the_filters(desk: Desk) -> None:
    html = desk.page(day_path(practitioner=JO))
    assert f'href="/staff/day?date=2036-03-27&amp;practitioner={JO}"' in html
    assert f'href="/staff/day?date=2036-03-29&amp;practitioner={JO}"' in html


def test_a_date_that_is_not_a_date_says_so_and_shows_today(desk: Desk) -> None:
    html = desk.page("/staff/day?date=2026-02-30")
    assert "<title>Error:" in html
    assert "Enter a real date, like 2026-03-27" in html


def test_checking_in_sends_the_version_and_comes_back_to_the_day_with_a_message(desk: Desk) -> None:
    ident = str(uuid.uuid4())
    desk.scheduling.routes[("POST", f"/appointments/{ident}/arrive")] = appointment(ident, local(9))
    back = day_path()
    response = desk.client.post(
        f"/staff/appointments/{ident}/arrive",
        data={"version": "3", "patient": "Ana Li", "back": back, "form_token": "t1"},
    )
    assert response.status_code == 303
    assert response.location == f"{back}#appt-{ident}"
    assert desk.scheduling.headers[-1] == {"If-Match": '"3"'}
    assert desk.scheduling.posted(f"/appointments/{ident}/arrive") == [None]
    assert "Ana Li is checked in." in desk.page(back)
    # The same form again (a double click) does nothing more.
    again = desk.client.post(
        f"/staff/appointments/{ident}/arrive",
        data={"version": "3", "patient": "Ana Li", "back": back, "form_token": "t1"},
    )
    assert again.status_code == 303
    assert len(desk.scheduling.posted(f"/appointments/{ident}/arrive")) == 1


def test_no_show_and_cancel_carry_the_waive_fee_choice(desk: Desk) -> None:
    ident = str(uuid.uuid4())
    for action, path in (("no_show", "no-show"), ("cancel", "cancel")):
        desk.scheduling.routes[("POST", f"/appointments/{ident}/{path}")] = appointment(ident, local(9))
        desk.client.post(f"/staff/appointments/{ident}/{action}", data={"version": "3", "waive_fee": "true"})
        desk.client.post(f"/staff/appointments/{ident}/{action}", data={"version": "3"})
        assert desk.scheduling.posted(f"/appointments/{ident}/{path}") == [
            {"waive_fee": True},
            {"waive_fee": False},
        ]


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (ApiError(422, "Unprocessable Entity", "an appointment that is arrived cannot be marked arrived"),
         "Could not check in: only a booked appointment can be checked in, from the day it is on."),
        (ApiError(412, "Precondition Failed"), "Someone else changed this appointment meanwhile."),
        (ApiError(404, "Not Found"), "This appointment could not be found any more."),
    ],
)  # fmt: skip
def test_a_refusal_is_a_sentence_next_to_the_block_never_the_apis_words(
    desk: Desk, error: ApiError, sentence: str
) -> None:
    ident = str(uuid.uuid4())
    desk.scheduling.routes[("GET", "/appointments")] = [appointment(ident, local(9))]
    desk.scheduling.routes[("POST", f"/appointments/{ident}/arrive")] = error
    response = desk.client.post(
        f"/staff/appointments/{ident}/arrive", data={"version": "3", "back": day_path()}
    )
    assert response.status_code == 303
    html = desk.page(day_path())
    assert sentence in html
    block = html[html.index(f'id="appt-{ident}"') :]
    assert "<details open>" in block[:200]
    assert sentence in block
    assert error.detail not in html or not error.detail
    assert "Unprocessable" not in html
    assert "Precondition" not in html


def test_a_mangled_version_acts_on_the_current_one(desk: Desk) -> None:
    ident = str(uuid.uuid4())
    desk.scheduling.routes[("POST", f"/appointments/{ident}/complete")] = appointment(ident, local(9))
    response = desk.client.post(f"/staff/appointments/{ident}/complete", data={"version": "three"})
    assert response.status_code == 303
    assert desk.scheduling.headers[-1] is None
    assert "The patient&#39;s appointment is completed." in desk.page(day_path())


def test_the_way_back_is_the_day_page_only(desk: Desk) -> None:
    ident = str(uuid.uuid4())
    desk.scheduling.routes[("POST", f"/appointments/{ident}/arrive")] = appointment(ident, local(9))
    response = desk.client.post(
        f"/staff/appointments/{ident}/arrive", data={"back": "https://elsewhere.test/"}
    )
    assert response.location == f"/staff/day#appt-{ident}"


def test_staff_land_on_their_day_and_see_staff_links_only(desk: Desk) -> None:
    assert desk.client.get("/").location == "/staff"
    assert desk.client.get("/staff").location == "/staff/day"
    html = desk.page(day_path())
    nav = html[html.index('class="main-nav"') : html.index("</nav>", html.index('class="main-nav"'))]
    assert 'href="/staff/day" aria-current="page">Day</a>' in nav
    assert "My appointments" not in nav
    assert "Book" not in nav
    assert "Need help? Call your clinic" not in html  # the patient's help line, not the desk's


def test_staff_opening_a_patients_page_get_a_clear_403_not_a_loop(desk: Desk) -> None:
    html = desk.page("/appointments", status=403)
    assert "This page is not for your account" in html
    assert "staff account" in html


def test_a_patient_opening_a_staff_page_gets_a_403_page(desk: Desk) -> None:
    desk.sign_in_as(credentials(["patient"], clinic_id=None, patient_id=ANA))
    for path in ("/staff", "/staff/day", day_path()):
        html = desk.page(path, status=403)
        assert "This page is not for your account" in html
    response = desk.client.post(f"/staff/appointments/{uuid.uuid4()}/arrive", data={})
    assert response.status_code == 403
    assert not desk.scheduling.posted(f"/appointments/{uuid.uuid4()}/arrive")
    assert not any(method == "POST" for method, *_ in desk.scheduling.calls)


def test_billing_staff_see_no_day_only_their_billing_pages(desk: Desk) -> None:
    desk.sign_in_as(credentials(["billing"]))
    assert desk.page("/staff/day", status=403)
    landing = desk.page("/staff")
    assert 'href="/staff/billing"' in landing
    assert 'href="/staff/day"' not in landing
    assert 'href="/staff/patients"' not in landing


def test_nobody_signed_in_is_sent_to_sign_in(tmp_path: Path, desk: Desk) -> None:
    anonymous = desk.app.test_client()
    response = anonymous.get(day_path())
    assert response.status_code == 303
    assert response.location.startswith("/login?next=")


def test_organisation_wide_staff_pick_a_clinic(desk: Desk) -> None:
    desk.sign_in_as(credentials(["admin"], clinic_id=None))
    desk.scheduling.routes[("GET", "/clinics")] = [
        {"id": CLINIC, "name": "Vancouver IMS"},
        {"id": OTHER_CLINIC, "name": "Burnaby IMS"},
    ]
    html = desk.page("/staff/day")
    assert "Choose a clinic" in html
    assert f'href="/staff/day?clinic={CLINIC}"' in html
    day = desk.page(day_path(clinic=CLINIC))
    assert "Vancouver IMS" in day
    assert f'<option value="{OTHER_CLINIC}">Burnaby IMS</option>' in day
    # A clinic-scoped account always sees its own clinic, whatever the address says.
    desk.sign_in_as(credentials(["front_desk"]))
    assert "Vancouver IMS" in desk.page(day_path(clinic=OTHER_CLINIC))


def test_the_day_in_french(desk: Desk) -> None:
    desk.scheduling.routes[("GET", "/appointments")] = [
        appointment(str(uuid.uuid4()), local(9), status="arrived")
    ]
    desk.client.get("/staff/day?lang=fr")
    html = desk.page(day_path())
    assert "vendredi 28 mars 2036" in html
    assert "Arrivé" in html
    assert "Jour précédent" in html


class FilteredAppointments:
    """Scheduling's list as it answers a filtered query: pages of ``size`` and the parameters asked."""

    def __init__(self, count: int, size: int) -> None:
        self.items = [{"id": str(n)} for n in range(count)]
        self.size = size
        self.asked: list[dict[str, Any]] = []

    def request(self, method: str, path: str, *, params: dict[str, Any], **_: Any) -> Any:
        self.asked.append(params)
        page = params["page"]
        chunk = self.items[(page - 1) * self.size : page * self.size]
        total_pages = max(1, -(-len(self.items) // self.size))
        return SimpleNamespace(
            json=lambda: chunk, headers={"X-Pagination": json.dumps({"total_pages": total_pages})}
        )


def test_the_days_appointments_are_asked_for_the_clinic_and_the_days_instants_every_page() -> None:
    start = datetime(2026, 3, 8, 8, tzinfo=UTC)  # a DST day: 23 hours long in Vancouver
    api = FilteredAppointments(25, size=10)
    found = appointments_between(api, "token", "clinic-1", start, start + timedelta(hours=23))  # type: ignore[arg-type]
    assert [item["id"] for item in found] == [str(n) for n in range(25)]
    assert [a["page"] for a in api.asked] == [1, 2, 3]
    assert {a["page_size"] for a in api.asked} == {500}, "scheduling's largest page: a full day in one call"
    assert {(a["clinic_id"], a["starts_from"], a["starts_before"]) for a in api.asked} == {
        ("clinic-1", "2026-03-08T08:00:00+00:00", "2026-03-09T07:00:00+00:00")
    }


# --- moving an appointment from its block ----------------------------------------------------------------

SOON = (datetime.now(VANCOUVER) + timedelta(days=3)).date()
LATER = (datetime.now(VANCOUVER) + timedelta(days=10)).date()


def movable(desk: Desk, *, late: bool = False) -> str:
    """A booked appointment in three days (free cancelling over, when ``late``) and one free time in ten."""
    ident = str(uuid.uuid4())
    start = local(9, day=SOON)
    free_until = datetime.now(UTC) - timedelta(hours=1) if late else start - timedelta(hours=24)
    routes = desk.scheduling.routes
    routes[("GET", "/appointments")] = [appointment(ident, start)]
    routes[("GET", f"/appointments/{ident}")] = appointment(
        ident, start, free_cancellation_until=free_until.isoformat(), version=4
    )
    routes[("GET", f"/clinics/{CLINIC}/practitioners")] = [
        {"id": IDA, "display_name": "Ida Needham", "ims_qualified": True},
        {"id": JO, "display_name": "Jo Park", "ims_qualified": False},
    ]
    routes[("GET", f"/clinics/{CLINIC}/treatment-types")] = [
        {"id": ASSESS, "name": "IMS assessment", "kind": "assessment", "duration_minutes": 60}
    ]
    routes[("GET", f"/clinics/{CLINIC}/ims-clearance")] = {"cleared": False, "assessed": False}
    free = local(10, day=LATER)
    routes[("GET", f"/clinics/{CLINIC}/slots")] = lambda params, **_: [
        {"practitioner_id": params.get("practitioner_id") or IDA, "starts_at": free.isoformat()}
    ] if params["from"] <= LATER.isoformat() <= params["to"] else []  # fmt: skip
    billing = desk.app.extensions["web.apis"].billing
    billing.routes[("GET", f"/clinics/{CLINIC}/prices-in-force")] = []
    return ident


def at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def test_a_booked_block_offers_reschedule_with_its_version_and_a_link_to_its_patient(desk: Desk) -> None:
    ident = movable(desk)
    html = desk.page(day_path(SOON))
    block = html[html.index(f'id="appt-{ident}"') :]
    assert f'href="/staff/appointments/{ident}/move?version=3">Reschedule' in block
    assert f'href="/staff/patients/{ANA}">Open patient' in block  # the patient's history
    desk.sign_in_as(credentials(["practitioner"], practitioner_id=IDA))
    html = desk.page(day_path(SOON, practitioner=""))
    assert "/move?" not in html  # practitioners do not move appointments
    assert f'href="/staff/patients/{ANA}">Open patient' in html  # they read the patient's history
    assert desk.client.get(f"/staff/appointments/{ident}/move").status_code == 403


def test_the_desk_picks_a_free_time_checks_old_and_new_then_moves_it_at_the_version_it_saw(
    desk: Desk,
) -> None:
    ident = movable(desk, late=True)
    week = desk.page(f"/staff/appointments/{ident}/move?version=3")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", week)).replace("\u202f", " ")
    assert "Moving Ana Li's appointment" in text
    assert "Choose a new time" in text
    assert "with Ida Needham" in text
    slots = [c for c in desk.scheduling.calls if c[1].endswith("/slots")]
    assert {c[3]["practitioner_id"] for c in slots} == {IDA}  # the same practitioner by default
    free = local(10, day=LATER)
    review_path = f"/staff/appointments/{ident}/move/review?version=3&amp;at={at(free)}&amp;who={IDA}"
    assert review_path in week
    review = desk.page(review_path.replace("&amp;", "&"))
    assert "Check the new time" in review
    assert "<del>" in review
    assert "inside the clinic's late-cancellation period" in review
    assert "Moving it to another time has no fee." in review
    form = {"version": "3", "at": at(free), "who": IDA, "form_token": "m1"}
    desk.scheduling.routes[("POST", f"/appointments/{ident}/reschedule")] = appointment(ident, free)
    moved = desk.client.post(f"/staff/appointments/{ident}/move/review", data=form)
    assert moved.status_code == 303
    assert moved.location == f"/staff/day?date={LATER.isoformat()}#appt-{ident}"
    assert desk.scheduling.posted(f"/appointments/{ident}/reschedule") == [
        {"starts_at": free.isoformat(), "practitioner_id": IDA}
    ]
    assert desk.scheduling.headers[-1] == {"If-Match": '"3"'}
    assert "Ana Li&#39;s appointment is moved to" in desk.page(moved.location.split("#")[0])
    again = desk.client.post(f"/staff/appointments/{ident}/move/review", data=form)
    assert again.status_code == 303
    assert len(desk.scheduling.posted(f"/appointments/{ident}/reschedule")) == 1


def test_another_practitioner_or_any_can_be_asked_for(desk: Desk) -> None:
    ident = movable(desk)
    desk.page(f"/staff/appointments/{ident}/move?practitioner=any")
    slots = [c for c in desk.scheduling.calls if c[1].endswith("/slots")]
    assert "practitioner_id" not in slots[-1][3]
    html = desk.page(f"/staff/appointments/{ident}/move?practitioner={uuid.uuid4()}")  # unknown: the same
    assert f'<option value="{IDA}" selected>' in html


@pytest.mark.parametrize(
    ("error", "where", "sentence"),
    [
        (ApiError(412, "Precondition Failed"), "day", "Someone else changed this appointment meanwhile."),
        (ApiError(409, "Conflict"), "times", "That time was just taken. Please pick another."),
    ],
)
def test_a_stale_version_or_a_lost_time_is_said_in_a_sentence(
    desk: Desk, error: ApiError, where: str, sentence: str
) -> None:
    ident = movable(desk)
    desk.scheduling.routes[("POST", f"/appointments/{ident}/reschedule")] = error
    free = local(10, day=LATER)
    form = {"version": "3", "at": at(free), "who": IDA, "form_token": "m2"}
    response = desk.client.post(f"/staff/appointments/{ident}/move/review", data=form)
    assert response.status_code == 303
    if where == "day":
        assert response.location == f"/staff/day?date={SOON.isoformat()}#appt-{ident}"
        html = desk.page(response.location.split("#")[0])
        block = html[html.index(f'id="appt-{ident}"') :]
        assert sentence in block
    else:
        assert f"/staff/appointments/{ident}/move?" in response.location
        assert "taken=1" in response.location
        html = desk.page(response.location)
        assert sentence in html
        assert "<title>Error:" in html
    assert "Precondition" not in html


def test_only_a_booked_appointment_is_moved(desk: Desk) -> None:
    ident = movable(desk)
    desk.scheduling.routes[("GET", f"/appointments/{ident}")] = appointment(
        ident, local(9, day=SOON), status="arrived", version=5
    )
    response = desk.client.get(f"/staff/appointments/{ident}/move")
    assert response.location == f"/staff/day?date={SOON.isoformat()}#appt-{ident}"
    assert "Could not move: only a booked appointment can be moved." in desk.page(day_path(SOON))
    desk.client.get(f"/staff/appointments/{ident}/move?version=3")  # changed since the page showed it
    assert "Someone else changed this appointment meanwhile." in desk.page(day_path(SOON))


def test_a_busy_day_names_its_patients_in_calls_that_fit_a_request_line() -> None:
    patients = {str(uuid.uuid4()): ("Pat", str(n)) for n in range(170)}
    scheduling = FakeApi("scheduling", patient_names_route(CLINIC, patients))
    apis = Apis(scheduling=scheduling, billing=FakeApi("billing"), notifications=FakeApi("notifications"))

    names = staff_day.patient_names(apis, credentials(["front_desk"]), CLINIC, [*patients, *patients])

    assert names == {pid: f"Pat {n}" for pid, (_, n) in patients.items()}
    asked = [params["id"] for _, _, _, params in scheduling.calls]
    assert [len(ids) for ids in asked] == [80, 80, 10]  # gunicorn refuses a request line over 4,094 bytes
    assert sorted(pid for ids in asked for pid in ids) == sorted(patients)


def test_a_clinic_that_moved_time_zone_has_its_day_read_again_in_the_new_zone(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staff_day, "_ZONES", {})  # what this test teaches the page stays in this test
    clinic = desk.scheduling.routes[("GET", f"/clinics/{CLINIC}")]
    desk.page(day_path())  # learns the clinic's zone
    desk.scheduling.calls.clear()
    desk.scheduling.routes[("GET", f"/clinics/{CLINIC}")] = clinic | {"timezone": "America/Toronto"}

    html = desk.page(day_path())

    asked = [c[3]["starts_from"] for c in desk.scheduling.calls if c[1] == "/appointments"]
    toronto_midnight = datetime(DAY.year, DAY.month, DAY.day, tzinfo=ZoneInfo("America/Toronto"))
    assert asked[-1] == toronto_midnight.astimezone(UTC).isoformat()  # read again, in the new zone
    assert len(asked) == 2  # the guess (Vancouver's day) and the day read again
    assert "Times in Eastern Time." in html
    desk.scheduling.calls.clear()
    desk.page(day_path())
    assert len([c for c in desk.scheduling.calls if c[1] == "/appointments"]) == 1  # the zone is known now
