"""The billing clerk's pages over fake APIs: who may open them, what they show, what they send to billing."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError
from web.testing import FakeApi, PageClient, app_over_fakes, patient_names_route, sign_in, staff_credentials

CLINIC, ANA, COVERAGE = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
PAYER_INV, PATIENT_INV, OLD_INV = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
CHARGE = str(uuid.uuid4())


class Billing(FakeApi):
    """FakeApi that also records the headers sent with each POST (Idempotency-Key)."""

    def __init__(self) -> None:
        super().__init__("billing")
        self.headers: list[Any] = []

    def post(self, path: str, *, token: Any = None, json: Any = None, headers: Any = None) -> Any:
        self.headers.append(headers)
        return super().post(path, token=token, json=json, headers=headers)


def credentials(roles: list[str]) -> Credentials:
    return staff_credentials(roles, CLINIC)


def invoice(ident: str, payer: str, cents: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "number": None,
        "status": "draft",
        "clinic_id": CLINIC,
        "patient_id": ANA,
        "payer_kind": payer,
        "coverage_id": COVERAGE if payer != "patient" else None,
        "currency": "CAD",
        "lines": [
            {
                "id": str(uuid.uuid4()),
                "charge_id": CHARGE,
                "payer_kind": payer,
                "description": "IMS assessment",
                "service_date": "2026-12-01",
                "amount_cents": cents,
                "tax_rate_bp": 0,
                "tax_cents": 0,
            }
        ],
        "subtotal_cents": cents,
        "tax_cents": 0,
        "credited_cents": 0,
        "total_cents": cents,
        "paid_cents": 0,
        "balance_cents": cents,
        "issued_at": None,
        "due_date": None,
        "created_at": "2026-12-01T18:00:00+00:00",
    } | extra


OLD = invoice(OLD_INV, "patient", 4000, status="issued", number="VAN-2026-000001",
              issued_at="2026-11-01T18:00:00+00:00", lines=[])  # fmt: skip


class Desk(PageClient):
    billing: Billing


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    scheduling, billing = FakeApi("scheduling"), Billing()
    app = app_over_fakes(tmp_path, scheduling=scheduling, billing=billing)
    scheduling.routes.update(
        {
            ("GET", f"/clinics/{CLINIC}"): {
                "id": CLINIC,
                "name": "Vancouver IMS",
                "timezone": "America/Vancouver",
            },
            **patient_names_route(CLINIC, {ANA: ("Ana", "Li")}),
        }
    )
    billing.routes.update(
        {
            ("GET", "/billing-queue"): [
                {
                    "clinic_id": CLINIC,
                    "patient_id": ANA,
                    "oldest_service_date": "2026-12-01",
                    "charges": [
                        {
                            "id": CHARGE,
                            "patient_id": ANA,
                            "kind": "appointment",
                            "service_date": "2026-12-01",
                            "amount_cents": 12000,
                            "currency": "CAD",
                            "tax_rate_bp": 0,
                            "status": "billable",
                        },
                    ],
                    "coverages": [
                        {"id": COVERAGE, "clinic_id": CLINIC, "payer_kind": "icbc", "claim_number": "C-77"}
                    ],
                },
            ],
            ("POST", "/invoices/split"): [
                invoice(PAYER_INV, "icbc", 8000),
                invoice(PATIENT_INV, "patient", 4000),
            ],
            ("POST", "/invoices"): invoice(PATIENT_INV, "patient", 12000),
            ("GET", f"/invoices/{PAYER_INV}"): invoice(PAYER_INV, "icbc", 8000),
            ("GET", "/invoices"): [
                invoice(PAYER_INV, "icbc", 8000),
                invoice(
                    PATIENT_INV,
                    "patient",
                    4000,
                    status="issued",
                    number="VAN-2026-000002",
                    issued_at="2026-12-01T19:00:00+00:00",
                ),
                OLD,
            ],
            ("GET", f"/invoices/{PAYER_INV}/credit-notes"): [],
            ("GET", "/audit"): [{"occurred_at": "2026-12-01T18:00:00+00:00", "action": "drafted"}],
            ("POST", f"/invoices/{PAYER_INV}/issue"): invoice(
                PAYER_INV, "icbc", 8000, number="VAN-2026-000003"
            ),
            ("GET", f"/patients/{ANA}/credit"): {"credit_cents": 0, "currency": "CAD"},
            ("POST", "/payments"): lambda json, params: {"id": "p1", "unallocated_cents": 1000},
        }
    )
    client = app.test_client()
    sign_in(client, credentials(["billing"]))
    return Desk(client=client, billing=billing)


def form_fields(html: str) -> dict[str, str]:
    """Every input's name and value, as the browser would send them (radios aside)."""
    found = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value and 'type="radio"' not in tag:
            found[name.group(1)] = value.group(1)
    return found


