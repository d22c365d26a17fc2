"""Payments, refunds and credit applications (each POST takes an Idempotency-Key); coverages, packages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import Response
from flask_smorest.pagination import PaginationParameters

from billing.domain.coverages import Coverage
from billing.domain.packages import Package
from billing.domain.payments import Payment
from billing.entrypoints.api.context import BILLING_STAFF, container
from billing.entrypoints.api.idempotency import run_once
from billing.entrypoints.api.schemas.common import IdempotencyHeaders
from billing.entrypoints.api.schemas.coverages import EndCoverageRequest, PatientCoverageSchema
from billing.entrypoints.api.schemas.packages import PackageSchema, SellPackageRequest
from billing.entrypoints.api.schemas.payments import (
    CreditApplicationRequest,
    CreditApplicationSchema,
    CreditQuery,
    CreditSchema,
    PaymentQuery,
    PaymentRequest,
    PaymentSchema,
    RefundRequest,
)
from billing.service_layer import coverages, packages, payments
from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.problems import Problem
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint("payments", __name__, url_prefix="", description="Payments, refunds and patient credit")


@blp.route("/payments", methods=["POST"])
@blp.arguments(IdempotencyHeaders(), location="headers")
@blp.arguments(PaymentRequest())
@blp.response(201, PaymentSchema, description="A replay returns the first response")
@blp.alt_response(422, description="Invalid allocation, or the Idempotency-Key was used for another request")
@blp.alt_response(
    404,
    description="clinic_id names another clinic than the caller's (field `clinic_id`), or an allocation "
    "names an invoice that does not exist or is another clinic's (field `allocations`)",
)
@require_roles(*BILLING_STAFF, "front_desk")
def record_payment(headers: dict[str, Any], body: dict[str, Any]) -> Response:
    allocations = [payments.AllocationRequest(**a) for a in body.pop("allocations")]
    cmd = payments.RecordPayment(**body, allocations=allocations)
    return run_once(
        headers, lambda uow: payments.record_payment(uow, current_principal(), cmd), PaymentSchema()
    )


@blp.route("/payments/<uuid:payment_id>/refunds", methods=["POST"])
@blp.arguments(IdempotencyHeaders(), location="headers")
@blp.arguments(RefundRequest())
@blp.response(201, PaymentSchema, description="The refund, referencing the original payment")
@require_roles(*BILLING_STAFF)
def refund_payment(headers: dict[str, Any], body: dict[str, Any], payment_id: uuid.UUID) -> Response:
    cmd = payments.RefundPayment(payment_id=payment_id, **body)
    return run_once(
        headers, lambda uow: payments.refund_payment(uow, current_principal(), cmd), PaymentSchema()
    )


@blp.route("/payments", methods=["GET"])
@blp.arguments(PaymentQuery(), location="query")
@blp.response(200, PaymentSchema(many=True))
@blp.paginate()
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
def list_payments(query: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[Payment]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = payments.list_payments(
            uow, current_principal(), page_of(pagination_parameters), query["patient_id"], query["clinic_id"]
        )
        return items


@blp.route("/payments/<uuid:payment_id>", methods=["GET"])
@blp.response(200, PaymentSchema)
def get_payment(payment_id: uuid.UUID) -> Payment:
    with container().uow() as uow:
        return payments.get_payment(uow, current_principal(), payment_id)


@blp.route("/patients/<uuid:patient_id>/coverages", methods=["POST"])
@blp.arguments(PatientCoverageSchema())
@blp.response(201, PatientCoverageSchema)
@blp.alt_response(422, description="A field the payer requires is missing")
@blp.alt_response(404, description="Billing knows no such patient or clinic (field `patient_id`/`clinic_id`)")
@require_roles(*BILLING_STAFF, "front_desk")
def add_coverage(body: dict[str, Any], patient_id: uuid.UUID) -> Coverage:
    with container().uow() as uow:
        coverage = coverages.add_coverage(
            uow, current_principal(), coverages.AddCoverage(patient_id=patient_id, **body)
        )
        uow.commit()
        return coverage


@blp.route("/patients/<uuid:patient_id>/coverages", methods=["GET"])
@blp.response(200, PatientCoverageSchema(many=True))
@blp.paginate()
@require_roles(*BILLING_STAFF, "front_desk")
def list_coverages(patient_id: uuid.UUID, pagination_parameters: PaginationParameters) -> Sequence[Coverage]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = coverages.list_coverages(
            uow, current_principal(), patient_id, page_of(pagination_parameters)
        )
        return items


@blp.route("/patients/<uuid:patient_id>/coverages/<uuid:coverage_id>/end", methods=["POST"])
@blp.arguments(EndCoverageRequest())
@blp.response(200, PatientCoverageSchema, description="The coverage with its last day")
@blp.alt_response(422, description="The last day is before the coverage's first day (field `valid_to`)")
@blp.alt_response(
    404, description="No such coverage of this patient, or another clinic's (field `coverage_id`)"
)
@require_roles(*BILLING_STAFF, "front_desk")
def end_coverage(body: dict[str, Any], patient_id: uuid.UUID, coverage_id: uuid.UUID) -> Coverage:
    """End a coverage on its last day (inclusive); ending it again moves that day."""
    with container().uow() as uow:
        coverage = coverages.end_coverage(
            uow,
            current_principal(),
            coverages.EndCoverage(patient_id=patient_id, coverage_id=coverage_id, valid_to=body["valid_to"]),
        )
        uow.commit()
        return coverage


@blp.route("/packages", methods=["POST"])
@blp.arguments(SellPackageRequest())
@blp.response(201, PackageSchema, description="The package and a draft invoice for its price")
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF, "front_desk")
def sell_package(body: dict[str, Any]) -> Package:
    with container().uow() as uow:
        package = packages.sell_package(uow, current_principal(), packages.SellPackage(**body))
        uow.commit()
        return package


@blp.route("/patients/<uuid:patient_id>/packages", methods=["GET"])
@blp.response(200, PackageSchema(many=True))
@blp.paginate()
@require_roles(*BILLING_STAFF, "front_desk")
def list_packages(patient_id: uuid.UUID, pagination_parameters: PaginationParameters) -> Sequence[Package]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = packages.list_packages(
            uow, current_principal(), patient_id, page_of(pagination_parameters)
        )
        return items


@blp.route("/patients/<uuid:patient_id>/credit", methods=["GET"])
@blp.arguments(CreditQuery(), location="query")
@blp.response(200, CreditSchema)
@blp.alt_response(403, description="A staff role other than billing, admin or front desk")
@blp.alt_response(404, description="Another patient's credit, or another clinic's")
def patient_credit(query: dict[str, Any], patient_id: uuid.UUID) -> dict[str, Any]:
    """What the patient has paid and not yet had applied: billing staff and front desk, or the patient."""
    actor = current_principal()
    if actor.is_staff and not actor.has_any((*BILLING_STAFF, "front_desk")):
        raise Problem(403, "Forbidden", "Your role does not allow this action.")
    with container().uow() as uow:
        credit = payments.patient_credit_for(uow, actor, query["clinic_id"], patient_id)
        return {
            "patient_id": patient_id,
            "clinic_id": query["clinic_id"],
            "credit_cents": credit.cents,
            "currency": credit.currency,
        }


@blp.route("/patients/<uuid:patient_id>/credit/applications", methods=["POST"])
@blp.arguments(IdempotencyHeaders(), location="headers")
@blp.arguments(CreditApplicationRequest())
@blp.response(
    201,
    CreditApplicationSchema,
    description="Credit drawn from earlier payments onto the invoices; a replay returns the first response",
)
@blp.alt_response(
    422, description="More than the credit or an invoice's balance, or the Idempotency-Key was reused"
)
@require_roles(*BILLING_STAFF, "front_desk")
def apply_patient_credit(headers: dict[str, Any], body: dict[str, Any], patient_id: uuid.UUID) -> Response:
    """Put the patient's credit towards issued invoices; no money is received, so no receipt is sent."""
    allocations = [payments.AllocationRequest(**a) for a in body.pop("allocations")]
    cmd = payments.ApplyCredit(patient_id=patient_id, **body, allocations=allocations)
    return run_once(
        headers,
        lambda uow: payments.apply_patient_credit(uow, current_principal(), cmd),
        CreditApplicationSchema(),
    )
