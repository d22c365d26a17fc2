"""The billing part of a patient's page for staff: coverages, packages and credit, from billing's public API.

``GET /patients/{id}/coverages``, ``/packages`` and ``/credit`` and ``GET /invoices`` (those still owing)
are read side by side; ``POST /patients/{id}/coverages`` adds a coverage, ``.../coverages/{id}/end`` gives it
a last day and ``POST /patients/{id}/credit/applications`` puts credit on an invoice; ``GET /payments`` lists
the patient's payments and refunds, ``POST /payments/{id}/refunds`` pays one back (each POST that moves
money with an Idempotency-Key).
Billing lets billing staff, admins and the front desk do all of these, and nobody else (``BILLING_READERS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.billing_desk import OpenInvoice, amount_text
from web.domain.coverages import CoverageRow, PackageRow, sorted_coverages
from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.listing import every_page
from web.service_layer.ports import ApiError, Apis
from web.service_layer.staff_billing import payment_setup
from web.service_layer.staff_practice import History, history

# billing's BILLING_STAFF and "front_desk": require_roles of the coverage, package and credit endpoints
BILLING_READERS = frozenset({"billing", "admin", "front_desk"})


def may_see_billing(credentials: Credentials) -> bool:
    return bool(BILLING_READERS & set(credentials.roles))


@dataclass(frozen=True)
class PatientBilling:
    today: date  # the clinic's
    currency: str
    coverages: list[CoverageRow] = field(default_factory=list)
    packages: list[PackageRow] = field(default_factory=list)
    credit_cents: int = 0
    open_invoices: list[OpenInvoice] = field(default_factory=list)
    payments: list[PaymentRow] = field(default_factory=list)  # and refunds, the latest first
    treatments: list[tuple[str, str]] = field(default_factory=list)  # (id, name): those a package may be of

    @property
    def may_apply_credit(self) -> bool:
        return self.credit_cents > 0 and bool(self.open_invoices)


@dataclass(frozen=True)
class PatientPage:
    history: History
    billing: PatientBilling | None  # None: this member of staff is not offered billing


def patient_page(
    apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str, now: datetime
) -> PatientPage:
    """The patient's history and, for those billing lets in, their billing at the clinic."""
    found = history(apis, credentials, clinic_id, patient_id, now)
    if not found.known or not may_see_billing(credentials):
        return PatientPage(found, None)
    today = now.astimezone(ZoneInfo(found.timezone)).date()
    return PatientPage(found, patient_billing(apis, credentials, clinic_id, patient_id, today))


def patient_billing(
    apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str, today: date
) -> PatientBilling | None:
    """Coverages (in force first), packages, credit, the invoices still owing (the payment page's reads,
    ``staff_billing.payment_setup``) and the payments; None if billing refuses."""
    token = credentials.access_token
    base = f"/patients/{patient_id}"
    try:
        coverages, packages, setup, treatments, payments = together(
            lambda: _none_yet(lambda: every_page(apis.billing, f"{base}/coverages", token)),
            lambda: _none_yet(lambda: every_page(apis.billing, f"{base}/packages", token)),
            lambda: payment_setup(apis, credentials, clinic_id, patient_id),
            lambda: every_page(apis.scheduling, f"/clinics/{clinic_id}/treatment-types", token),
            lambda: _none_shown(lambda: patient_payments(apis, credentials, clinic_id, patient_id)),
        )
    except ApiError as error:
        if error.status not in (403, 404):
            raise
        return None
    here = [body for body in coverages if str(body.get("clinic_id")) == clinic_id]
    named = {str(t["id"]): str(t["name"]) for t in treatments}
    return PatientBilling(
        today=today,
        currency=setup.currency,
        coverages=sorted_coverages([CoverageRow.of(body) for body in here], today),
        packages=[PackageRow.of(p, named) for p in packages if str(p.get("clinic_id")) == clinic_id],
        credit_cents=setup.credit_cents,
        open_invoices=setup.open_invoices,
        payments=payments,
        treatments=sorted(
            ((str(t["id"]), str(t["name"])) for t in treatments if t.get("active", True)), key=lambda t: t[1]
        ),
    )


def _none_yet(read: Callable[[], list[Any]]) -> list[Any]:
    """Billing lists a patient's coverages and packages to a clinic's staff once it has billed them there
    (404 before): none yet, and the page may still add one."""
    try:
        return read()
    except ApiError as error:
        if error.status != 404:
            raise
        return []


def _none_shown(read: Callable[[], list[Any]]) -> list[Any]:
    """A list billing does not show this member of staff (403) or has none of (404) is an empty one; the
    rest of the patient's billing is still shown."""
    try:
        return read()
    except ApiError as error:
        if error.status not in (403, 404):
            raise
        return []


