"""GET /staff-accounts on SQLite and PostgreSQL: an admin lists a clinic's staff logins (ADR 0006 tenancy)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..conftest import Api, Catalogue

PASSWORD = "staff password 1"


def new_account(api: Api, by: dict[str, str], email: str, roles: list[str], **scope: Any) -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD, "roles": roles} | scope
    response = api.client.post("/staff-accounts", headers=by, json=body)
    assert response.status_code == 201, response.json
    return dict(response.json)


def listed(api: Api, headers: dict[str, str], clinic_id: str, **params: Any) -> Any:
    return api.client.get("/staff-accounts", headers=headers, query_string={"clinic_id": clinic_id} | params)


def second_clinic(api: Api, admin: dict[str, str]) -> str:
    body = {
        "code": "TOR",
        "name": "Toronto IMS",
        "timezone": "America/Toronto",
        "address": "2 Bay St",
        "phone": "+14165550100",
        "email": "front@tor.test",
    }
    response = api.client.post("/clinics", headers=admin, json=body)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def test_an_admin_lists_their_clinics_staff_by_email_disabled_ones_too(
    api: Api, admin: dict[str, str], catalogue: Catalogue
) -> None:
    clinic = catalogue.clinic_id
    boss = new_account(api, admin, "boss@clinic.test", ["admin"], clinic_id=clinic)
    ida = new_account(
        api,
        admin,
        "Ida@Clinic.test",
        ["practitioner"],
        clinic_id=clinic,
        practitioner_id=catalogue.ims_practitioner_id,
    )
    desk = new_account(api, admin, "desk@clinic.test", ["front_desk", "billing"], clinic_id=clinic)
    api.register_patient("patient@example.test")  # a patient's login is never a staff account
    boss_headers = api.token("boss@clinic.test", PASSWORD)
    assert api.client.post(f"/staff-accounts/{desk['id']}/disable", headers=boss_headers).status_code == 200

    response = listed(api, boss_headers, clinic)
    assert response.status_code == 200, response.json
    assert [a["email"] for a in response.json] == ["boss@clinic.test", "desk@clinic.test", "ida@clinic.test"]
    by_id = {a["id"]: a for a in response.json}
    assert by_id[desk["id"]]["active"] is False
    assert by_id[desk["id"]]["roles"] == ["billing", "front_desk"]
    assert by_id[ida["id"]] == {
        "id": ida["id"],
        "email": "ida@clinic.test",
        "roles": ["practitioner"],
        "clinic_id": clinic,
        "practitioner_id": catalogue.ims_practitioner_id,
        "patient_id": None,
        "active": True,
    }
    assert by_id[boss["id"]]["active"] is True
    assert "password" not in response.get_data(as_text=True)
    # The organisation-wide admin sees the same list; organisation-wide logins belong to no clinic's list.
    assert listed(api, admin, clinic).json == response.json


def test_the_list_is_paginated(api: Api, admin: dict[str, str], catalogue: Catalogue) -> None:
    for n in range(5):
        new_account(api, admin, f"desk{n}@clinic.test", ["front_desk"], clinic_id=catalogue.clinic_id)
    first = listed(api, admin, catalogue.clinic_id, page=1, page_size=2)
    assert first.status_code == 200
    assert [a["email"] for a in first.json] == ["desk0@clinic.test", "desk1@clinic.test"]
    assert json.loads(first.headers["X-Pagination"])["total"] == 5
    last = listed(api, admin, catalogue.clinic_id, page=3, page_size=2)
    assert [a["email"] for a in last.json] == ["desk4@clinic.test"]


def test_only_admins_list_and_a_clinic_admin_only_their_own_clinic(
    api: Api, admin: dict[str, str], catalogue: Catalogue
) -> None:
    clinic, other = catalogue.clinic_id, second_clinic(api, admin)
    new_account(api, admin, "boss@clinic.test", ["admin"], clinic_id=clinic)
    new_account(api, admin, "desk@clinic.test", ["front_desk"], clinic_id=clinic)
    new_account(api, admin, "boss@tor.test", ["admin"], clinic_id=other)
    boss = api.token("boss@clinic.test", PASSWORD)
    desk = api.token("desk@clinic.test", PASSWORD)
    _, patient = api.register_patient("patient@example.test")

    for headers in (desk, patient):
        refused = listed(api, headers, clinic)
        assert refused.status_code == 403, refused.json
    # Another clinic is not found (never forbidden: that would confirm it exists), nor is an unknown one.
    for clinic_id in (other, str(uuid.uuid4())):
        missing = listed(api, boss, clinic_id)
        assert missing.status_code == 404, missing.json
        assert [p["name"] for p in missing.json["invalid-params"]] == ["clinic_id"]
    assert listed(api, admin, str(uuid.uuid4())).status_code == 404
    # The organisation-wide admin lists any clinic.
    assert [a["email"] for a in listed(api, admin, other).json] == ["boss@tor.test"]
    # The clinic is required: a list without it would mix clinics.
    bare = api.client.get("/staff-accounts", headers=boss)
    assert bare.status_code == 422
    assert api.client.get("/staff-accounts").status_code == 401