def test_only_billing_staff_and_admins_open_billing(desk: Desk, tmp_path: Path) -> None:
    sign_in(desk.client, credentials(["front_desk"]))
    desk.page("/staff/billing", 403)
    sign_in(desk.client, credentials(["admin"]))
    assert "Charges to invoice" in desk.page("/staff/billing")


def test_the_queue_shows_each_patients_charges_and_the_split_they_can_have(desk: Desk) -> None:
    html = desk.page("/staff/billing")
    assert ">Billing<" in html  # the navigation entry
    assert "Ana Li" in html
    assert "$120.00" in html
    assert ">Visit<" in html
    assert "ICBC (claim C-77)" in html
    assert "Draft split invoice: ICBC and patient" in html
    assert f'href="/staff/patients/{ANA}">Open patient' in html  # coverages, packages, credit are there
    assert queue_queries(desk) == [{"clinic_id": CLINIC, "page": 1, "page_size": 25}]


def queue_queries(desk: Desk) -> list[dict[str, object]]:
    return [params for method, path, _, params in desk.billing.calls if path == "/billing-queue"]


def test_the_queue_asks_billing_for_the_payer_dates_and_page_chosen(desk: Desk) -> None:
    desk.page("/staff/billing?payer=icbc&from=2026-12-01&to=2026-12-31&page=3")
    desk.page("/staff/billing?payer=patient&page=x")  # not a page number: the first page
    assert queue_queries(desk) == [
        {
            "clinic_id": CLINIC,
            "page": 3,
            "page_size": 25,
            "payer": "icbc",
            "first_day": "2026-12-01",
            "last_day": "2026-12-31",
        },
        {"clinic_id": CLINIC, "page": 1, "page_size": 25, "payer": "patient"},
    ]


def test_the_queue_says_when_a_date_is_wrong(desk: Desk) -> None:
    html = desk.page("/staff/billing?from=2026-13-40", 422)
    assert "<title>Error: Billing" in html
    assert "Enter a date like 2026-12-01" in html


def test_a_split_draft_opens_with_each_payers_share_per_line(desk: Desk) -> None:
    html = desk.page("/staff/billing")
    token = re.findall(r'name="form_token" value="([^"]+)"', html)[1]  # the split's form
    body = {"form_token": token, "clinic": CLINIC, "patient": ANA, "coverage": COVERAGE}
    response = desk.client.post("/staff/billing/drafts", data=body)
    assert response.status_code == 303
    assert response.location.endswith(f"/staff/billing/invoices/{PAYER_INV}")
    again = desk.client.post("/staff/billing/drafts", data=body)  # a double click
    assert again.location == response.location
    assert desk.billing.posted("/invoices/split") == [
        {"clinic_id": CLINIC, "patient_id": ANA, "coverage_id": COVERAGE}
    ]

    page = desk.page(f"/staff/billing/invoices/{PAYER_INV}")
    assert "Insurer share" in page
    assert "Patient share" in page
    assert "$80.00" in page
    assert "$40.00" in page
    assert "VAN-2026-000002" in page  # the patient's part, linked
    assert "Issue invoice" in page  # the patient's part is issued already: only this draft left
    assert "Drafted" in page


def test_issuing_sends_the_drafts_and_says_their_numbers(desk: Desk) -> None:
    response = desk.client.post(f"/staff/billing/invoices/{PAYER_INV}/issue", data={"form_token": "t1"})
    assert response.status_code == 303
    assert desk.billing.posted(f"/invoices/{PAYER_INV}/issue") == [None]
    assert "Issued: VAN-2026-000003." in desk.page(f"/staff/billing/invoices/{PAYER_INV}")


