"""A clinic's patient list for its front desk, on SQLite and real PostgreSQL (issue 12; ADR 0006).

The desk searches its own clinic's patients only; a patient new to the clinic is found by exact e-mail or
phone and is then the clinic's (the desk can book their first visit); a patient who phones in is registered
without a password and claims the account with a password reset.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from clinic_shared.testing.clock import ManualClock
from scheduling.adapters import orm
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue
from .test_api import booking

DESK_PASSWORD = "front desk password 1"
CALLER = {
    "email": "Ola.Caller@example.test",
    "first_name": "Ola",
    "last_name": "Caller",
    "phone": "+16045550177",
}


def staff(api: Api, admin: dict[str, str], email: str, role: str, clinic_id: str) -> dict[str, str]:
    body = {"email": email, "password": DESK_PASSWORD, "roles": [role], "clinic_id": clinic_id}
    created = api.client.post("/staff-accounts", headers=admin, json=body)
    assert created.status_code == 201, created.json
    return api.token(email, DESK_PASSWORD)


def other_clinic(api: Api, admin: dict[str, str]) -> str:
    body = {
        "code": "VIC",
        "name": "Victoria IMS",
        "timezone": "America/Vancouver",
        "address": "2 Fort St",
        "phone": "+12505550100",
        "email": "front@victoria.test",
    }
    created = api.client.post("/clinics", headers=admin, json=body)
    assert created.status_code == 201, created.json
    return str(created.json["id"])


def search(client: FlaskClient, clinic_id: str, headers: dict[str, str], q: str = "") -> Any:
    return client.get(f"/clinics/{clinic_id}/patients", headers=headers, query_string={"q": q})


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json
    return [f"{p['first_name']} {p['last_name']}" for p in response.json]


def test_a_desk_registers_a_caller_who_claims_the_account_by_password_reset(
    api: Api, admin: dict[str, str], catalogue: Catalogue, container: Container
) -> None:
    desk = staff(api, admin, "desk@clinic.test", "front_desk", catalogue.clinic_id)
    created = api.client.post(f"/clinics/{catalogue.clinic_id}/patients", headers=desk, json=CALLER)
    assert created.status_code == 201, created.json
    patient = created.json
    assert (patient["email"], patient["phone"]) == ("ola.caller@example.test", "+16045550177")
    assert names(search(api.client, catalogue.clinic_id, desk, "ola")) == ["Ola Caller"]
    assert api.client.get(f"/patients/{patient['id']}", headers=desk).status_code == 200
    with container.engine.connect() as conn:
        routing_keys = conn.execute(select(orm.outbox.c.routing_key)).scalars().all()
        logged = conn.execute(select(orm.patient_access_log.c.action)).scalars().all()
    assert "scheduling.patient.registered" in routing_keys
    assert sorted(logged) == ["change", "read"], "the registration, then the desk's read"

    again = api.client.post(f"/clinics/{catalogue.clinic_id}/patients", headers=desk, json=CALLER)
    assert again.status_code == 409
    assert again.json["invalid-params"][0]["name"] == "email"

    # No password until the patient sets one through "Forgot your password?".
    assert api.client.post("/auth/password-reset", json={"email": CALLER["email"]}).status_code == 202
    token = api.last_secret("password_reset.requested")
    chosen = {"token": token, "password": "my own passphrase"}
    assert api.client.post("/auth/password-reset/confirm", json=chosen).status_code == 204
    own = api.token("ola.caller@example.test", "my own passphrase")
    assert api.client.get(f"/patients/{patient['id']}", headers=own).status_code == 200


def test_a_patient_new_to_the_clinic_is_found_by_exact_contact_only_and_then_booked(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    elsewhere = other_clinic(api, admin)
    patient, _ = api.register_patient("Nia.Far@example.test", phone="+16045550188", first_name="Nia")
    desk = staff(api, admin, "desk@clinic.test", "front_desk", catalogue.clinic_id)
    staff(api, admin, "desk2@clinic.test", "front_desk", elsewhere)

    # Not the clinic's yet: not in its search, not readable, not bookable.
    assert names(search(api.client, catalogue.clinic_id, desk, "nia")) == []
    assert api.client.get(f"/patients/{patient['id']}", headers=desk).status_code == 404
    first_visit = booking(catalogue, clock, hours_ahead=48, patient_id=patient["id"])
    assert api.client.post("/appointments", headers=desk, json=first_visit).status_code == 404

    find = f"/clinics/{catalogue.clinic_id}/patients/find"
    for partial in (
        {"email": "nia.far@example.tes"},
        {"email": "far@example.test"},
        {"phone": "+16045550189"},
    ):
        missed = api.client.post(find, headers=desk, json=partial)
        assert missed.status_code == 404, partial
        assert missed.json["invalid-params"][0]["name"] == next(iter(partial))
    for both_or_none in ({}, {"email": "nia.far@example.test", "phone": "+16045550188"}):
        assert api.client.post(find, headers=desk, json=both_or_none).status_code == 422

    found = api.client.post(find, headers=desk, json={"email": "NIA.FAR@example.test"})
    assert found.status_code == 200, found.json
    assert found.json["id"] == patient["id"]
    assert api.client.post(find, headers=desk, json={"phone": "+16045550188"}).json["id"] == patient["id"]
    assert names(search(api.client, catalogue.clinic_id, desk, "nia")) == ["Nia Li"]
    booked = api.client.post("/appointments", headers=desk, json=first_visit)
    assert booked.status_code == 201, booked.json
    with container.engine.connect() as conn:
        on_list = conn.execute(select(orm.clinic_patients)).mappings().all()
        reads = conn.execute(select(orm.patient_access_log.c.action)).scalars().all()
    assert [(str(row["clinic_id"]), str(row["patient_id"])) for row in on_list] == [
        (catalogue.clinic_id, patient["id"])
    ], "on the list once, however often found"
    assert reads.count("read") >= 2


def test_search_matches_every_word_in_name_email_or_phone_and_pages(
    api: Api, admin: dict[str, str], catalogue: Catalogue
) -> None:
    desk = staff(api, admin, "desk@clinic.test", "front_desk", catalogue.clinic_id)
    people = [
        ("Ana", "Lopez", "ana.l@example.test", "+16045550101"),
        ("Ana", "Moreau", "amoreau@example.test", "+16045550102"),
        ("Ben", "Lopez", "ben@example.test", None),
        ("Zoé", "100%_Real", "zoe@example.test", None),
    ]
    path = f"/clinics/{catalogue.clinic_id}/patients"
    for first, last, email, phone in people:
        body = {"first_name": first, "last_name": last, "email": email, "phone": phone}
        assert api.client.post(path, headers=desk, json=body).status_code == 201
    assert names(search(api.client, catalogue.clinic_id, desk, "lopez")) == ["Ana Lopez", "Ben Lopez"]
    assert names(search(api.client, catalogue.clinic_id, desk, "ANA lopez")) == ["Ana Lopez"]
    assert names(search(api.client, catalogue.clinic_id, desk, "604 555 0102")) == ["Ana Moreau"]
    assert names(search(api.client, catalogue.clinic_id, desk, "amoreau@")) == ["Ana Moreau"]
    assert names(search(api.client, catalogue.clinic_id, desk, "%_")) == ["Zoé 100%_Real"], (
        "wildcards are text"
    )
    paged = api.client.get(path, headers=desk, query_string={"page": 2, "page_size": 3})
    assert names(paged) == ["Ana Moreau"], "by last name: 100%_Real, Lopez, Lopez, then Moreau"
    assert json.loads(paged.headers["X-Pagination"])["total"] == 4


def test_only_the_clinics_own_desk_and_admins_keep_its_list(
    api: Api, admin: dict[str, str], catalogue: Catalogue
) -> None:
    elsewhere = other_clinic(api, admin)
    other_desk = staff(api, admin, "desk2@clinic.test", "front_desk", elsewhere)
    clerk = staff(api, admin, "billing@clinic.test", "billing", catalogue.clinic_id)
    _, patient = api.register_patient("pat@example.test")
    path = f"/clinics/{catalogue.clinic_id}/patients"
    for headers in (other_desk, patient):
        assert search(api.client, catalogue.clinic_id, headers).status_code == 404
        assert api.client.post(path, headers=headers, json=CALLER).status_code == 404
        assert (
            api.client.post(f"{path}/find", headers=headers, json={"email": "pat@example.test"}).status_code
            == 404
        )
    assert search(api.client, catalogue.clinic_id, clerk).status_code == 403
    assert search(api.client, catalogue.clinic_id, admin).status_code == 200  # organisation-wide admin
    assert api.client.get(path).status_code == 401


def test_an_erased_patient_is_neither_listed_nor_found(
    api: Api, admin: dict[str, str], catalogue: Catalogue
) -> None:
    desk = staff(api, admin, "desk@clinic.test", "front_desk", catalogue.clinic_id)
    created = api.client.post(f"/clinics/{catalogue.clinic_id}/patients", headers=desk, json=CALLER).json
    assert api.client.delete(f"/patients/{created['id']}", headers=admin).status_code == 204
    assert names(search(api.client, catalogue.clinic_id, desk, "")) == []
    find = f"/clinics/{catalogue.clinic_id}/patients/find"
    assert api.client.post(find, headers=desk, json={"phone": CALLER["phone"]}).status_code == 404


def test_the_clinics_staff_name_its_patients_in_one_call_and_each_is_logged(
    api: Api, admin: dict[str, str], catalogue: Catalogue, container: Container
) -> None:
    desk = staff(api, admin, "desk@clinic.test", "front_desk", catalogue.clinic_id)
    practitioner = staff(api, admin, "pt@clinic.test", "practitioner", catalogue.clinic_id)
    ola = api.client.post(f"/clinics/{catalogue.clinic_id}/patients", headers=desk, json=CALLER).json["id"]
    elsewhere = other_clinic(api, admin)
    stranger = api.client.post(
        f"/clinics/{elsewhere}/patients",
        headers=admin,
        json=CALLER | {"email": "s@example.test", "phone": None},
    ).json["id"]
    path = f"/clinics/{catalogue.clinic_id}/patients/names"

    named = api.client.get(path, headers=practitioner, query_string=[("id", ola), ("id", stranger)])

    assert named.status_code == 200, named.json
    assert named.json == [{"id": ola, "first_name": "Ola", "last_name": "Caller"}]  # not the other clinic's
    with container.engine.connect() as conn:
        reads = (
            conn.execute(
                select(orm.patient_access_log.c.patient_id).where(
                    orm.patient_access_log.c.resource == "patient name"
                )
            )
            .scalars()
            .all()
        )
    assert [str(r) for r in reads] == [ola]
    other_desk = staff(api, admin, "desk@victoria.test", "front_desk", elsewhere)
    assert api.client.get(path, headers=other_desk, query_string={"id": ola}).status_code == 404
    too_many = [("id", ola)] * 81
    refused = api.client.get(path, headers=desk, query_string=too_many)
    assert refused.status_code == 422
    assert "id" in json.dumps(refused.json)


def test_the_patients_booked_in_a_window_are_named_in_one_call_and_each_is_logged(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    desk = staff(api, admin, "desk@clinic.test", "front_desk", catalogue.clinic_id)
    ana, ana_headers = api.register_patient("ana@example.test")
    ben, ben_headers = api.register_patient("ben@example.test", first_name="Ben", last_name="Ode")
    _, cy_headers = api.register_patient("cy@example.test", first_name="Cy", last_name="Ng")
    for headers, hours in ((ana_headers, 48), (ben_headers, 72)):
        booked = api.client.post(
            "/appointments", headers=headers, json=booking(catalogue, clock, hours_ahead=hours)
        )
        assert booked.status_code == 201, booked.json
    cancelled = api.client.post(
        "/appointments", headers=cy_headers, json=booking(catalogue, clock, hours_ahead=52)
    )
    assert cancelled.status_code == 201, cancelled.json
    gone = api.client.post(
        f"/appointments/{cancelled.json['id']}/cancel", headers=cy_headers, json={"reason": "away"}
    )
    assert gone.status_code == 200, gone.json
    path = f"/clinics/{catalogue.clinic_id}/patients/names"
    now = clock.now()

    def window(start_hours: int, end_hours: int) -> dict[str, str]:
        return {
            "booked_from": (now + timedelta(hours=start_hours)).isoformat(),
            "booked_before": (now + timedelta(hours=end_hours)).isoformat(),
        }

    named = api.client.get(path, headers=desk, query_string=window(47, 53))

    assert named.status_code == 200, named.json
    assert sorted((n["first_name"], n["id"]) for n in named.json) == sorted(
        [("Ana", ana["id"]), ("Cy", cancelled.json["patient_id"])]
    ), "booked in the window, in any status (Cy cancelled); Ben's visit is later"
    with container.engine.connect() as conn:
        reads = conn.execute(
            select(orm.patient_access_log.c.patient_id).where(
                orm.patient_access_log.c.resource == "patient name"
            )
        ).scalars()
        assert sorted(str(r) for r in reads) == sorted([ana["id"], cancelled.json["patient_id"]])
    assert {n["id"] for n in api.client.get(path, headers=desk, query_string=window(47, 73)).json} == {
        ana["id"],
        ben["id"],
        cancelled.json["patient_id"],
    }
    elsewhere = other_clinic(api, admin)
    other_desk = staff(api, admin, "desk@victoria.test", "front_desk", elsewhere)
    assert api.client.get(path, headers=other_desk, query_string=window(47, 50)).status_code == 404
    theirs = api.client.get(
        f"/clinics/{elsewhere}/patients/names", headers=other_desk, query_string=window(0, 99)
    )
    assert theirs.status_code == 200
    assert theirs.json == [], "the other clinic's window names none of this clinic's patients"
    assert api.client.get(path, headers=ana_headers, query_string=window(47, 50)).status_code == 404, (
        "staff only"
    )


def test_a_names_query_says_which_field_is_wrong(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    desk = staff(api, admin, "desk@clinic.test", "front_desk", catalogue.clinic_id)
    path = f"/clinics/{catalogue.clinic_id}/patients/names"
    now = clock.now()
    start, later = now.isoformat(), (now + timedelta(days=1)).isoformat()
    for query, field in (
        ({}, "booked_from"),
        ({"booked_from": start}, "booked_before"),
        ({"id": str(uuid.uuid4()), "booked_from": start, "booked_before": later}, "id"),
        ({"booked_from": later, "booked_before": start}, "booked_before"),
        ({"booked_from": start, "booked_before": (now + timedelta(days=32)).isoformat()}, "booked_before"),
        ({"booked_from": "tomorrow", "booked_before": later}, "booked_from"),
    ):
        refused = api.client.get(path, headers=desk, query_string=query)
        assert refused.status_code == 422, (query, refused.json)
        assert field in {p["name"] for p in refused.json["invalid-params"]}, (query, refused.json)
