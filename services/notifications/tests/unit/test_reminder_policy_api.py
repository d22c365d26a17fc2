"""The reminder policy over HTTP: defaults, replacement by front desk or admin, named validation errors."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient

from clinic_shared.testing.tokens import TestIssuer

POLICY = {
    "email_hours_before": 72,
    "sms_hours_before": None,
    "skip_when_confirmed": False,
    "quiet_hours_start": "22:00",
    "quiet_hours_end": "08:30",
}


def test_a_clinic_without_its_own_policy_gets_the_default(client: FlaskClient, issuer: TestIssuer) -> None:
    clinic_id = uuid.uuid4()
    response = client.get(f"/clinics/{clinic_id}/reminder-policy", headers=issuer.headers("front_desk"))
    assert response.status_code == 200
    assert response.json == {
        "clinic_id": str(clinic_id),
        "email_hours_before": 48,
        "sms_hours_before": 24,
        "skip_when_confirmed": True,
        "quiet_hours_start": "21:30",
        "quiet_hours_end": "09:00",
        "updated_at": None,
    }


def test_admin_replaces_the_policy_and_reads_it_back(client: FlaskClient, issuer: TestIssuer) -> None:
    url = f"/clinics/{uuid.uuid4()}/reminder-policy"
    response = client.put(url, json=POLICY, headers=issuer.headers("admin"))
    assert response.status_code == 200
    again = client.get(url, headers=issuer.headers("front_desk")).json
    assert again is not None
    assert {key: again[key] for key in POLICY} == POLICY
    assert again["updated_at"] == "2025-03-03T17:00:00+00:00"


@pytest.mark.parametrize("roles", [("patient",), ("practitioner",), ("billing",)])
def test_only_front_desk_and_admins_see_or_change_the_policy(
    client: FlaskClient, issuer: TestIssuer, roles: tuple[str, ...]
) -> None:
    url = f"/clinics/{uuid.uuid4()}/reminder-policy"
    headers = issuer.headers(*roles, patient_id=uuid.uuid4())
    assert client.get(url, headers=headers).status_code == 403
    assert client.put(url, json=POLICY, headers=headers).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email_hours_before": 0}, "email_hours_before"),
        ({"sms_hours_before": "24"}, "sms_hours_before"),
        ({"quiet_hours_start": "25:00"}, "quiet_hours_start"),
        ({"quiet_hours_end": None}, "quiet_hours_end"),
        ({"quiet_hours_end": "22:00"}, "quiet_hours_end"),
        ({"promotional": True}, "promotional"),
    ],
)
def test_rejects_an_unworkable_policy_naming_the_field(
    client: FlaskClient, issuer: TestIssuer, change: dict[str, object], field: str
) -> None:
    response = client.put(
        f"/clinics/{uuid.uuid4()}/reminder-policy", json=POLICY | change, headers=issuer.headers("admin")
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_data(as_text=True)