def test_a_payment_is_prefilled_oldest_first_and_sent_in_cents_with_its_idempotency_key(desk: Desk) -> None:
    html = desk.page(f"/staff/billing/patients/{ANA}/payments")
    values = form_fields(html)
    assert values["amount"] == "80.00"
    assert values[f"alloc-{OLD_INV}"] == "40.00"
    assert values[f"alloc-{PATIENT_INV}"] == "40.00"
    assert html.index(f"alloc-{OLD_INV}") < html.index(f"alloc-{PATIENT_INV}")
    key = values["idempotency_key"]
    form = values | {"method": "card", "amount": "90", f"alloc-{PATIENT_INV}": "40,00"}
    response = desk.client.post(f"/staff/billing/patients/{ANA}/payments", data=form)
    assert response.status_code == 303
    desk.client.post(f"/staff/billing/patients/{ANA}/payments", data=form)  # submitted twice
    (sent,) = desk.billing.posted("/payments")
    assert sent["amount_cents"] == 9000
    assert sent["currency"] == "CAD"
    assert sent["method"] == "card"
    assert sent["allocations"] == [
        {"invoice_id": OLD_INV, "amount_cents": 4000},
        {"invoice_id": PATIENT_INV, "amount_cents": 4000},
    ]
    assert desk.billing.headers[-1] == {"Idempotency-Key": key}
    assert "$10.00 is kept as the patient" in desk.page(response.location)


def test_a_bad_payment_says_why_beside_the_field_and_sends_nothing(desk: Desk) -> None:
    values = form_fields(desk.page(f"/staff/billing/patients/{ANA}/payments"))
    bad = values | {"method": "cash", "amount": "12.345"}
    html = desk.client.post(f"/staff/billing/patients/{ANA}/payments", data=bad).get_data(as_text=True)
    assert "<title>Error: Record a payment" in html
    assert 'id="amount-error"' in html
    assert "no more than 2 digits after the decimal point" in html
    too_much = values | {"method": "cash", "amount": "50"}
    response = desk.client.post(f"/staff/billing/patients/{ANA}/payments", data=too_much)
    assert response.status_code == 422
    assert "add up to more than the payment" in response.get_data(as_text=True)
    over = values | {"method": "cash", "amount": "100", f"alloc-{OLD_INV}": "41"}
    response = desk.client.post(f"/staff/billing/patients/{ANA}/payments", data=over)
    assert "no more than what is left to pay on this invoice" in response.get_data(as_text=True)
    assert desk.billing.posted("/payments") == []


def test_voiding_sends_a_credit_note_with_the_forms_key(desk: Desk) -> None:
    issued = invoice(PAYER_INV, "icbc", 8000, status="issued", number="VAN-2026-000003")
    desk.billing.routes[("GET", f"/invoices/{PAYER_INV}")] = issued
    desk.billing.routes[("POST", f"/invoices/{PAYER_INV}/credit-notes")] = {"number": "VAN-CN-2026-000001"}
    values = form_fields(desk.page(f"/staff/billing/invoices/{PAYER_INV}"))
    missing = desk.client.post(
        f"/staff/billing/invoices/{PAYER_INV}/credit-notes", data=values | {"kind": "void"}
    )
    assert missing.status_code == 422
    assert "Enter the reason for the credit note" in missing.get_data(as_text=True)
    response = desk.client.post(
        f"/staff/billing/invoices/{PAYER_INV}/credit-notes",
        data=values | {"kind": "void", "reason": "Claim denied"},
    )
    assert response.status_code == 303
    assert desk.billing.posted(f"/invoices/{PAYER_INV}/credit-notes") == [
        {"reason": "Claim denied", "void": True}
    ]
    assert desk.billing.headers[-1] == {"Idempotency-Key": values["idempotency_key"]}


