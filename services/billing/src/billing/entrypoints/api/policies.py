"""A clinic's billing policy (fees, taxes, terms), its GST/HST registration, and the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters

from billing.domain.audit import AuditEntry
from billing.domain.billing_policy import BillingPolicy
from billing.domain.tax_registration import TaxRegistration
from billing.entrypoints.api.context import BILLING_STAFF, STAFF_ROLES, container
from billing.entrypoints.api.schemas.policies import (
    AuditEntrySchema,
    AuditQuery,
    BillingPolicySchema,
    TaxRegistrationSchema,
)
from billing.service_layer import audit, billing_policy, tax_registration
from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint(
    "policies", __name__, url_prefix="", description="Billing policy, GST/HST registration and audit trail"
)


@blp.route("/clinics/<uuid:clinic_id>/billing-policy", methods=["PUT"])
@blp.arguments(BillingPolicySchema())
@blp.response(200, BillingPolicySchema)
@require_roles(*BILLING_STAFF)
def set_policy(body: dict[str, Any], clinic_id: uuid.UUID) -> BillingPolicy:
    with container().uow() as uow:
        policy = billing_policy.set_billing_policy(
            uow, current_principal(), billing_policy.SetBillingPolicy(clinic_id=clinic_id, **body)
        )
        uow.commit()
        return policy


@blp.route("/clinics/<uuid:clinic_id>/billing-policy", methods=["GET"])
@blp.response(200, BillingPolicySchema)
@require_roles(*STAFF_ROLES)
def get_policy(clinic_id: uuid.UUID) -> BillingPolicy:
    with container().uow() as uow:
        return billing_policy.get_billing_policy(uow, current_principal(), clinic_id)


@blp.route("/clinics/<uuid:clinic_id>/tax-registration", methods=["PUT"])
@blp.arguments(TaxRegistrationSchema())
@blp.response(200, TaxRegistrationSchema)
@blp.alt_response(422, description="gst_hst_number is not 9 digits, RT and 4 digits")
@require_roles(*BILLING_STAFF)
def set_tax_registration(body: dict[str, Any], clinic_id: uuid.UUID) -> TaxRegistration:
    """Record the clinic's GST/HST registration number (null when it is not registered)."""
    with container().uow() as uow:
        registration = tax_registration.set_tax_registration(
            uow, current_principal(), tax_registration.SetTaxRegistration(clinic_id=clinic_id, **body)
        )
        uow.commit()
        return registration


@blp.route("/clinics/<uuid:clinic_id>/tax-registration", methods=["GET"])
@blp.response(200, TaxRegistrationSchema, description="gst_hst_number is null when none is on file")
@require_roles(*STAFF_ROLES)
def get_tax_registration(clinic_id: uuid.UUID) -> TaxRegistration:
    with container().uow() as uow:
        return tax_registration.get_tax_registration(uow, current_principal(), clinic_id)


@blp.route("/audit", methods=["GET"])
@blp.arguments(AuditQuery(), location="query")
@blp.response(200, AuditEntrySchema(many=True))
@blp.paginate()
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF)
def list_audit(query: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[AuditEntry]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = audit.list_audit(
            uow, current_principal(), page_of(pagination_parameters), query["entity_id"], query["clinic_id"]
        )
        return items
