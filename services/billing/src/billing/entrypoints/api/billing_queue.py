"""The billing queue: patients with charges waiting to be invoiced, for billing staff."""

from __future__ import annotations

from typing import Any

from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields

from billing.domain.invoicing import PayerKind
from billing.entrypoints.api.context import BILLING_STAFF, container
from billing.entrypoints.api.schemas.charges import ChargeSchema
from billing.entrypoints.api.schemas.coverages import CoverageSchema
from billing.service_layer.billing_queue import QueueEntry, QueueFilter, billing_queue
from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.fast_dump import FastDumpSchema
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint("billing_queue", __name__, url_prefix="/billing-queue", description="The billing queue")


class QueueQuery(Schema):
    clinic_id = fields.UUID(load_default=None)
    first_day = fields.Date(
        load_default=None, metadata={"description": "Patients with a billable charge on or after this date"}
    )
    last_day = fields.Date(
        load_default=None, metadata={"description": "Patients with a billable charge on or before this date"}
    )
    payer = fields.Enum(
        PayerKind,
        by_value=True,
        load_default=None,
        metadata={"description": "Patients with a coverage of this kind here; patient: with none"},
    )


class QueueEntrySchema(FastDumpSchema):
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    oldest_service_date = fields.Date()
    charges = fields.List(
        fields.Nested(ChargeSchema), metadata={"description": "Every billable charge: what a draft takes"}
    )
    coverages = fields.List(fields.Nested(CoverageSchema), metadata={"description": "For a split invoice"})


@blp.route("", methods=["GET"])
@blp.arguments(QueueQuery(), location="query")
@blp.response(200, QueueEntrySchema(many=True))
@blp.paginate()
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@blp.alt_response(422, description="last_day is before first_day")
@require_roles(*BILLING_STAFF)
def list_queue(query: dict[str, Any], pagination_parameters: PaginationParameters) -> list[QueueEntry]:
    """Patients whose charges wait to be invoiced, longest waiting first, a page of patients at a time;
    the date window and payer pick patients, and each entry holds all of the patient's billable charges."""
    with container().uow() as uow:
        entries, pagination_parameters.item_count = billing_queue(
            uow, current_principal(), page_of(pagination_parameters), QueueFilter(**query)
        )
        return entries
