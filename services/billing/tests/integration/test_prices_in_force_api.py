"""What a patient reads before booking: each treatment's price in force (GET /clinics/{id}/prices-in-force).

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from clinic_shared.testing.tokens import TestIssuer

from .test_api import price_body, prices_url


def test_a_patient_reads_the_price_in_force_but_not_the_history_or_announced_changes(
    client: FlaskClient, issuer: TestIssuer
) -> None:
    clinic_id, assessment, ims = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    clerk = issuer.headers("billing")
    for treatment, cents, day in [
        (assessment, 11000, "2025-01-01"),
        (assessment, 12000, "2025-03-03"),  # today (the test clock)
        (assessment, 13000, "2025-06-01"),  # announced, not yet in force
        (ims, 9000, "2025-02-01"),
    ]:
        body = price_body(amount_cents=cents, effective_from=day)
        assert client.put(prices_url(clinic_id, treatment), json=body, headers=clerk).status_code == 201
    patient = issuer.headers("patient", patient_id=uuid.uuid4())
    url = f"/clinics/{clinic_id}/prices-in-force"

    today = client.get(url, headers=patient)

    assert today.status_code == 200
    assert sorted(
        (p["treatment_type_id"], p["amount_cents"], p["currency"]) for p in today.get_json()
    ) == sorted([(str(assessment), 12000, "CAD"), (str(ims), 9000, "CAD")])
    later = client.get(url, headers=patient, query_string={"on": "2025-06-02"}).get_json()
    assert {p["treatment_type_id"]: p["amount_cents"] for p in later}[str(assessment)] == 13000
    before = client.get(url, headers=patient, query_string={"on": "2024-12-31"}).get_json()
    assert before == []
    # Still: the whole price list is for staff.
    assert client.get(prices_url(clinic_id), headers=patient).status_code == 403
    assert client.get(url).status_code == 401


def test_prices_in_force_are_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert "get" in spec["paths"]["/clinics/{clinic_id}/prices-in-force"]
