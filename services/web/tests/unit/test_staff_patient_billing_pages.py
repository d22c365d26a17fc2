"""The billing part of a patient's page for staff over fake APIs: coverages (add, end), packages and credit,
shown to billing staff and the front desk only, refusals said beside their field, in English and French."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from web.domain.coverages import BadPercent, CoverageRow, CoverageState, parse_percent, percent_text
from web.service_layer.ports import ApiError
from web.testing import FakeApi, PageClient, app_over_fakes, error_beside, patient_names_route, sign_in
from web.testing import staff_credentials as credentials

CLINIC, ANA, IMS = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
WSBC, EHB, OLD = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
INVOICE = str(uuid.uuid4())
PAGE = f"/staff/patients/{ANA}"


def clinic_today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo("America/Vancouver")).date()


class Billing(FakeApi):
    """FakeApi that also records the headers sent with each POST (Idempotency-Key)."""

    def __init__(self) -> None:
        super().__init__("billing")
        self.headers: list[Any] = []

    def post(self, path: str, *, token: Any = None, json: Any = None, headers: Any = None) -> Any:
        self.headers.append(headers)
        return super().post(path, token=token, json=json, headers=headers)


class Desk(PageClient):
    scheduling: FakeApi
    billing: Billing

    def as_(self, roles: list[str]) -> None:
        sign_in(self.client, credentials(roles, CLINIC))


def coverage(ident: str, payer: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "patient_id": ANA,
        "clinic_id": CLINIC,
        "payer_kind": payer,
        "currency": "CAD",
        "claim_number": None,
        "date_of_injury": None,
        "employer_name": None,
        "insurer_fee_cents": None,
        "coverage_bp": None,
        "per_visit_max_cents": None,
        "annual_max_cents": None,
        "policy_number": None,
        "valid_from": "2026-01-05",
        "valid_to": None,
        "created_at": "2026-01-05T18:00:00+00:00",
    } | extra


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
            ("GET", f"/clinics/{CLINIC}/practitioners"): [],
            ("GET", f"/clinics/{CLINIC}/treatment-types"): [{"id": IMS, "name": "IMS treatment"}],
            ("GET", "/appointments"): [],
            ("GET", "/plans"): [],
            ("GET", f"/clinics/{CLINIC}/ims-clearance"): {"cleared": False, "assessed": False},
            **patient_names_route(CLINIC, {ANA: ("Ana", "Li")}),
        }
    )
    billing.routes.update(
        {
            ("GET", f"/patients/{ANA}/coverages"): [
                coverage(
                    WSBC,
                    "worksafebc",
                    claim_number="W-123",
                    date_of_injury="2026-01-05",
                    employer_name="Acme Mills",
                ),
                coverage(
                    EHB,
                    "extended_health",
                    policy_number="P-77",
                    coverage_bp=8000,
                    per_visit_max_cents=5000,
                    valid_from="2026-02-01",
                ),
                coverage(
                    OLD,
                    "icbc",
                    claim_number="I-9",
                    insurer_fee_cents=6000,
                    valid_from="2025-03-01",
                    valid_to="2025-06-30",
                ),
            ],
            ("GET", f"/patients/{ANA}/packages"): [
                {
                    "id": "k1",
                    "clinic_id": CLINIC,
                    "patient_id": ANA,
                    "treatment_type_id": IMS,
                    "sessions_total": 6,
                    "sessions_used": 2,
                    "sessions_left": 4,
                    "amount_cents": 54000,
                    "currency": "CAD",
                    "sold_at": "2026-01-05T18:00:00+00:00",
                },
                {
                    "id": "k2",
                    "name": "IMS 6-pack",
                    "clinic_id": CLINIC,
                    "patient_id": ANA,
                    "treatment_type_id": IMS,
                    "sessions_total": 6,
                    "sessions_used": 5,
                    "sessions_left": 1,
                    "amount_cents": 54000,
                    "currency": "CAD",
                    "sold_at": "2025-01-05T18:00:00+00:00",
                    "expires_on": "2025-07-05",
                },
            ],
            ("GET", f"/patients/{ANA}/credit"): {"credit_cents": 2500, "currency": "CAD"},
            ("GET", "/invoices"): [
                {
                    "id": INVOICE,
                    "number": "VAN-2026-000007",
                    "status": "issued",
                    "payer_kind": "patient",
                    "balance_cents": 4000,
                    "currency": "CAD",
                    "issued_at": "2026-11-01T18:00:00+00:00",
                },
            ],
        }
    )
    desk = Desk(app=app, client=app.test_client(), scheduling=scheduling, billing=billing)
    desk.as_(["billing"])
    return desk


def billing_section(html: str) -> str:
    start = html.index('<h2 id="billing-heading">')
    return html[start:]


# --- shown to whom ------------------------------------------------------------------------------------------


def test_billing_staff_see_coverages_packages_and_credit_in_words(desk: Desk) -> None:
    html = billing_section(desk.page(PAGE))
    assert "WorkSafeBC, W-123" in html
    assert "Acme Mills" in html
    assert "The whole of each visit" in html
    assert "Extended health, P-77" in html
    assert "80% of each visit" in html
    assert "$50.00" in html  # most per visit
    assert "ICBC, I-9" in html
    assert "Monday, June 30, 2025 (Ended)" in html  # valid to, in the past
    assert html.index("P-77") < html.index("W-123") < html.index("I-9")  # in force first, latest first
    # an end form on each coverage still in force, none on the ended one
    assert f"/staff/patients/{ANA}/coverages/{WSBC}/end" in html
    assert f"/staff/patients/{ANA}/coverages/{EHB}/end" in html
    assert f"/coverages/{OLD}/end" not in html
    assert "IMS treatment, 6 sessions" in html
    assert "No expiry" in html  # the package sold without a last day
    expired = html[html.index("IMS 6-pack") :]
    assert "Saturday, July 5, 2025" in expired
    assert '<span class="tag">Expired</span>' in expired
    assert "Credit at this clinic: $25.00" in html
    assert "Invoice VAN-2026-000007 (Patient), $40.00 left" in html
    assert f'href="/staff/billing/patients/{ANA}/payments?clinic={CLINIC}"' in html
    paths = [path for method, path, _, _ in desk.billing.calls if method == "GET"]
    assert f"/patients/{ANA}/coverages" in paths


def test_the_front_desk_sees_it_too_and_a_practitioner_does_not(desk: Desk) -> None:
    desk.as_(["front_desk"])
    html = desk.page(PAGE)
    assert "Add a coverage" in html
    assert "Record a payment" not in html  # the payment page is billing staff's
    desk.billing.calls.clear()
    desk.as_(["practitioner"])
    html = desk.page(PAGE)
    assert "Ana Li" in html
    assert 'id="billing-heading"' not in html
    assert "Add a coverage" not in html
    assert desk.billing.calls == []  # nothing asked of billing
    assert desk.client.post(f"/staff/patients/{ANA}/coverages", data={}).status_code == 403


def test_billing_not_knowing_the_patient_yet_still_offers_adding_a_coverage(desk: Desk) -> None:
    desk.billing.routes[("GET", f"/patients/{ANA}/coverages")] = ApiError(404, "Not Found")
    desk.billing.routes[("GET", f"/patients/{ANA}/packages")] = ApiError(404, "Not Found")
    html = billing_section(desk.page(PAGE))
    assert "No coverages: the patient pays their visits." in html
    assert "No packages." in html
    assert "Add a coverage" in html


def test_payments_billing_will_not_list_leave_the_rest_of_the_billing_shown(paid: Desk) -> None:
    paid.billing.routes[("GET", "/payments")] = ApiError(403, "Forbidden")
    html = billing_section(paid.page(PAGE))
    assert "No payments at this clinic." in html
    assert "Add a coverage" in html
    assert "refund-payment" not in html


# --- selling a package ----------------------------------------------------------------------------------

PACKAGES = f"/staff/patients/{ANA}/packages"


def a_sale(**change: str) -> dict[str, str]:
    return {
        "package_name": "IMS 6-pack",
        "package_treatment": IMS,
        "package_sessions": "6",
        "package_price": "540",
        "package_last_day_day": "",
        "package_last_day_month": "",
        "package_last_day_year": "",
    } | change


def test_the_sell_form_offers_the_clinics_treatments(desk: Desk) -> None:
    html = billing_section(desk.page(PAGE))
    assert "Sell a package" in html
    assert f'action="{PACKAGES}"' in html
    assert f'<option value="{IMS}">IMS treatment</option>' in html


def test_selling_a_package_sends_billing_its_facts_and_opens_the_draft_invoice(desk: Desk) -> None:
    desk.billing.routes[("POST", "/packages")] = {"id": "k9", "invoice_id": INVOICE, "name": "IMS 6-pack"}
    sent = a_sale(package_last_day_day="31", package_last_day_month="3", package_last_day_year="2027")

    response = desk.post(PACKAGES, sent)

    assert response.location.endswith(f"/staff/billing/invoices/{INVOICE}")
    assert desk.billing.posted("/packages") == [
        {
            "clinic_id": CLINIC,
            "patient_id": ANA,
            "treatment_type_id": IMS,
            "name": "IMS 6-pack",
            "sessions": 6,
            "amount_cents": 54000,
            "currency": "CAD",
            "expires_on": "2027-03-31",
        }
    ]


def test_the_front_desk_sells_and_comes_back_to_the_patient(desk: Desk) -> None:
    desk.as_(["front_desk"])
    desk.billing.routes[("POST", "/packages")] = {"id": "k9", "invoice_id": INVOICE, "name": "IMS 6-pack"}
    response = desk.post(PACKAGES, a_sale())
    assert response.location.endswith(f"/staff/patients/{ANA}#packages-heading")
    assert desk.billing.posted("/packages")[0]["expires_on"] is None
    said = "The package IMS 6-pack is sold. Its invoice is a draft: review it and issue it."
    assert said in desk.page(PAGE)


@pytest.mark.parametrize(
    ("change", "field", "sentence"),
    [
        ({"package_name": ""}, "package_name", "Enter the package&#39;s name, like IMS 6-pack"),
        ({"package_sessions": "0"}, "package_sessions", "Enter the number of sessions, from 1 to 100"),
        ({"package_sessions": "six"}, "package_sessions", "Enter the number of sessions, from 1 to 100"),
        ({"package_price": "abc"}, "package_price", "Enter an amount in dollars and cents, like 120.00"),
        ({"package_treatment": ""}, "package_treatment", "Select the treatment the package is for"),
    ],
)
def test_a_bad_answer_is_said_beside_its_field_and_nothing_is_sold(
    desk: Desk, change: dict[str, str], field: str, sentence: str
) -> None:
    html = desk.post(PACKAGES, a_sale(**change), status=422).get_data(as_text=True)
    assert error_beside(html, field) == sentence
    assert '<details class="sell-package" open>' in html
    assert not desk.billing.posted("/packages")


def test_billings_refusal_of_a_past_last_day_is_said_beside_the_date(desk: Desk) -> None:
    desk.billing.routes[("POST", "/packages")] = ApiError(
        422, "Invalid", fields={"expires_on": "a package's last day is today or later"}
    )
    sent = a_sale(package_last_day_day="1", package_last_day_month="1", package_last_day_year="2020")
    html = desk.post(PACKAGES, sent, status=422).get_data(as_text=True)
    assert error_beside(html, "package_last_day") == "The last day must be today or later"
    assert 'value="2020"' in html  # the answers are kept


# --- adding a coverage --------------------------------------------------------------------------------------


def test_adding_a_coverage_with_a_missing_required_field_says_so_beside_it(desk: Desk) -> None:
    sent = {"payer_kind": "extended_health", "coverage_percent": "80"}
    html = desk.post(f"/staff/patients/{ANA}/coverages", sent, status=422).get_data(as_text=True)
    assert "<title>Error:" in html
    assert error_beside(html, "policy_number") == "Enter the policy number"
    assert 'href="#policy_number">Enter the policy number' in html  # the summary links to it
    assert 'value="80"' in html  # the answers are kept
    assert '<details class="add-coverage" open>' in html
    html = desk.post(f"/staff/patients/{ANA}/coverages", {"payer_kind": "worksafebc"}, status=422).get_data(
        as_text=True
    )
    assert error_beside(html, "claim_number") == "Enter the claim number"
    assert error_beside(html, "injury") == "Enter the date of injury"
    assert error_beside(html, "employer_name") == "Enter the employer&#39;s name"
    html = desk.post(f"/staff/patients/{ANA}/coverages", {}, status=422).get_data(as_text=True)
    assert "Select who pays" in error_beside(html, "payer_kind")
    assert not desk.billing.posted(f"/patients/{ANA}/coverages")


def test_adding_a_coverage_posts_billings_fields_then_returns_to_the_list(desk: Desk) -> None:
    path = f"/patients/{ANA}/coverages"
    desk.billing.routes[("POST", path)] = coverage(str(uuid.uuid4()), "extended_health")
    response = desk.post(
        f"/staff{path}",
        {
            "payer_kind": "extended_health",
            "policy_number": " P-1 ",
            "coverage_percent": "62,5",
            "per_visit_max": "45",
            "valid_from_day": "1",
            "valid_from_month": "12",
            "valid_from_year": "2026",
            "claim_number": "",
            "insurer_fee": "60",  # ICBC's: not sent for an extended health plan
        },
    )
    assert response.location.endswith(f"/staff/patients/{ANA}#coverages-heading")
    assert desk.billing.posted(path) == [
        {
            "clinic_id": CLINIC,
            "payer_kind": "extended_health",
            "policy_number": "P-1",
            "coverage_bp": 6250,
            "per_visit_max_cents": 4500,
            "valid_from": "2026-12-01",
        }
    ]
    assert "The coverage is added." in desk.page(PAGE)


def test_billings_refusal_of_a_coverage_is_said_beside_its_field(desk: Desk) -> None:
    path = f"/patients/{ANA}/coverages"
    desk.billing.routes[("POST", path)] = ApiError(
        422, "Invalid", fields={"insurer_fee_cents": "icbc needs it"}
    )
    sent = {
        "payer_kind": "icbc",
        "claim_number": "I-1",
        "injury_day": "2",
        "injury_month": "3",
        "injury_year": "2026",
        "insurer_fee": "60",
    }
    html = desk.post(f"/staff{path}", sent, status=422).get_data(as_text=True)
    assert error_beside(html, "insurer_fee") == "Enter what ICBC pays for each visit"
    assert "icbc needs it" not in html  # billing's own words are not shown


# --- ending a coverage --------------------------------------------------------------------------------------


def test_ending_a_coverage_posts_its_last_day(desk: Desk) -> None:
    path = f"/patients/{ANA}/coverages/{EHB}/end"
    desk.billing.routes[("POST", path)] = coverage(EHB, "extended_health", valid_to="2026-11-30")
    prefix = f"end_{EHB}"
    response = desk.post(
        f"/staff{path}", {f"{prefix}_day": "30", f"{prefix}_month": "11", f"{prefix}_year": "2026"}
    )
    assert response.location.endswith(f"/staff/patients/{ANA}#coverage-{EHB}")
    assert desk.billing.posted(path) == [{"valid_to": "2026-11-30"}]
    assert "The coverage&#39;s last day is Monday, November 30, 2026." in desk.page(PAGE)


def test_a_last_day_billing_refuses_or_a_wrong_date_is_said_beside_the_date(desk: Desk) -> None:
    path = f"/patients/{ANA}/coverages/{EHB}/end"
    prefix = f"end_{EHB}"
    desk.billing.routes[("POST", path)] = ApiError(
        422, "Invalid", fields={"valid_to": "before its first day"}
    )
    sent = {f"{prefix}_day": "1", f"{prefix}_month": "1", f"{prefix}_year": "2026"}
    html = desk.post(f"/staff{path}", sent, status=422).get_data(as_text=True)
    assert "<title>Error:" in html
    assert "the same as or after the coverage" in error_beside(html, prefix)
    assert f'href="#{prefix}_day">' in html
    assert 'value="2026"' in html
    assert '<details class="end-coverage" open>' in html
    sent = {f"{prefix}_day": "31", f"{prefix}_month": "2", f"{prefix}_year": "2026"}
    html = desk.post(f"/staff{path}", sent, status=422).get_data(as_text=True)
    assert "real date" in error_beside(html, prefix)
    html = desk.post(f"/staff{path}", {}, status=422).get_data(as_text=True)
    assert error_beside(html, prefix) == "Enter the coverage&#39;s last day"
    assert len(desk.billing.posted(path)) == 1  # only the first reached billing


# --- credit -------------------------------------------------------------------------------------------------


def test_applying_credit_posts_one_allocation_with_an_idempotency_key(desk: Desk) -> None:
    path = f"/patients/{ANA}/credit/applications"
    desk.billing.routes[("POST", path)] = {"id": str(uuid.uuid4())}
    html = desk.post(f"/staff{path}", {"invoice_id": INVOICE, "credit_amount": "30"}, status=422).get_data(
        as_text=True
    )
    assert error_beside(html, "credit_amount") == "Enter no more than the patient&#39;s credit, $25.00"
    desk.post(f"/staff{path}", {"invoice_id": INVOICE, "credit_amount": "25", "idempotency_key": "k-1"})
    assert desk.billing.posted(path) == [
        {
            "clinic_id": CLINIC,
            "currency": "CAD",
            "allocations": [{"invoice_id": INVOICE, "amount_cents": 2500}],
        }
    ]
    assert desk.billing.headers[-1] == {"Idempotency-Key": "k-1"}
    assert "$25.00 of credit is put on invoice VAN-2026-000007." in desk.page(PAGE)


# --- French, and the plain rules ----------------------------------------------------------------------------


def test_the_billing_section_in_french(desk: Desk) -> None:
    desk.client.get(f"{PAGE}?lang=fr")
    html = billing_section(desk.page(PAGE))
    assert "Facturation" in html
    assert "Ajouter une couverture" in html
    assert "Mettre fin à cette couverture" in html
    assert "Terminée" in html
    assert "80 % de chaque visite" in html
    assert "Crédit à cette clinique : 25,00\xa0$" in html
    html = desk.post(f"/staff/patients/{ANA}/coverages", {"payer_kind": "icbc"}, status=422).get_data(
        as_text=True
    )
    assert error_beside(html, "claim_number") == "Entrez le numéro de réclamation"


def test_coverage_rules() -> None:
    today = date(2026, 12, 3)
    row = CoverageRow.of(coverage(OLD, "icbc", valid_to="2026-12-03"))
    assert row.state(today) is CoverageState.ENDING  # the last day is inclusive
    assert row.state(today + timedelta(days=1)) is CoverageState.ENDED
    assert CoverageRow.of(coverage(OLD, "icbc")).state(today) is CoverageState.OPEN
    assert parse_percent("80") == 8000
    assert parse_percent("62,5 %") == 6250
    assert percent_text(6250) == "62.5"
    assert percent_text(8000) == "80"
    for bad in ("", "abc", "101", "-1", "12.345"):
        with pytest.raises(BadPercent):
            parse_percent(bad)


# --- payments and refunds -----------------------------------------------------------------------------------

CARD, CASH, REFUND = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
REFUNDS = f"/payments/{CARD}/refunds"


def payment(ident: str, amount: int, left: int, received: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "clinic_id": CLINIC,
        "patient_id": ANA,
        "method": "card",
        "amount_cents": amount,
        "currency": "CAD",
        "received_at": received,
        "recorded_by": str(uuid.uuid4()),
        "unallocated_cents": left,
        "refund_of": None,
        "reason": None,
        "allocations": [],
    } | extra


@pytest.fixture
def paid(desk: Desk) -> Desk:
    """A card payment of $100 with $20 left as credit ($5 of it refunded), and a cash one all spent."""
    desk.billing.routes[("GET", "/payments")] = [
        payment(CASH, 4000, 0, "2026-11-02T18:00:00+00:00", method="cash"),
        payment(CARD, 10000, 2000, "2026-11-03T18:00:00+00:00"),
        payment(REFUND, 500, 0, "2026-11-04T18:00:00+00:00", refund_of=CARD, reason="Paid twice"),
    ]
    return desk


def test_payments_are_listed_with_a_refund_form_for_what_is_left_of_each(paid: Desk) -> None:
    html = billing_section(paid.page(PAGE))
    assert "Payment of $100.00" in html
    assert "Payment of $40.00" in html
    assert html.index("Refund of $5.00") < html.index("Payment of $100.00") < html.index("Payment of $40.00")
    refund = html[html.index(f'id="payment-{REFUND}"') :]
    assert f'href="#payment-{CARD}">$100.00 received' in refund  # the refund names the payment it pays back
    assert "Paid twice" in refund
    # one refund form: the card payment's, for its $20.00 left; none on the spent payment nor the refund
    assert html.count('class="refund-payment"') == 1
    assert f'action="/staff/patients/{ANA}/payments/{CARD}/refunds"' in html
    assert f'id="refund_{CARD}_amount" name="refund_{CARD}_amount" type="text" value="20.00"' in html
    assert "No more than what is left of this payment as credit, $20.00." in html
    assert "Cash" in html
    asked = [
        params for method, path, _, params in paid.billing.calls if (method, path) == ("GET", "/payments")
    ]
    assert asked
    assert (asked[0]["patient_id"], asked[0]["clinic_id"]) == (ANA, CLINIC)


def test_the_front_desk_sees_payments_but_may_not_refund(paid: Desk) -> None:
    paid.as_(["front_desk"])
    html = billing_section(paid.page(PAGE))
    assert "Payment of $100.00" in html
    assert "refund-payment" not in html
    sent = {f"refund_{CARD}_amount": "5", f"refund_{CARD}_reason": "x"}
    assert paid.client.post(f"/staff/patients/{ANA}{REFUNDS}", data=sent).status_code == 403
    assert not paid.billing.posted(REFUNDS)


def test_a_bad_refund_amount_or_no_reason_is_said_beside_the_field(paid: Desk) -> None:
    amount, reason = f"refund_{CARD}_amount", f"refund_{CARD}_reason"
    html = paid.post(
        f"/staff/patients/{ANA}{REFUNDS}", {amount: "abc", reason: "Overpaid"}, status=422
    ).get_data(as_text=True)
    assert "<title>Error:" in html
    assert error_beside(html, amount) == "Enter an amount in dollars and cents, like 120.00"
    assert f'href="#{amount}">' in html  # the summary links to it
    assert '<details class="refund-payment" open>' in html
    assert 'value="Overpaid"' in html  # the answers are kept
    html = paid.post(
        f"/staff/patients/{ANA}{REFUNDS}", {amount: "25", reason: "Overpaid"}, status=422
    ).get_data(as_text=True)
    assert error_beside(html, amount) == "Enter no more than what is left of this payment as credit, $20.00"
    html = paid.post(f"/staff/patients/{ANA}{REFUNDS}", {amount: "5"}, status=422).get_data(as_text=True)
    assert error_beside(html, reason) == "Enter why the payment is refunded"
    assert not paid.billing.posted(REFUNDS)  # none reached billing


def test_refunding_posts_cents_and_reason_with_an_idempotency_key_then_says_so(paid: Desk) -> None:
    paid.billing.routes[("POST", REFUNDS)] = payment(str(uuid.uuid4()), 1250, 0, "2026-11-05T18:00:00+00:00")
    sent = {f"refund_{CARD}_amount": "12,50", f"refund_{CARD}_reason": " Overpaid ", "idempotency_key": "k-9"}
    response = paid.post(f"/staff/patients/{ANA}{REFUNDS}", sent)
    assert response.location.endswith(f"/staff/patients/{ANA}#payments-heading")
    assert paid.billing.posted(REFUNDS) == [{"amount_cents": 1250, "reason": "Overpaid"}]
    assert paid.billing.headers[-1] == {"Idempotency-Key": "k-9"}
    assert "$12.50 of the payment of $100.00 is refunded." in paid.page(PAGE)


def test_billings_refusal_of_a_refund_is_said_in_words_beside_the_amount(paid: Desk) -> None:
    paid.billing.routes[("POST", REFUNDS)] = ApiError(
        422,
        "Invalid",
        fields={"amount_cents": "a refund is at most the payment's unallocated credit"},
    )
    amount = f"refund_{CARD}_amount"
    html = paid.post(
        f"/staff/patients/{ANA}{REFUNDS}", {amount: "20", f"refund_{CARD}_reason": "Overpaid"}, status=422
    ).get_data(as_text=True)
    assert "its credit changed meanwhile" in error_beside(html, amount)
    assert "unallocated credit" not in html  # billing's own words are not shown
    # a payment with nothing left to refund (or not the patient's) is not sent to billing
    html = paid.post(
        f"/staff/patients/{ANA}/payments/{CASH}/refunds", {f"refund_{CASH}_amount": "1"}, status=422
    ).get_data(as_text=True)
    assert "This payment can no longer be refunded here." in html
    assert len(paid.billing.sent("POST")) == 1


def test_payments_and_refunds_in_french(paid: Desk) -> None:
    paid.client.get(f"{PAGE}?lang=fr")
    html = billing_section(paid.page(PAGE))
    assert "Paiement de 100,00\xa0$" in html
    assert "Remboursement de 5,00\xa0$" in html
    assert "Montant à rembourser (CAD)" in html
    html = paid.post(f"/staff/patients/{ANA}{REFUNDS}", {f"refund_{CARD}_amount": "5"}, status=422).get_data(
        as_text=True
    )
    assert error_beside(html, f"refund_{CARD}_reason") == "Entrez la raison du remboursement"
