"""Clinics, their practitioners and treatment types (admin-managed; readable by any signed-in user)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields

from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint
from scheduling.domain.model import Clinic, Practitioner, TreatmentType
from scheduling.entrypoints.api.context import container
from scheduling.entrypoints.api.schemas.clinics import (
    ClinicRequest,
    ClinicSchema,
    PractitionerRequest,
    PractitionerSchema,
    TreatmentTypeRequest,
    TreatmentTypeSchema,
)
from scheduling.service_layer import appointments, clinic_setup

blp = Blueprint(
    "clinics",
    __name__,
    url_prefix="/clinics",
    description="Clinics and their catalogue. A clinic's staff see and manage their own clinic only: another "
    "clinic answers 404 (ADR 0006).",
)


@blp.route("", methods=["POST"])
@blp.arguments(ClinicRequest())
@blp.response(201, ClinicSchema)
@blp.alt_response(403, description="Only an organisation-wide admin creates clinics (not a clinic's admin)")
@blp.alt_response(409, description="A clinic with this code exists (field `code`)")
@require_roles("admin")
def create_clinic(body: dict[str, Any]) -> Clinic:
    """Add a clinic to the organisation (organisation-wide admins only)."""
    with container().uow() as uow:
        clinic = clinic_setup.create_clinic(uow, current_principal(), clinic_setup.CreateClinic(**body))
        uow.commit()
        return clinic


@blp.route("", methods=["GET"])
@blp.response(200, ClinicSchema(many=True))
@blp.paginate()
def list_clinics(pagination_parameters: PaginationParameters) -> Sequence[Clinic]:
    """The organisation's clinics; a clinic's staff see their own clinic only."""
    with container().uow() as uow:
        items, pagination_parameters.item_count = clinic_setup.list_clinics(
            uow, current_principal(), page_of(pagination_parameters)
        )
        return items


@blp.route("/<uuid:clinic_id>", methods=["GET"])
@blp.response(200, ClinicSchema)
def get_clinic(clinic_id: uuid.UUID) -> Clinic:
    with container().uow() as uow:
        return clinic_setup.get_clinic(uow, current_principal(), clinic_id)


@blp.route("/<uuid:clinic_id>/practitioners", methods=["POST"])
@blp.arguments(PractitionerRequest())
@blp.response(201, PractitionerSchema)
@require_roles("admin")
def add_practitioner(body: dict[str, Any], clinic_id: uuid.UUID) -> Practitioner:
    with container().uow() as uow:
        practitioner = clinic_setup.add_practitioner(
            uow, current_principal(), clinic_setup.AddPractitioner(clinic_id=clinic_id, **body)
        )
        uow.commit()
        return practitioner


@blp.route("/<uuid:clinic_id>/practitioners", methods=["GET"])
@blp.response(200, PractitionerSchema(many=True))
@blp.paginate()
def list_practitioners(
    clinic_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[Practitioner]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = clinic_setup.list_practitioners(
            uow, current_principal(), clinic_id, page_of(pagination_parameters)
        )
        return items


@blp.route("/<uuid:clinic_id>/treatment-types", methods=["POST"])
@blp.arguments(TreatmentTypeRequest())
@blp.response(201, TreatmentTypeSchema)
@require_roles("admin")
def add_treatment_type(body: dict[str, Any], clinic_id: uuid.UUID) -> TreatmentType:
    with container().uow() as uow:
        treatment = clinic_setup.add_treatment_type(
            uow, current_principal(), clinic_setup.AddTreatmentType(clinic_id=clinic_id, **body)
        )
        uow.commit()
        return treatment


@blp.route("/<uuid:clinic_id>/treatment-types", methods=["GET"])
@blp.response(200, TreatmentTypeSchema(many=True))
@blp.paginate()
def list_treatment_types(
    clinic_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[TreatmentType]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = clinic_setup.list_treatment_types(
            uow, current_principal(), clinic_id, page_of(pagination_parameters)
        )
        return items


class ClearanceQuery(Schema):
    patient_id = fields.UUID(load_default=None, metadata={"description": "Staff only: whose clearance"})


class ClearanceSchema(Schema):
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    cleared = fields.Boolean(
        metadata={"description": "IMS may be booked: an assessment found IMS suitable, with consent"}
    )
    assessed = fields.Boolean(metadata={"description": "An assessment here has a recorded finding"})
    suitable = fields.Boolean(allow_none=True, metadata={"description": "The latest finding (null: none)"})
    consent_recorded = fields.Boolean(allow_none=True)
    recorded_at = fields.AwareDateTime(format="iso", allow_none=True)


@blp.route("/<uuid:clinic_id>/ims-clearance", methods=["GET"])
@blp.arguments(ClearanceQuery(), location="query")
@blp.response(200, ClearanceSchema)
def get_ims_clearance(query: dict[str, Any], clinic_id: uuid.UUID) -> dict[str, Any]:
    """May this patient book IMS treatment here? A patient reads their own (``patient_id`` is for staff).

    ``cleared`` is what booking checks; ``assessed``/``suitable``/``consent_recorded`` let a page say why not.
    """
    with container().uow() as uow:
        clearance = appointments.ims_clearance(uow, current_principal(), clinic_id, query["patient_id"])
    finding = clearance.finding
    return {
        "clinic_id": clearance.clinic_id,
        "patient_id": clearance.patient_id,
        "cleared": clearance.cleared,
        "assessed": finding is not None,
        "suitable": finding.suitable if finding else None,
        "consent_recorded": finding.consent_recorded if finding else None,
        "recorded_at": finding.recorded_at if finding else None,
    }