def add_coverage(
    apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str, coverage: dict[str, Any]
) -> dict[str, Any]:
    """``coverage``: billing's Coverage fields (``for_payer``); refusals come back as ``ApiError``."""
    body = {"clinic_id": clinic_id} | coverage
    added: dict[str, Any] = apis.billing.post(
        f"/patients/{patient_id}/coverages", json=body, token=credentials.access_token
    )
    return added


def end_coverage(
    apis: Apis, credentials: Credentials, patient_id: str, coverage_id: str, last_day: date
) -> dict[str, Any]:
    ended: dict[str, Any] = apis.billing.post(
        f"/patients/{patient_id}/coverages/{coverage_id}/end",
        json={"valid_to": last_day.isoformat()},
        token=credentials.access_token,
    )
    return ended


@dataclass(frozen=True)
class CreditApplication:
    clinic_id: str
    patient_id: str
    invoice_id: str
    amount_cents: int
    currency: str
    idempotency_key: str


def apply_credit(apis: Apis, credentials: Credentials, application: CreditApplication) -> dict[str, Any]:
    applied: dict[str, Any] = apis.billing.post(
        f"/patients/{application.patient_id}/credit/applications",
        json={
            "clinic_id": application.clinic_id,
            "currency": application.currency,
            "allocations": [{"invoice_id": application.invoice_id, "amount_cents": application.amount_cents}],
        },
        token=credentials.access_token,
        headers={"Idempotency-Key": application.idempotency_key},
    )
    return applied


# --- payments and refunds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRow:
    """A payment as billing lists it; a refund is a payment of its own naming the one it pays back."""

    id: str
    method: str
    amount_cents: int
    currency: str
    received_at: str  # ISO instant
    unallocated_cents: int  # what is left of it as the patient's credit
    refund_of: str | None
    reason: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> PaymentRow:
        return cls(
            id=str(body["id"]),
            method=str(body["method"]),
            amount_cents=int(body["amount_cents"]),
            currency=str(body["currency"]),
            received_at=str(body["received_at"]),
            unallocated_cents=int(body.get("unallocated_cents") or 0),
            refund_of=str(body["refund_of"]) if body.get("refund_of") else None,
            reason=body.get("reason"),
        )

    @property
    def refundable_cents(self) -> int:
        """Billing pays back only a payment's unallocated credit, and never a refund."""
        return 0 if self.refund_of else max(self.unallocated_cents, 0)

    @property
    def refundable_text(self) -> str:
        """The refundable remainder as typed into an amount field ('20.00')."""
        return amount_text(self.refundable_cents)


def patient_payments(
    apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str
) -> list[PaymentRow]:
    """The patient's payments and refunds at the clinic, the latest first (``GET /payments``)."""
    listed = every_page(
        apis.billing,
        "/payments",
        credentials.access_token,
        {"clinic_id": clinic_id, "patient_id": patient_id},
    )
    rows = [PaymentRow.of(body) for body in listed]
    return sorted(rows, key=lambda row: (row.received_at, row.id), reverse=True)


@dataclass(frozen=True)
class Refund:
    payment_id: str
    amount_cents: int
    reason: str
    idempotency_key: str


def refund_payment(apis: Apis, credentials: Credentials, refund: Refund) -> dict[str, Any]:
    """``POST /payments/{id}/refunds``: the refund, referencing the payment; refusals come as ``ApiError``."""
    made: dict[str, Any] = apis.billing.post(
        f"/payments/{refund.payment_id}/refunds",
        json={"amount_cents": refund.amount_cents, "reason": refund.reason},
        token=credentials.access_token,
        headers={"Idempotency-Key": refund.idempotency_key},
    )
    return made


@dataclass(frozen=True)
class PackageSale:
    clinic_id: str
    patient_id: str
    treatment_type_id: str
    name: str
    sessions: int
    amount_cents: int
    currency: str
    expires_on: date | None


def sell_package(apis: Apis, credentials: Credentials, sale: PackageSale) -> dict[str, Any]:
    """``POST /packages``: the package, with the draft invoice billing makes for its price (``invoice_id``);
    refusals come as ``ApiError``."""
    body = {
        "clinic_id": sale.clinic_id,
        "patient_id": sale.patient_id,
        "treatment_type_id": sale.treatment_type_id,
        "name": sale.name,
        "sessions": sale.sessions,
        "amount_cents": sale.amount_cents,
        "currency": sale.currency,
        "expires_on": sale.expires_on.isoformat() if sale.expires_on else None,
    }
    sold: dict[str, Any] = apis.billing.post("/packages", token=credentials.access_token, json=body)
    return sold
