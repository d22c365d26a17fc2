"""Clinic tenancy (ADR 0006) on SQLite and PostgreSQL: staff of one clinic neither see nor change another's.

Two clinics, each with its own clinic admin, front desk and practitioner accounts and some data. A generated
sweep calls every route of the app with clinic 1's ids as clinic 2's staff; targeted tests pin the rules.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.reporting import say
from scheduling.bootstrap import Container
from scheduling.entrypoints.cli import main

from ..conftest import Api, Catalogue, clear_for_ims
from .test_api import booking
from .test_lifecycle import events_of
from .test_plans import next_monday, plan_body

STAFF_PASSWORD = "staff password 1"


@dataclass
class Clinic2:
    clinic_id: str
    practitioner_id: str
    assessment_id: str


@dataclass
class World:
    """Clinic 1 (the catalogue) and clinic 2, their staff, and objects of each."""

    c1: Catalogue
    c2: Clinic2
    admin1: dict[str, str]
    desk1: dict[str, str]
    practitioner1: dict[str, str]
    admin2: dict[str, str]
    desk2: dict[str, str]
    practitioner2: dict[str, str]
    # clinic 1's objects, by the path parameter that names them
    ids1: dict[str, str] = field(default_factory=dict)
    # every id of clinic 1 (a 2xx answer to clinic 2's staff must hold none of them)
    secrets1: set[str] = field(default_factory=set)
    patient2_id: str = ""
    appointment2_id: str = ""


def staff_account(
    api: Api,
    by: dict[str, str],
    roles: list[str],
    *,
    clinic_id: str | None = None,
    practitioner_id: str | None = None,
) -> dict[str, str]:
    email = f"{roles[0]}-{uuid.uuid4().hex[:8]}@clinic.test"
    body: dict[str, Any] = {"email": email, "password": STAFF_PASSWORD, "roles": roles}
    body |= {"clinic_id": clinic_id} if clinic_id else {"organisation_wide": True}
    if practitioner_id:
        body["practitioner_id"] = practitioner_id
    created = api.client.post("/staff-accounts", headers=by, json=body)
    assert created.status_code == 201, created.json
    return api.token(email, STAFF_PASSWORD)


def created(response: Any) -> Any:
    assert response.status_code in (200, 201), response.json
    return response.json


@pytest.fixture
def world(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> World:
    post = api.client.post
    clinic2 = created(
        post(
            "/clinics",
            headers=admin,
            json={
                "code": "TOR",
                "name": "Toronto IMS",
                "timezone": "America/Toronto",
                "address": "2 Bay St",
                "phone": "+14165550100",
                "email": "front@tor.test",
            },
        )
    )["id"]
    c2 = Clinic2(
        clinic_id=clinic2,
        practitioner_id=created(
            post(
                f"/clinics/{clinic2}/practitioners",
                headers=admin,
                json={"display_name": "Tom", "registration_number": "PT-9"},
            )
        )["id"],
        assessment_id=created(
            post(
                f"/clinics/{clinic2}/treatment-types",
                headers=admin,
                json={"code": "ASSESS", "name": "Assessment", "kind": "assessment", "duration_minutes": 60},
            )
        )["id"],
    )
    c1 = catalogue
    w = World(
        c1=c1,
        c2=c2,
        admin1=staff_account(api, admin, ["admin"], clinic_id=c1.clinic_id),
        desk1=staff_account(api, admin, ["front_desk"], clinic_id=c1.clinic_id),
        practitioner1=staff_account(
            api, admin, ["practitioner"], clinic_id=c1.clinic_id, practitioner_id=c1.ims_practitioner_id
        ),
        admin2=staff_account(api, admin, ["admin"], clinic_id=c2.clinic_id),
        desk2=staff_account(api, admin, ["front_desk"], clinic_id=c2.clinic_id),
        practitioner2=staff_account(
            api, admin, ["practitioner"], clinic_id=c2.clinic_id, practitioner_id=c2.practitioner_id
        ),
    )

    # Clinic 1: a patient cleared for IMS with a plan, a booked appointment, a waitlist entry holding an
    # offer (another patient's cancelled time), a closure, time off, a room and a practitioner's feed.
    patient1, patient1_headers = api.register_patient("one@example.test")
    clear_for_ims(api, admin, c1, clock, patient1["id"])
    # Back to the real time: tokens issued from here on are checked against it.
    clock.advance(timedelta(hours=-4))
    plan = created(
        post("/plans", headers=w.admin1, json=plan_body(c1, patient1["id"], next_monday(clock, weeks=2)))
    )
    appointment1 = created(
        post("/appointments", headers=patient1_headers, json=booking(c1, clock, hours_ahead=96))
    )
    other1, other1_headers = api.register_patient("other-one@example.test")
    freed = created(post("/appointments", headers=other1_headers, json=booking(c1, clock, hours_ahead=48)))
    entry = created(
        post(
            "/waitlist",
            headers=patient1_headers,
            json={
                "clinic_id": c1.clinic_id,
                "treatment_type_id": c1.assessment_id,
                "not_before": (clock.now() + timedelta(hours=24)).isoformat(),
                "not_after": (clock.now() + timedelta(hours=72)).isoformat(),
            },
        )
    )
    created(post(f"/appointments/{freed['id']}/cancel", headers=other1_headers, json={}))
    [offer] = events_of(container, "scheduling.waitlist.offered")
    day = (clock.now() + timedelta(days=30)).date().isoformat()
    closure = created(
        post(
            f"/clinics/{c1.clinic_id}/closures",
            headers=w.admin1,
            json={"starts_on": day, "ends_on": day, "reason": "holiday"},
        )
    )
    time_off = created(
        post(
            f"/clinics/{c1.clinic_id}/practitioners/{c1.ims_practitioner_id}/time-off",
            headers=w.admin1,
            json={
                "starts_at": (clock.now() + timedelta(days=20)).isoformat(),
                "ends_at": (clock.now() + timedelta(days=21)).isoformat(),
                "reason": "course",
            },
        )
    )
    room = created(post(f"/clinics/{c1.clinic_id}/rooms", headers=w.admin1, json={"name": "Room A"}))
    feed = created(
        post(
            "/calendar-feeds",
            headers=w.admin1,
            json={"owner_kind": "practitioner", "owner_id": c1.ims_practitioner_id},
        )
    )
    w.ids1 = {
        "clinic_id": c1.clinic_id,
        "practitioner_id": c1.ims_practitioner_id,
        "patient_id": patient1["id"],
        "appointment_id": appointment1["id"],
        "plan_id": plan["id"],
        "entry_id": entry["id"],
        "offer_id": str(offer.data["offer_id"]),
        "closure_id": closure["id"],
        "time_off_id": time_off["id"],
        "feed_id": feed["id"],
    }
    w.secrets1 = set(w.ids1.values()) | {
        c1.assessor_id,
        c1.assessment_id,
        c1.ims30_id,
        other1["id"],
        freed["id"],
        room["id"],
    }

    # Clinic 2: a patient of clinic 2 only, with an appointment there.
    patient2, patient2_headers = api.register_patient("two@example.test")
    appointment2 = created(
        post(
            "/appointments",
            headers=patient2_headers,
            json={
                "clinic_id": c2.clinic_id,
                "practitioner_id": c2.practitioner_id,
                "treatment_type_id": c2.assessment_id,
                "starts_at": (clock.now() + timedelta(hours=50)).isoformat(),
            },
        )
    )
    w.patient2_id, w.appointment2_id = patient2["id"], appointment2["id"]
    return w


# --- the generated sweep --------------------------------------------------------------------------------

# Routes another clinic's staff may get a 2xx from: their answers are still checked to hold none of clinic
# 1's ids. Anything else must answer 401/403/404/405/409/415/422: a new route is covered or fails the sweep.
ALLOWED_2XX = {
    # public: no caller, no clinic
    ("GET", "/static/<path:filename>"),
    ("GET", "/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),  # request counts per route and the outbox backlog; no ids, no patient data
    ("GET", "/docs"),
    ("GET", "/docs/start.js"),
    ("GET", "/docs/static/<path:filename>"),
    ("GET", "/.well-known/jwks.json"),
    ("POST", "/auth/token"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/password-reset"),
    ("POST", "/auth/password-reset/confirm"),
    ("POST", "/patients"),  # sign-up
    ("POST", "/patients/confirm"),  # the e-mailed link's token is the credential
    ("GET", "/feeds/<string:token>.ics"),  # the token in the path is the credential
    # lists: filtered to the caller's own clinic
    ("GET", "/clinics"),
    ("GET", "/appointments"),
    ("GET", "/plans"),
    ("GET", "/waitlist"),
}
REFUSALS = {401, 403, 404, 405, 409, 415, 422}
PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def plausible_requests(w: World, clock: ManualClock) -> dict[tuple[str, str], dict[str, Any]]:
    """Well-formed bodies and query strings naming clinic 1's objects, as its own staff would send them (else
    ``{}``): a refusal then comes from tenancy, not from validation."""
    c1, ids = w.c1, w.ids1
    soon = (clock.now() + timedelta(hours=60)).isoformat()
    later = (clock.now() + timedelta(hours=90)).isoformat()
    day = (clock.now() + timedelta(days=40)).date().isoformat()
    hours = {"hours": [{"weekday": 0, "starts": "09:00", "ends": "17:00"}]}
    slot_query = {
        "treatment_type_id": c1.assessment_id,
        "from": clock.now().date().isoformat(),
        "to": (clock.now() + timedelta(days=3)).date().isoformat(),
    }
    plan = plan_body(c1, ids["patient_id"], next_monday(clock, weeks=8))
    return {
        ("POST", "/staff-accounts"): {
            "json": {
                "email": "sweep@clinic.test",
                "password": STAFF_PASSWORD,
                "roles": ["front_desk"],
                "clinic_id": c1.clinic_id,
            }
        },
        ("POST", "/clinics"): {
            "json": {
                "code": "SWP",
                "name": "Sweep",
                "timezone": "UTC",
                "address": "x",
                "phone": "+16045550101",
                "email": "s@clinic.test",
            }
        },
        ("PATCH", "/patients/<uuid:patient_id>"): {"json": {"first_name": "Mallory"}},
        ("POST", "/clinics/<uuid:clinic_id>/practitioners"): {
            "json": {"display_name": "Mal", "registration_number": "PT-66"}
        },
        ("POST", "/clinics/<uuid:clinic_id>/treatment-types"): {
            "json": {"code": "MAL", "name": "Mal", "kind": "assessment", "duration_minutes": 30}
        },
        ("GET", "/clinics/<uuid:clinic_id>/ims-clearance"): {
            "query_string": {"patient_id": ids["patient_id"]}
        },
        ("PUT", "/clinics/<uuid:clinic_id>/opening-hours"): {"json": hours},
        ("PATCH", "/clinics/<uuid:clinic_id>/booking-policy"): {"json": {"slot_step_minutes": 5}},
        ("POST", "/clinics/<uuid:clinic_id>/closures"): {
            "json": {"starts_on": day, "ends_on": day, "reason": "x"}
        },
        ("PUT", "/clinics/<uuid:clinic_id>/practitioners/<uuid:practitioner_id>/working-hours"): {
            "json": hours
        },
        ("POST", "/clinics/<uuid:clinic_id>/practitioners/<uuid:practitioner_id>/time-off"): {
            "json": {"starts_at": soon, "ends_at": later, "reason": "x"}
        },
        ("GET", "/clinics/<uuid:clinic_id>/time-off"): {"query_string": {"from": soon, "to": later}},
        ("POST", "/clinics/<uuid:clinic_id>/rooms"): {"json": {"name": "Room Z"}},
        ("GET", "/clinics/<uuid:clinic_id>/slots"): {"query_string": slot_query},
        ("GET", "/fhir/Slot"): {"query_string": slot_query | {"clinic_id": c1.clinic_id}},
        ("POST", "/appointments"): {
            "json": booking(c1, clock, hours_ahead=120, patient_id=ids["patient_id"])
            | {"practitioner_id": c1.assessor_id}
        },
        ("GET", "/appointments"): {"query_string": {"patient_id": ids["patient_id"]}},
        ("POST", "/appointments/<uuid:appointment_id>/reschedule"): {"json": {"starts_at": soon}},
        ("POST", "/appointments/<uuid:appointment_id>/suitability"): {
            "json": {"suitable": True, "consent_recorded": True}
        },
        ("POST", "/plans"): {"json": plan},
        ("POST", "/plans/preview"): {"json": plan},
        ("GET", "/plans"): {"query_string": {"patient_id": ids["patient_id"]}},
        ("POST", "/plans/<uuid:plan_id>/extend"): {"json": {"sessions": 1}},
        ("POST", "/waitlist"): {
            "json": {
                "clinic_id": c1.clinic_id,
                "treatment_type_id": c1.assessment_id,
                "not_before": soon,
                "not_after": later,
                "patient_id": ids["patient_id"],
            }
        },
        ("POST", "/calendar-feeds"): {
            "json": {"owner_kind": "practitioner", "owner_id": c1.ims_practitioner_id}
        },
    }


def sweep(app: Flask, api: Api, w: World, clock: ManualClock, callers: dict[str, dict[str, str]]) -> int:
    requests = plausible_requests(w, clock)
    statuses: Counter[int] = Counter()
    failures = []
    sent = 0
    routes = 0
    for rule in app.url_map.iter_rules():
        routes += 1
        path = PARAM.sub(lambda m: w.ids1.get(m.group(1), str(uuid.uuid4())), rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            options = requests.get((method, rule.rule), {"json": {}} if method != "GET" else {})
            for who, headers in callers.items():
                response = api.client.open(path, method=method, headers=headers, **options)
                sent += 1
                statuses[response.status_code] += 1
                status = response.status_code
                if 200 <= status < 300:
                    leaked = sorted(s for s in w.secrets1 if s in response.get_data(as_text=True))
                    if (method, rule.rule) not in ALLOWED_2XX or leaked:
                        failures.append(f"{who} {method} {rule.rule}: {status} (leaks {leaked})")
                elif status not in REFUSALS and (method, rule.rule) not in ALLOWED_2XX:
                    failures.append(f"{who} {method} {rule.rule}: {status} {response.get_data(as_text=True)}")
                elif status >= 500:
                    failures.append(f"{who} {method} {rule.rule}: {status}")
    say(f"tenancy sweep: {sent} requests over {routes} routes; statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n".join(failures)
    return sent


def test_no_route_gives_clinic_twos_staff_clinic_ones_objects(
    api: Api, world: World, clock: ManualClock, admin: dict[str, str]
) -> None:
    app = api.client.application
    sent = sweep(app, api, world, clock, {"admin2": world.admin2, "desk2": world.desk2})
    assert sent > 0
    # Nothing of clinic 1 changed: its own admin still reads it as it was.
    c1 = world.c1.clinic_id
    assert api.client.get(f"/clinics/{c1}/opening-hours", headers=world.admin1).json == {"hours": []}
    assert api.client.get(f"/clinics/{c1}/rooms", headers=world.admin1).json[0]["name"] == "Room A"
    appointment = api.client.get(f"/appointments/{world.ids1['appointment_id']}", headers=world.admin1).json
    assert appointment["status"] == "booked"
    assert appointment["starts_at"] != (clock.now() + timedelta(hours=60)).isoformat()
    assert len(api.client.get(f"/clinics/{c1}/practitioners", headers=world.admin1).json) == 2
    # And the sweep's bodies are ones clinic 1's own admin would get answered: a few of them, for real.
    requests = plausible_requests(world, clock)
    for key in (
        ("PUT", "/clinics/<uuid:clinic_id>/opening-hours"),
        ("POST", "/clinics/<uuid:clinic_id>/rooms"),
        ("POST", "/waitlist"),
    ):
        path = PARAM.sub(lambda m: world.ids1[m.group(1)], key[1])
        answer = api.client.open(path, method=key[0], headers=world.admin1, **requests[key])
        assert answer.status_code in (200, 201), (key, answer.json)


# --- targeted ---------------------------------------------------------------------------------------------


def assert_not_found(response: Any, field: str | None = None) -> None:
    assert response.status_code == 404, response.json
    assert response.content_type == "application/problem+json"
    if field is not None:
        assert [p["name"] for p in response.json["invalid-params"]] == [field]


def test_another_clinics_admin_finds_nothing_of_clinic_one(api: Api, world: World) -> None:
    c1, admin2 = world.c1.clinic_id, world.admin2
    client = api.client
    assert_not_found(client.get(f"/appointments/{world.ids1['appointment_id']}", headers=admin2))
    assert_not_found(client.get(f"/plans/{world.ids1['plan_id']}", headers=admin2))
    assert_not_found(client.get(f"/clinics/{c1}", headers=admin2), "clinic_id")
    hours = {"hours": [{"weekday": 0, "starts": "09:00", "ends": "17:00"}]}
    assert_not_found(client.put(f"/clinics/{c1}/opening-hours", headers=admin2, json=hours), "clinic_id")
    assert_not_found(
        client.patch(f"/clinics/{c1}/booking-policy", headers=admin2, json={"slot_step_minutes": 5}),
        "clinic_id",
    )
    assert_not_found(
        client.post(
            f"/clinics/{c1}/practitioners",
            headers=admin2,
            json={"display_name": "Mal", "registration_number": "PT-66"},
        ),
        "clinic_id",
    )
    assert_not_found(client.post(f"/clinics/{c1}/rooms", headers=admin2, json={"name": "Z"}), "clinic_id")
    # Clinic 1 is as it was; clinic 2's admin manages clinic 2.
    assert client.get(f"/clinics/{c1}/opening-hours", headers=world.admin1).json == {"hours": []}
    assert [r["name"] for r in client.get(f"/clinics/{c1}/rooms", headers=world.admin1).json] == ["Room A"]
    c2 = world.c2.clinic_id
    assert client.put(f"/clinics/{c2}/opening-hours", headers=admin2, json=hours).status_code == 200
    assert client.post(f"/clinics/{c2}/rooms", headers=admin2, json={"name": "Z"}).status_code == 201


def test_a_practitioner_cannot_mark_another_clinics_appointment_arrived(api: Api, world: World) -> None:
    theirs = world.appointment2_id
    assert_not_found(api.client.post(f"/appointments/{theirs}/arrive", headers=world.practitioner1))
    assert_not_found(api.client.post(f"/appointments/{theirs}/no-show", headers=world.practitioner1, json={}))
    assert_not_found(api.client.post(f"/appointments/{theirs}/complete", headers=world.desk1))
    assert_not_found(api.client.post(f"/appointments/{theirs}/cancel", headers=world.desk1, json={}))
    assert_not_found(api.client.get(f"/fhir/Appointment/{theirs}", headers=world.practitioner1))
    assert_not_found(api.client.get(f"/appointments/{theirs}/calendar.ics", headers=world.practitioner1))
    seen = api.client.get(f"/appointments/{theirs}", headers=world.practitioner2)
    assert seen.status_code == 200
    assert seen.json["status"] == "booked"


def test_lists_show_the_callers_clinic_only(api: Api, world: World, admin: dict[str, str]) -> None:
    def ids(path: str, headers: dict[str, str]) -> set[str]:
        response = api.client.get(path, headers=headers)
        assert response.status_code == 200, response.json
        return {item["id"] for item in response.json}

    def clinics(path: str, headers: dict[str, str]) -> set[str]:
        response = api.client.get(path, headers=headers)
        assert response.status_code == 200, response.json
        return {item["clinic_id"] for item in response.json}

    c1, c2 = world.c1.clinic_id, world.c2.clinic_id
    for path in ("/appointments", "/plans", "/waitlist"):
        assert clinics(path, world.desk2) <= {c2}
        assert clinics(path, world.admin1) == {c1}
    assert clinics("/appointments", world.desk2) == {c2}
    assert clinics("/appointments", admin) == {c1, c2}
    assert world.ids1["appointment_id"] not in ids(
        f"/appointments?patient_id={world.ids1['patient_id']}", world.admin2
    )
    assert ids("/clinics", world.admin2) == {c2}
    assert ids("/clinics", world.admin1) == {c1}
    assert ids("/clinics", admin) == {c1, c2}
    offer = world.ids1["offer_id"]
    assert_not_found(api.client.get(f"/waitlist/offers/{offer}", headers=world.desk2))
    assert api.client.get(f"/waitlist/offers/{offer}", headers=world.desk1).status_code == 200


def test_a_clinic_admin_manages_accounts_of_their_own_clinic_only(
    api: Api, world: World, admin: dict[str, str]
) -> None:
    client = api.client

    def account(by: dict[str, str], **scope: Any) -> Any:
        email = f"new-{uuid.uuid4().hex[:8]}@clinic.test"
        body = {"email": email, "password": STAFF_PASSWORD, "roles": ["front_desk"]} | scope
        return client.post("/staff-accounts", headers=by, json=body)

    clinic = {
        "code": "NEW",
        "name": "New",
        "timezone": "UTC",
        "address": "x",
        "phone": "+16045550102",
        "email": "n@clinic.test",
    }
    refused = client.post("/clinics", headers=world.admin1, json=clinic)
    assert refused.status_code == 403
    assert refused.json["detail"] == "only an organisation-wide admin creates clinics"
    wide = account(world.admin1, organisation_wide=True)
    assert wide.status_code == 403
    assert "organisation-wide" in wide.json["detail"]
    assert_not_found(account(world.admin1, clinic_id=world.c2.clinic_id), "clinic_id")
    neither = account(world.admin1)
    assert neither.status_code == 422
    assert [p["name"] for p in neither.json["invalid-params"]] == ["clinic_id"]
    both = account(world.admin1, clinic_id=world.c1.clinic_id, organisation_wide=True)
    assert both.status_code == 422
    assert [p["name"] for p in both.json["invalid-params"]] == ["organisation_wide"]
    # A practitioner of another clinic cannot be tied to an account of this one.
    assert_not_found(
        account(world.admin1, clinic_id=world.c1.clinic_id, practitioner_id=world.c2.practitioner_id),
        "practitioner_id",
    )
    own = account(world.admin1, clinic_id=world.c1.clinic_id)
    assert own.status_code == 201, own.json
    assert own.json["clinic_id"] == world.c1.clinic_id
    # The organisation-wide admin does all of it.
    assert client.post("/clinics", headers=admin, json=clinic).status_code == 201
    assert account(admin, organisation_wide=True).json["clinic_id"] is None
    assert account(admin, clinic_id=world.c2.clinic_id).status_code == 201
    hours = {"hours": [{"weekday": 1, "starts": "08:00", "ends": "12:00"}]}
    assert (
        client.put(f"/clinics/{world.c1.clinic_id}/opening-hours", headers=admin, json=hours).status_code
        == 200
    )


def test_clinic_staff_see_a_patient_once_they_have_a_relationship_with_the_clinic(
    api: Api, world: World, clock: ManualClock, admin: dict[str, str]
) -> None:
    client, c1 = api.client, world.c1
    patient, patient_headers = api.register_patient("new@example.test")
    theirs = world.patient2_id  # a patient of clinic 2 only
    for patient_id in (theirs, patient["id"]):
        assert_not_found(client.get(f"/patients/{patient_id}", headers=world.desk1))
        assert_not_found(
            client.patch(f"/patients/{patient_id}", headers=world.desk1, json={"phone": "+16045550111"})
        )
        assert_not_found(
            client.post("/appointments", headers=world.desk1, json=booking(c1, clock, patient_id=patient_id)),
            "patient_id",
        )
        assert_not_found(
            client.get(f"/clinics/{c1.clinic_id}/ims-clearance?patient_id={patient_id}", headers=world.desk1),
            "patient_id",
        )
    assert client.get(f"/patients/{theirs}", headers=world.desk2).status_code == 200
    assert client.get(f"/patients/{theirs}", headers=admin).status_code == 200

    # Once the patient books at clinic 1, its front desk sees them (and may book for them).
    created(client.post("/appointments", headers=patient_headers, json=booking(c1, clock, hours_ahead=140)))
    assert client.get(f"/patients/{patient['id']}", headers=world.desk1).json["id"] == patient["id"]
    rebooked = client.post(
        "/appointments",
        headers=world.desk1,
        json=booking(c1, clock, hours_ahead=100, patient_id=patient["id"]),
    )
    assert rebooked.status_code == 201, rebooked.json
    # Organisation-wide staff book for any patient.
    first_visit = client.post(
        "/appointments",
        headers=admin,
        json=booking(c1, clock, hours_ahead=30, patient_id=theirs) | {"practitioner_id": c1.assessor_id},
    )
    assert first_visit.status_code == 201, first_visit.json
    assert client.get(f"/patients/{theirs}", headers=world.desk1).status_code == 200


def test_the_command_line_creates_staff_in_a_clinic_or_organisation_wide(
    api: Api, catalogue: Catalogue, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULING_DATABASE_URL", database_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))

    def create_staff(email: str, *scope: str) -> Result:
        args = ["create-staff", "--email", email, "--password", STAFF_PASSWORD, "--role", "admin", *scope]
        return CliRunner().invoke(main, args)

    neither = create_staff("neither@clinic.test")
    assert neither.exit_code == 2
    assert "exactly one of --clinic and --organisation-wide" in neither.output
    both = create_staff("both@clinic.test", "--organisation-wide", "--clinic", catalogue.clinic_id)
    assert both.exit_code == 2
    unknown = create_staff("unknown@clinic.test", "--clinic", str(uuid.uuid4()))
    assert (unknown.exit_code, unknown.output.strip()) == (1, "Error: clinic not found")

    weak = CliRunner().invoke(
        main,
        [
            "create-staff",
            "--email",
            "weak@clinic.test",
            "--password",
            "password123",
            "--role",
            "admin",
            "--organisation-wide",
        ],
    )
    assert weak.exit_code == 1  # the API's password policy holds on the command line too
    assert "password" in weak.output
    assert create_staff("boss@clinic.test", "--organisation-wide").exit_code == 0
    assert create_staff("local@clinic.test", "--clinic", catalogue.clinic_id).exit_code == 0
    boss = api.token("boss@clinic.test", STAFF_PASSWORD)
    local = api.token("local@clinic.test", STAFF_PASSWORD)
    clinic = {
        "code": "CLI",
        "name": "Cli",
        "timezone": "UTC",
        "address": "x",
        "phone": "+16045550103",
        "email": "c@clinic.test",
    }
    assert api.client.post("/clinics", headers=local, json=clinic).status_code == 403
    assert api.client.post("/clinics", headers=boss, json=clinic).status_code == 201


# --- the patient access log (PIPA BC / PIPEDA: a patient may ask who accessed their record) ---------------


def access_log(api: Api, headers: dict[str, str], patient_id: str) -> list[dict[str, str]]:
    response = api.client.get(f"/patients/{patient_id}/access-log", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_staff_reads_and_changes_of_a_patient_record_are_logged_and_the_patients_own_are_not(
    api: Api, world: World, admin: dict[str, str]
) -> None:
    patient_id = world.ids1["patient_id"]
    before = access_log(api, admin, patient_id)
    assert api.client.get(f"/patients/{patient_id}", headers=world.desk1).status_code == 200
    changed = api.client.patch(
        f"/patients/{patient_id}", headers=world.admin1, json={"phone": "+16045550199"}
    )
    assert changed.status_code == 200, changed.json
    after = access_log(api, admin, patient_id)
    new = [(e["action"], e["resource"], e["actor_clinic_id"]) for e in after if e not in before]
    assert sorted(new) == [("change", "patient", world.c1.clinic_id), ("read", "patient", world.c1.clinic_id)]
    own = api.token("one@example.test", "correct horse battery")
    assert api.client.get(f"/patients/{patient_id}", headers=own).status_code == 200
    assert len(access_log(api, admin, patient_id)) == len(before) + 2


def test_only_admins_who_may_see_the_patient_read_the_log(api: Api, world: World) -> None:
    patient_id = world.ids1["patient_id"]
    assert api.client.get(f"/patients/{patient_id}", headers=world.desk1).status_code == 200
    assert {e["actor_clinic_id"] for e in access_log(api, world.admin1, patient_id)} == {world.c1.clinic_id}
    assert api.client.get(f"/patients/{patient_id}/access-log", headers=world.desk1).status_code == 403
    assert api.client.get(f"/patients/{patient_id}/access-log", headers=world.admin2).status_code == 404


def test_the_database_refuses_to_change_or_delete_the_log(
    api: Api, world: World, container: Container, database_url: str
) -> None:
    patient_id = world.ids1["patient_id"]
    assert api.client.get(f"/patients/{patient_id}", headers=world.desk1).status_code == 200
    for statement in ("UPDATE patient_access_log SET action = 'x'", "DELETE FROM patient_access_log"):
        with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
            conn.execute(text(statement))
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM patient_access_log")).scalar_one() >= 1


def test_a_patient_erases_their_personal_data_and_the_records_stay_under_their_id(
    api: Api, world: World, admin: dict[str, str], clock: ManualClock, container: Container
) -> None:
    patient, headers = api.register_patient("leaving@example.test", phone="+16045550142")
    booked = api.client.post(
        "/appointments",
        headers=headers,
        json=booking(world.c1, clock, hours_ahead=150) | {"practitioner_id": world.c1.assessor_id},
    )
    assert booked.status_code == 201, booked.json
    refused = api.client.delete(f"/patients/{patient['id']}", headers=headers)
    assert refused.status_code == 422, refused.json
    assert refused.json["invalid-params"][0]["name"] == "patient_id"
    assert (
        api.client.delete(f"/patients/{patient['id']}", headers=world.desk1).status_code == 404
    )  # not an admin
    assert (
        api.client.delete(f"/patients/{patient['id']}", headers=world.admin2).status_code == 404
    )  # not theirs
    cancelled = api.client.post(f"/appointments/{booked.json['id']}/cancel", headers=headers, json={})
    assert cancelled.status_code == 200, cancelled.json

    erased = api.client.delete(f"/patients/{patient['id']}", headers=headers)
    assert erased.status_code == 204, erased.json
    record = api.client.get(f"/patients/{patient['id']}", headers=admin).json
    assert (record["first_name"], record["last_name"], record["phone"]) == ("Erased", "Patient", None)
    assert record["email"].endswith("@erased.invalid")
    assert "leaving" not in record["email"]
    again = api.client.post(
        "/auth/token", json={"email": "leaving@example.test", "password": "correct horse battery"}
    )
    assert again.status_code == 401
    assert (
        api.client.get(f"/appointments/{booked.json['id']}", headers=admin).json["patient_id"]
        == patient["id"]
    )
    updated = events_of(container, "scheduling.patient.updated")[-1].data
    assert (updated["email"], updated["phone"], updated["first_name"]) == (record["email"], None, "Erased")
    assert "erasure" in {e["resource"] for e in access_log(api, admin, patient["id"])}
    # The address is free again: the person can sign up anew.
    anew, _ = api.register_patient("leaving@example.test")
    assert anew["id"] != patient["id"]


def test_a_patient_downloads_everything_scheduling_holds_about_them(
    api: Api, world: World, admin: dict[str, str]
) -> None:
    patient_id = world.ids1["patient_id"]
    own = api.token("one@example.test", "correct horse battery")
    assert api.client.get(f"/patients/{patient_id}", headers=world.desk1).status_code == 200
    export = api.client.get(f"/patients/{patient_id}/export", headers=own)
    assert export.status_code == 200, export.json
    assert export.json["patient"]["id"] == patient_id
    assert export.json["account_email"] == "one@example.test"
    assert world.ids1["appointment_id"] in {a["id"] for a in export.json["appointments"]}
    assert {e["patient_id"] for e in export.json["waitlist_entries"]} == {patient_id}
    assert ("read", "patient") in {(e["action"], e["resource"]) for e in export.json["access_log"]}
    other = api.register_patient("nosy@example.test")[1]
    for stranger in (other, world.desk1, world.admin2):
        assert api.client.get(f"/patients/{patient_id}/export", headers=stranger).status_code == 404
    assert api.client.get(f"/patients/{patient_id}/export", headers=admin).status_code == 200


def test_the_appointment_list_filters_by_clinic_practitioner_and_start_in_start_order(
    api: Api, world: World, admin: dict[str, str], clock: ManualClock
) -> None:
    everything = api.client.get("/appointments", headers=admin, query_string={"page_size": 100}).json
    assert {a["clinic_id"] for a in everything} == {world.c1.clinic_id, world.c2.clinic_id}
    first = world.ids1["appointment_id"]
    one = next(a for a in everything if a["id"] == first)
    window = {
        "clinic_id": world.c1.clinic_id,
        "practitioner_id": one["practitioner_id"],
        "starts_from": one["starts_at"],
        "starts_before": (datetime.fromisoformat(one["starts_at"]) + timedelta(minutes=1)).isoformat(),
    }
    listed = api.client.get("/appointments", headers=world.desk1, query_string=window)
    assert listed.status_code == 200, listed.json
    assert [a["id"] for a in listed.json] == [first]
    clinic1 = api.client.get(
        "/appointments", headers=admin, query_string={"clinic_id": world.c1.clinic_id, "page_size": 100}
    ).json
    assert {a["clinic_id"] for a in clinic1} == {world.c1.clinic_id}
    assert [a["starts_at"] for a in clinic1] == sorted(a["starts_at"] for a in clinic1)
    other = api.client.get(
        "/appointments", headers=world.desk2, query_string={"clinic_id": world.c1.clinic_id}
    )
    assert other.status_code == 404