def test_the_pdf_comes_through_the_web_front(desk: Desk) -> None:
    issued = invoice(PAYER_INV, "icbc", 8000, status="issued", number="VAN-2026-000003")
    desk.billing.routes[("GET", f"/invoices/{PAYER_INV}")] = issued
    desk.billing.routes[("GET", f"/invoices/{PAYER_INV}/pdf")] = SimpleNamespace(content=b"%PDF-1.7 x")
    response = desk.client.get(f"/staff/billing/invoices/{PAYER_INV}/pdf")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF")
    assert 'filename="invoice-VAN-2026-000003.pdf"' in response.headers["Content-Disposition"]
    desk.billing.routes[("GET", f"/invoices/{PAYER_INV}/pdf")] = ApiError(404, "Not Found")
    assert desk.client.get(f"/staff/billing/invoices/{PAYER_INV}/pdf").status_code == 404


def test_the_reports_show_aging_payments_and_revenue_with_their_csv(desk: Desk) -> None:
    routes = desk.billing.routes
    routes[("GET", "/reports/outstanding")] = [
        {"patient_id": ANA, "payer_kind": "icbc", "days_0_30_cents": 8000, "days_31_60_cents": 0,
         "days_61_90_cents": 0, "days_over_90_cents": 0, "total_cents": 8000},
    ]  # fmt: skip
    routes[("GET", "/reports/payments")] = [
        {"day": "2026-12-01", "method": "card", "count": 2, "received_cents": 10000, "refunded_cents": 0,
         "net_cents": 10000},
    ]  # fmt: skip
    routes[("GET", "/reports/revenue")] = [
        {"practitioner_name": "Ida Needham", "treatment_name": "IMS assessment", "invoiced_cents": 12000,
         "credited_cents": 8000, "amount_cents": 4000},
    ]  # fmt: skip
    routes[("GET", f"/clinics/{CLINIC}/billing-policy")] = {"currency": "CAD"}
    routes[("GET", "/reports/revenue.csv")] = SimpleNamespace(content=b"practitioner_name\nIda Needham\n")
    html = desk.page("/staff/billing/reports?from=2026-12-01&to=2026-12-31")
    assert "ICBC (Ana Li)" in html
    assert "$80.00" in html
    assert "Card" in html
    assert "$100.00" in html
    assert "Ida Needham" in html
    assert "/staff/billing/reports/revenue.csv?from=2026-12-01&amp;to=2026-12-31" in html
    period = [params for method, path, _, params in desk.billing.calls if path == "/reports/payments"]
    assert period[-1]["from"] == "2026-12-01"
    assert period[-1]["to"] == "2026-12-31"
    response = desk.client.get("/staff/billing/reports/revenue.csv?from=2026-12-01&to=2026-12-31")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"practitioner_name")
    assert desk.client.get("/staff/billing/reports/secrets.csv").status_code == 404
    assert "Enter a date like 2026-12-01" in desk.page("/staff/billing/reports?to=31-12", 422)


def test_a_partial_credit_note_sends_its_amount_in_cents_and_refuses_a_bad_one(desk: Desk) -> None:
    issued = invoice(PAYER_INV, "icbc", 8000, status="issued", number="VAN-2026-000003")
    desk.billing.routes[("GET", f"/invoices/{PAYER_INV}")] = issued
    desk.billing.routes[("POST", f"/invoices/{PAYER_INV}/credit-notes")] = {"number": "VAN-CN-2026-000002"}
    path = f"/staff/billing/invoices/{PAYER_INV}/credit-notes"
    values = form_fields(desk.page(f"/staff/billing/invoices/{PAYER_INV}"))
    bad = desk.client.post(
        path, data=values | {"kind": "partial", "amount": "twenty", "reason": "Short visit"}
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "<title>Error: Invoice VAN-2026-000003" in html
    assert 'id="amount-error"' in html
    assert desk.billing.posted(path.removeprefix("/staff/billing")) == []
    response = desk.client.post(
        path, data=values | {"kind": "partial", "amount": "20,50", "reason": "Short visit"}
    )
    assert response.status_code == 303
    sent = desk.billing.posted(f"/invoices/{PAYER_INV}/credit-notes")
    assert sent == [{"reason": "Short visit", "amount_cents": 2050}]
