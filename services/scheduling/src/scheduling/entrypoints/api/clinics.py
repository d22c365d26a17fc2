"""Clinics, their practitioners and treatment types (admin-managed; readable by any signed-in user)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from clinic_shared.web.auth import require_roles
from scheduling.domain.model import Clinic, Practitioner, TreatmentType
from scheduling.entrypoints.api import schemas
from scheduling.entrypoints.api.context import container, page_of
from scheduling.service_layer import services

blp = Blueprint("clinics", __name__, url_prefix="/clinics", description="Clinics and their catalogue")


@blp.route("", methods=["POST"])
@blp.arguments(schemas.ClinicRequest())
@blp.response(201, schemas.ClinicSchema)
@require_roles("admin")
def create_clinic(body: dict[str, Any]) -> Clinic:
    with container().uow() as uow:
        return services.create_clinic(uow, services.CreateClinic(**body))


@blp.route("", methods=["GET"])
@blp.response(200, schemas.ClinicSchema(many=True))
@blp.paginate()
def list_clinics(pagination_parameters: PaginationParameters) -> Sequence[Clinic]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = services.list_clinics(uow, page_of(pagination_parameters))
        return items


@blp.route("/<uuid:clinic_id>", methods=["GET"])
@blp.response(200, schemas.ClinicSchema)
def get_clinic(clinic_id: uuid.UUID) -> Clinic:
    with container().uow() as uow:
        return services.get_clinic(uow, clinic_id)


@blp.route("/<uuid:clinic_id>/practitioners", methods=["POST"])
@blp.arguments(schemas.PractitionerRequest())
@blp.response(201, schemas.PractitionerSchema)
@require_roles("admin")
def add_practitioner(body: dict[str, Any], clinic_id: uuid.UUID) -> Practitioner:
    with container().uow() as uow:
        return services.add_practitioner(uow, services.AddPractitioner(clinic_id=clinic_id, **body))


@blp.route("/<uuid:clinic_id>/practitioners", methods=["GET"])
@blp.response(200, schemas.PractitionerSchema(many=True))
@blp.paginate()
def list_practitioners(
    clinic_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[Practitioner]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = services.list_practitioners(
            uow, clinic_id, page_of(pagination_parameters)
        )
        return items


@blp.route("/<uuid:clinic_id>/treatment-types", methods=["POST"])
@blp.arguments(schemas.TreatmentTypeRequest())
@blp.response(201, schemas.TreatmentTypeSchema)
@require_roles("admin")
def add_treatment_type(body: dict[str, Any], clinic_id: uuid.UUID) -> TreatmentType:
    with container().uow() as uow:
        return services.add_treatment_type(uow, services.AddTreatmentType(clinic_id=clinic_id, **body))


@blp.route("/<uuid:clinic_id>/treatment-types", methods=["GET"])
@blp.response(200, schemas.TreatmentTypeSchema(many=True))
@blp.paginate()
def list_treatment_types(
    clinic_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[TreatmentType]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = services.list_treatment_types(
            uow, clinic_id, page_of(pagination_parameters)
        )
        return items
