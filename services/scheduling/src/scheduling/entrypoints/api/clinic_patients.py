"""A clinic's patient list, for its front desk: search, find by exact e-mail or phone, register a caller."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from clinic_shared.web.auth import current_principal
from clinic_shared.web.fast_dump import FastDumpSchema
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint
from scheduling.domain.model import Patient
from scheduling.entrypoints.api.context import container
from scheduling.entrypoints.api.schemas.patients import (
    FindPatientRequest,
    PatientSchema,
    PatientSearchQuery,
    RegisterCallerRequest,
)
from scheduling.service_layer import patient_registry

blp = Blueprint(
    "clinic_patients",
    __name__,
    url_prefix="/clinics/<uuid:clinic_id>/patients",
    description="A clinic's patients, for its front desk and admins: the clinic's own list only; a patient "
    "new to the clinic is found by exact e-mail address or phone number, never by browsing (ADR 0006).",
)

DESK_ONLY = "Only the clinic's front desk and admins keep its patient list"


@blp.route("", methods=["GET"])
@blp.arguments(PatientSearchQuery(), location="query")
@blp.response(200, PatientSchema(many=True))
@blp.paginate()
@blp.alt_response(403, description=DESK_ONLY)
def search_patients(
    query: dict[str, Any], clinic_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[Patient]:
    """The clinic's patients (registered here, or with an appointment, plan or waitlist entry here) whose
    name, e-mail or phone holds every word of `q`, by last name."""
    with container().uow() as uow:
        items, pagination_parameters.item_count = patient_registry.search_patients(
            uow, current_principal(), clinic_id, query["q"], page_of(pagination_parameters)
        )
        return items


class PatientNamesQuery(Schema):
    """Whose names: `id`s, or the patients booked in a window (`booked_from` and `booked_before`)."""

    ids = fields.List(
        fields.UUID(),
        data_key="id",
        validate=validate.Length(min=1, max=patient_registry.MAX_NAMES),
        metadata={"description": "The patients to name (repeat the parameter); at most 80"},
    )
    booked_from = fields.AwareDateTime(
        metadata={
            "description": "Instead of `id`: the patients with an appointment here starting at or after "
            "this instant (any status)"
        }
    )
    booked_before = fields.AwareDateTime(
        metadata={"description": "With `booked_from`: the window's end (excluded); at most 31 days after it"}
    )

    @validates_schema
    def _ids_or_window(self, data: dict[str, Any], **_: Any) -> None:
        if "ids" in data:
            if "booked_from" in data or "booked_before" in data:
                raise ValidationError("give the ids or the booking window, not both", "id")
            return
        for name in ("booked_from", "booked_before"):
            if name not in data:
                raise ValidationError("give the ids, or both ends of the booking window", name)


class PatientNameSchema(FastDumpSchema):
    id = fields.UUID()
    first_name = fields.String()
    last_name = fields.String()


@blp.route("/names", methods=["GET"])
@blp.arguments(PatientNamesQuery(), location="query")
@blp.response(200, PatientNameSchema(many=True))
def patient_names(query: dict[str, Any], clinic_id: uuid.UUID) -> Sequence[Patient]:
    """The names of those of `id` who are the clinic's patients, or of the patients with an appointment here
    in a window, for any of its staff (the day's schedule names its patients in one call, beside reading its
    appointments). Each patient named is logged as a read of their record."""
    with container().uow() as uow:
        wanted = patient_registry.NamesWanted(**query)
        patients = patient_registry.patient_names(uow, current_principal(), clinic_id, wanted)
        uow.commit()
        return patients


@blp.route("/find", methods=["POST"])
@blp.arguments(FindPatientRequest())
@blp.response(200, PatientSchema)
@blp.alt_response(403, description=DESK_ONLY)
@blp.alt_response(404, description="No patient has this e-mail (field `email`) or phone (field `phone`)")
def find_patient(body: dict[str, Any], clinic_id: uuid.UUID) -> Patient:
    """Find a patient new to the clinic by their exact e-mail address or phone number (one of the two);
    they are then on the clinic's list, so the desk can book for them. The lookup is in the access log."""
    with container().uow() as uow:
        patient = patient_registry.find_patient(
            uow, current_principal(), clinic_id, email=body.get("email"), phone=body.get("phone")
        )
        uow.commit()
        return patient


@blp.route("", methods=["POST"])
@blp.arguments(RegisterCallerRequest())
@blp.response(201, PatientSchema)
@blp.alt_response(403, description=DESK_ONLY)
@blp.alt_response(409, description="A patient with this e-mail is registered: find them (field `email`)")
def register_caller(body: dict[str, Any], clinic_id: uuid.UUID) -> Patient:
    """Register a patient who phoned in, without a password: they set one with "Forgot your password?"."""
    c = container()
    with c.uow() as uow:
        patient = patient_registry.register_caller(
            uow, c.hasher, current_principal(), clinic_id, patient_registry.RegisterCaller(**body)
        )
        uow.commit()
        return patient
