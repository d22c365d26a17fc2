"""The clinic admin's staff and practitioner pages over fake APIs: who may open them, what they show, send."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError
from web.testing import (
    FakeApi,
    PageClient,
    app_over_fakes,
    clinic_body,
    error_beside,
    sign_in,
    staff_credentials,
)

CLINIC = str(uuid.uuid4())
IDA, SAM = str(uuid.uuid4()), str(uuid.uuid4())
ME, DESK, GONE = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def credentials(roles: list[str], clinic_id: str | None = CLINIC, account_id: str = ME) -> Credentials:
    patient_id = str(uuid.uuid4()) if roles == ["patient"] else None
    return staff_credentials(roles, clinic_id, account_id=account_id, patient_id=patient_id)


def account(account_id: str, email: str, roles: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": account_id,
        "email": email,
        "roles": roles,
        "clinic_id": CLINIC,
        "practitioner_id": None,
        "patient_id": None,
        "active": True,
    } | extra


class Admin(PageClient):
    scheduling: FakeApi
    billing: FakeApi

    def sent(self, method: str) -> list[tuple[str, Any]]:
        return self.scheduling.sent(method)


@pytest.fixture
def admin(tmp_path: Path) -> Admin:
    scheduling, billing = FakeApi("scheduling"), FakeApi("billing")
    app = app_over_fakes(tmp_path, scheduling=scheduling, billing=billing)
    routes = scheduling.routes
    routes[("GET", f"/clinics/{CLINIC}")] = clinic_body(CLINIC)
    routes[("GET", "/staff-accounts")] = [
        account(DESK, "desk@clinic.test", ["front_desk"]),
        account(ME, "boss@clinic.test", ["admin"]),
        account(GONE, "gone@clinic.test", ["practitioner"], practitioner_id=SAM, active=False),
    ]
    routes[("GET", f"/clinics/{CLINIC}/practitioners")] = [
        {"id": SAM, "display_name": "Sam Wu", "registration_number": "PT-2", "ims_qualified": False},
        {"id": IDA, "display_name": "Ida Lee", "registration_number": "PT-1", "ims_qualified": True},
    ]
    routes[("POST", "/staff-accounts")] = lambda json, params: account(str(uuid.uuid4()), **_created(json))
    routes[("POST", f"/staff-accounts/{DESK}/disable")] = account(
        DESK, "desk@clinic.test", ["front_desk"]
    ) | {"active": False}
    routes[("POST", f"/staff-accounts/{GONE}/enable")] = account(GONE, "gone@clinic.test", ["practitioner"])
    routes[("POST", f"/clinics/{CLINIC}/practitioners")] = lambda json, params: (
        json | {"id": str(uuid.uuid4())}
    )
    hours = f"/clinics/{CLINIC}/practitioners/{IDA}/working-hours"
    routes[("GET", hours)] = {"hours": []}
    routes[("PUT", hours)] = lambda json, params: json
    routes[("GET", f"/clinics/{CLINIC}/practitioners/{IDA}/time-off")] = [
        {
            "id": "t1",
            "practitioner_id": IDA,
            "starts_at": "2026-12-24T08:00:00+00:00",  # midnight in Vancouver
            "ends_at": "2026-12-27T08:00:00+00:00",
            "reason": "Holidays",
        }
    ]
    routes[("POST", f"/clinics/{CLINIC}/practitioners/{IDA}/time-off")] = lambda json, params: json
    billing.routes[("GET", f"/clinics/{CLINIC}/billing-policy")] = ApiError(404, "Not Found")
    billing.routes[("PUT", f"/clinics/{CLINIC}/billing-policy")] = lambda json, params: json
    billing.routes[("GET", f"/clinics/{CLINIC}/tax-registration")] = {"gst_hst_number": None}
    found = Admin(app=app, client=app.test_client(), scheduling=scheduling, billing=billing)
    sign_in(found.client, credentials(["admin"]))
    return found


def _created(body: dict[str, Any]) -> dict[str, Any]:
    return {"email": body["email"], "roles": body["roles"], "practitioner_id": body.get("practitioner_id")}


# --- who may open them ---------------------------------------------------------------------------------


PAGES = [
    "/staff",
    "/practitioners",
    f"/practitioners/{IDA}/working-hours",
    f"/practitioners/{IDA}/time-off",
    "/billing-policy",
]


def test_the_landing_page_offers_staff_and_practitioners(admin: Admin) -> None:
    html = admin.page("/staff/clinic")
    assert 'href="/staff/clinic/staff"' in html
    assert 'href="/staff/clinic/practitioners"' in html
    assert 'href="/staff/clinic/billing-policy"' in html


@pytest.mark.parametrize("roles", [["front_desk"], ["billing"], ["practitioner"], ["patient"]])
def test_only_admins_open_the_people_pages_or_send_their_forms(admin: Admin, roles: list[str]) -> None:
    sign_in(admin.client, credentials(roles, clinic_id=None if roles == ["patient"] else CLINIC))
    for path in PAGES:
        assert "This page is not for your account" in admin.page(f"/staff/clinic{path}", status=403)
        assert admin.client.post(f"/staff/clinic{path}", data={"email": "x@y.test"}).status_code == 403
    assert admin.client.post(f"/staff/clinic/staff/{DESK}/disable").status_code == 403
    assert (
        admin.client.post(f"/staff/clinic/practitioners/{IDA}/time-off/{uuid.uuid4()}/remove").status_code
        == 403
    )
    assert admin.client.post("/staff/clinic/billing-policy/tax-registration").status_code == 403
    assert not [call for call in admin.scheduling.calls + admin.billing.calls if call[0] != "GET"]


# --- staff ---------------------------------------------------------------------------------------------


def test_the_staff_list_shows_roles_links_status_and_no_button_for_yourself(admin: Admin) -> None:
    html = admin.page("/staff/clinic/staff")
    listed = [call for call in admin.scheduling.calls if call[1] == "/staff-accounts"]
    assert listed[0][3]["clinic_id"] == CLINIC
    assert html.index("boss@") < html.index("desk@") < html.index("gone@")
    assert 'boss@<wbr>clinic.test <span class="muted">(you)</span>' in html
    assert f"/staff/clinic/staff/{ME}/" not in html  # no disable button for yourself
    assert f'action="/staff/clinic/staff/{DESK}/disable"' in html
    assert f'action="/staff/clinic/staff/{GONE}/enable"' in html
    assert "Sam Wu" in html  # the practitioner a login is tied to
    assert '<span class="tag bad">Disabled</span>' in html
    for role in ("front_desk", "billing", "practitioner", "admin"):
        assert f'id="role-{role}" name="role-{role}" type="checkbox"' in html


def test_adding_a_staff_member_sends_a_secret_password_and_says_how_to_claim_it(admin: Admin) -> None:
    response = admin.post(
        "/staff/clinic/staff",
        {
            "email": "new@clinic.test",
            "role-front_desk": "true",
            "role-billing": "true",
            "practitioner_id": "",
        },
    )
    assert response.location == "/staff/clinic/staff"
    [(path, body)] = admin.sent("POST")
    assert path == "/staff-accounts"
    assert body["email"] == "new@clinic.test"
    assert body["roles"] == ["front_desk", "billing"]
    assert body["clinic_id"] == CLINIC
    assert "practitioner_id" not in body
    assert len(body["password"]) >= 40  # nobody is told it: the holder resets it
    html = admin.page("/staff/clinic/staff")
    assert "new@clinic.test is added" in html
    assert "Forgot your password?" in html


def test_a_practitioner_login_is_tied_to_a_practitioner_of_the_clinic(admin: Admin) -> None:
    admin.post(
        "/staff/clinic/staff", {"email": "ida@clinic.test", "role-practitioner": "on", "practitioner_id": IDA}
    )
    [(_, body)] = admin.sent("POST")
    assert body["roles"] == ["practitioner"]
    assert body["practitioner_id"] == IDA


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"email": "", "role-admin": "true"}, "email", "Enter the staff member's e-mail address"),
        (
            {"email": "not-an-address", "role-admin": "true"},
            "email",
            "Enter an e-mail address in the correct",
        ),
        ({"email": "a@b.test"}, "role-front_desk", "Choose at least one role"),
        ({"email": "a@b.test", "role-practitioner": "true"}, "practitioner_id", "Choose which practitioner"),
        (
            {"email": "a@b.test", "role-admin": "true", "practitioner_id": IDA},
            "practitioner_id",
            "Choose “None”",
        ),
        (
            {"email": "a@b.test", "role-practitioner": "true", "practitioner_id": str(uuid.uuid4())},
            "practitioner_id",
            "Choose a practitioner of this clinic",
        ),
    ],
)
def test_a_mistake_is_a_sentence_beside_its_field_and_answers_are_kept(
    admin: Admin, form: dict[str, str], field: str, message: str
) -> None:
    html = admin.post("/staff/clinic/staff", form, status=422).get_data(as_text=True)
    assert "<title>Error: Staff" in html
    assert f'<a href="#{field}">{escape(message)}' in html
    assert error_beside(html, field).startswith(str(escape(message)))
    if form.get("email"):
        assert f'value="{form["email"]}"' in html
    assert not admin.sent("POST")


def test_an_address_in_use_is_said_beside_the_email(admin: Admin) -> None:
    admin.scheduling.routes[("POST", "/staff-accounts")] = ApiError(
        409, "Conflict", fields={"email": "exists"}
    )
    html = admin.post(
        "/staff/clinic/staff", {"email": "desk@clinic.test", "role-front_desk": "true"}, status=422
    ).get_data(as_text=True)
    assert error_beside(html, "email") == "A staff member or patient already uses this e-mail address"
    assert 'id="role-front_desk" name="role-front_desk" type="checkbox" value="true" checked' in html


def test_disable_and_enable_once_each_and_never_yourself(admin: Admin) -> None:
    page = admin.page("/staff/clinic/staff")
    token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert token
    first = admin.post(f"/staff/clinic/staff/{DESK}/disable", {"form_token": token.group(1)})
    again = admin.post(f"/staff/clinic/staff/{DESK}/disable", {"form_token": token.group(1)})
    assert first.location == again.location == "/staff/clinic/staff"
    assert admin.sent("POST") == [(f"/staff-accounts/{DESK}/disable", None)]
    assert "desk@clinic.test is disabled: they cannot sign in." in admin.page("/staff/clinic/staff")
    admin.post(f"/staff/clinic/staff/{GONE}/enable", {})
    assert "gone@clinic.test can sign in again." in admin.page("/staff/clinic/staff")
    admin.post(f"/staff/clinic/staff/{ME}/disable", {})
    assert "You cannot disable your own account." in admin.page("/staff/clinic/staff")
    assert (f"/staff-accounts/{ME}/disable", None) not in admin.sent("POST")
    unknown = uuid.uuid4()
    assert admin.client.post(f"/staff/clinic/staff/{unknown}/disable").status_code == 404


# --- practitioners -------------------------------------------------------------------------------------


def test_the_practitioners_are_listed_by_name_with_their_pages(admin: Admin) -> None:
    html = admin.page("/staff/clinic/practitioners")
    assert html.index("Ida Lee") < html.index("Sam Wu")
    assert f'href="/staff/clinic/practitioners/{IDA}/working-hours"' in html
    assert f'href="/staff/clinic/practitioners/{IDA}/time-off"' in html
    assert "Qualified" in html
    assert "Not qualified" in html


def test_adding_a_practitioner(admin: Admin) -> None:
    admin.post(
        "/staff/clinic/practitioners",
        {"display_name": "Noor Ali", "registration_number": "PT-9", "ims_qualified": "true"},
    )
    [(path, body)] = admin.sent("POST")
    assert path == f"/clinics/{CLINIC}/practitioners"
    assert body == {"display_name": "Noor Ali", "registration_number": "PT-9", "ims_qualified": True}
    assert "Noor Ali is added." in admin.page("/staff/clinic/practitioners")
    html = admin.post("/staff/clinic/practitioners", {"display_name": "Noor"}, status=422).get_data(
        as_text=True
    )
    assert error_beside(html, "registration_number") == "Enter the practitioner&#39;s registration number"
    assert 'value="Noor"' in html


def test_working_hours_are_read_like_opening_hours_and_saved(admin: Admin) -> None:
    path = f"/staff/clinic/practitioners/{IDA}/working-hours"
    html = admin.page(path)
    assert "<h1>Working hours of Ida Lee</h1>" in html
    assert "can be booked whenever the clinic is open" in html
    assert "Day off on Monday" in html
    assert "Monday starts at" in html
    week = {f"day-{d}-{part}": t for d in range(3) for part, t in (("opens", "10:00"), ("closes", "14:00"))}
    week |= {f"day-{d}-closed": "true" for d in range(3, 7)}
    html = admin.post(path, week | {"day-1-closes": "9"}, status=422).get_data(as_text=True)
    assert error_beside(html, "day-1-closes") == "The finish time on Tuesday must be after the start time"
    admin.post(path, week)
    [(sent_path, body)] = admin.sent("PUT")
    assert sent_path == f"/clinics/{CLINIC}/practitioners/{IDA}/working-hours"
    assert body["hours"] == [{"weekday": d, "starts": "10:00", "ends": "14:00"} for d in range(3)]
    all_off = {f"day-{d}-closed": "true" for d in range(7)}
    html = admin.post(path, all_off, status=422).get_data(as_text=True)
    assert "Give them at least one working day" in html


def test_an_unknown_practitioner_is_not_found(admin: Admin) -> None:
    admin.page(f"/staff/clinic/practitioners/{uuid.uuid4()}/working-hours", status=404)
    admin.page(f"/staff/clinic/practitioners/{uuid.uuid4()}/time-off", status=404)


def test_time_off_is_whole_days_of_the_clinics_calendar(admin: Admin) -> None:
    path = f"/staff/clinic/practitioners/{IDA}/time-off"
    html = admin.page(path)
    assert "Thursday, December 24, 2026" in html  # midnight to midnight, Vancouver time
    assert "Saturday, December 26, 2026" in html
    assert "Holidays" in html
    dates = {"starts_day": "2", "starts_month": "3", "starts_year": "2027"}
    dates |= {"ends_day": "1", "ends_month": "3", "ends_year": "2027"}
    html = admin.post(path, dates, status=422).get_data(as_text=True)
    assert "The last day off must be the same as or after the first" in html
    admin.post(path, dates | {"ends_day": "3", "reason": "Course"})
    [(_, body)] = admin.sent("POST")
    assert body == {
        "starts_at": "2027-03-02T00:00:00-08:00",
        "ends_at": "2027-03-04T00:00:00-08:00",
        "reason": "Course",
    }
    assert "Ida Lee is off from" in admin.page(path)


# --- billing policy ------------------------------------------------------------------------------------


POLICY = {
    "late_cancel_fee_mode": "percent",
    "late_cancel_fee_amount": "50",
    "no_show_fee_mode": "fixed",
    "no_show_fee_amount": "$75.50",
    "fee_tax_rate": "5",
    "treatment_tax_rate": "0",
    "payment_terms_days": "30",
}


def test_the_billing_policy_shows_billings_defaults_until_one_is_saved(admin: Admin) -> None:
    html = admin.page("/staff/clinic/billing-policy")
    assert 'id="payment_terms_days" name="payment_terms_days" type="text" value="30"' in html
    assert 'id="fee_tax_rate" name="fee_tax_rate" type="text" value="0"' in html
    admin.billing.routes[("GET", f"/clinics/{CLINIC}/billing-policy")] = {
        "late_cancel_fee_mode": "percent",
        "late_cancel_fee_value": 5000,
        "no_show_fee_mode": "fixed",
        "no_show_fee_value": 7550,
        "fee_tax_rate_bp": 550,
        "treatment_tax_rate_bp": 0,
        "payment_terms_days": 14,
    }
    html = admin.page("/staff/clinic/billing-policy")
    assert 'name="late_cancel_fee_amount" type="text" value="50"' in html
    assert 'name="no_show_fee_amount" type="text" value="75.50"' in html
    assert 'name="fee_tax_rate" type="text" value="5.5"' in html
    assert '<option value="percent" selected>' in html


def test_fees_are_sent_in_cents_or_basis_points_and_taxes_in_basis_points(admin: Admin) -> None:
    admin.post("/staff/clinic/billing-policy", POLICY | {"fee_tax_rate": "5,5"})
    [(path, body)] = [(p, b) for m, p, b, _ in admin.billing.calls if m == "PUT"]
    assert path == f"/clinics/{CLINIC}/billing-policy"
    assert body == {
        "late_cancel_fee_mode": "percent",
        "late_cancel_fee_value": 5000,
        "no_show_fee_mode": "fixed",
        "no_show_fee_value": 7550,
        "fee_tax_rate_bp": 550,
        "treatment_tax_rate_bp": 0,
        "payment_terms_days": 30,
        "currency": "CAD",
    }
    assert "The billing policy is saved." in admin.page("/staff/clinic/billing-policy")


def test_no_fee_sends_no_mode_and_mistakes_are_said_beside_their_fields(admin: Admin) -> None:
    html = admin.post(
        "/staff/clinic/billing-policy",
        POLICY | {"late_cancel_fee_amount": "150", "no_show_fee_amount": "lots", "fee_tax_rate": "5.125"},
        status=422,
    ).get_data(as_text=True)
    assert "<title>Error: Billing policy" in html
    assert error_beside(html, "late_cancel_fee_amount") == "Enter a percentage of 100 or less"
    assert error_beside(html, "no_show_fee_amount") == "Enter the fee as an amount of money, like 40.00"
    assert error_beside(html, "fee_tax_rate").startswith("Enter the tax rate with at most two decimals")
    assert 'value="lots"' in html
    admin.post(
        "/staff/clinic/billing-policy",
        POLICY | {"late_cancel_fee_mode": "", "no_show_fee_mode": "", "no_show_fee_amount": "lots"},
    )
    [(_, body)] = [(p, b) for m, p, b, _ in admin.billing.calls if m == "PUT"]
    assert body["late_cancel_fee_mode"] is None
    assert body["late_cancel_fee_value"] == 0
    assert body["no_show_fee_mode"] is None


def test_the_gst_hst_number_is_saved_or_refused_beside_its_field(admin: Admin) -> None:
    path = f"/clinics/{CLINIC}/tax-registration"
    admin.billing.routes[("PUT", path)] = ApiError(422, "Unprocessable", fields={"gst_hst_number": "format"})
    html = admin.post(
        "/staff/clinic/billing-policy/tax-registration", {"gst_hst_number": "12345"}, status=422
    ).get_data(as_text=True)
    assert "<title>Error: Billing policy" in html
    assert error_beside(html, "gst_hst_number") == "Enter the number like 123456789 RT 0001"
    assert 'value="12345"' in html
    admin.billing.routes[("PUT", path)] = lambda json, params: {"gst_hst_number": "123456789RT0001"}
    admin.post("/staff/clinic/billing-policy/tax-registration", {"gst_hst_number": "123456789 RT 0001"})
    assert "The GST/HST number 123456789RT0001 is saved." in admin.page("/staff/clinic/billing-policy")
    admin.billing.routes[("PUT", path)] = lambda json, params: json
    admin.post("/staff/clinic/billing-policy/tax-registration", {"gst_hst_number": ""})
    assert [b for m, p, b, _ in admin.billing.calls if m == "PUT"][-1] == {"gst_hst_number": None}
