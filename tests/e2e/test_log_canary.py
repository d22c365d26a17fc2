"""No patient data in any log: a patient whose name, e-mail, phone and claim number are unique canaries goes
through sign-up, sign-in (right and wrong), booking, rescheduling, cancelling, contact preferences, a
coverage, a password reset and refused requests that echo the canaries back, in every service at DEBUG,
and then every process's log is searched for them. Ids may be logged; the canaries must not be.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .conftest import running_system
from .journey import Journey, next_week_at
from .system import Mailbox, System, wait_for

pytestmark = pytest.mark.e2e

MARK = uuid.uuid4().hex[:10]
FIRST, LAST = f"Canaryfirst{MARK}", f"Canarylast{MARK}"
EMAIL = f"canary-{MARK}@example.test"
PHONE = "+1604555" + str(int(MARK, 16))[-4:]
CLAIM = f"CLM{MARK}"
NOTE = f"canary note {MARK}"
CANARIES = {"first name": FIRST, "last name": LAST, "e-mail": EMAIL, "phone": PHONE, "claim": CLAIM}


@pytest.fixture(scope="module")
def chatty_system(mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    var_dir = tmp_path_factory.mktemp("canary")
    with running_system(mailbox, var_dir, with_web=False, extra_env={"LOG_LEVEL": "DEBUG"}) as running:
        yield running


@pytest.fixture
def journey(chatty_system: System) -> Iterator[Journey]:
    client = Journey(chatty_system)
    yield client
    client.http.close()


def test_a_patients_personal_data_appears_in_no_log(
    chatty_system: System, mailbox: Mailbox, journey: Journey
) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=9000)
    password = "canary patient password"
    signup = {"email": EMAIL, "password": password, "first_name": FIRST, "last_name": LAST, "phone": PHONE}
    patient_id = journey.sign_up(signup)["id"]
    wrong = journey.call(
        "POST", "scheduling", "/auth/token", json={"email": EMAIL, "password": "not it at all"}
    )
    assert wrong.status_code == 401
    patient = journey.token(EMAIL, password)
    # Refused input that carries the canaries: a second sign-up, a bad phone, a name too long.
    assert journey.call("POST", "scheduling", "/patients", json=signup).status_code in {201, 202, 409, 422}
    assert (
        journey.call(
            "PATCH", "scheduling", f"/patients/{patient_id}", patient, json={"phone": EMAIL}
        ).status_code
        == 422
    )
    assert (
        journey.call(
            "PATCH", "scheduling", f"/patients/{patient_id}", patient, json={"last_name": LAST * 20}
        ).status_code
        == 422
    )

    booked = journey.book(patient, catalogue, next_week_at(18))
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["id"]
    wait_for(lambda: mailbox.to(EMAIL), timeout=30, what="the confirmation")
    moved = journey.call(
        "POST",
        "scheduling",
        f"/appointments/{appointment}/reschedule",
        patient,
        json={"starts_at": next_week_at(19).isoformat()},
    )
    assert moved.status_code == 200, moved.text
    journey.ok("GET", "notifications", f"/contacts/{patient_id}/preferences", patient)
    coverage = journey.call(
        "POST",
        "billing",
        f"/patients/{patient_id}/coverages",
        admin,
        json={"clinic_id": catalogue["clinic_id"], "payer_kind": "icbc", "claim_number": CLAIM},
    )
    assert coverage.status_code in {201, 404, 422}, (
        coverage.text
    )  # 404 until billing has heard of the patient
    assert journey.call("POST", "scheduling", "/auth/password-reset", json={"email": EMAIL}).status_code in {
        200,
        202,
        204,
    }
    sms = journey.call("POST", "notifications", "/sms/inbound", data={"From": PHONE, "Body": f"STOP {NOTE}"})
    assert sms.status_code in {401, 403}  # unsigned
    cancelled = journey.call("POST", "scheduling", f"/appointments/{appointment}/cancel", patient, json={})
    assert cancelled.status_code == 200, cancelled.text
    wait_for(
        lambda: len(mailbox.to(EMAIL)) >= 3 or None, timeout=30, what="the cancellation and reset e-mails"
    )

    logs = chatty_system.logs()
    assert patient_id in logs or appointment in logs, (
        "the processes logged nothing at DEBUG: the test proves nothing"
    )
    leaked = {what: value for what, value in CANARIES.items() if value in logs}
    assert not leaked, f"patient data in the logs: {sorted(leaked)}"
