"""Patients' contact copies as notifications holds them (front desk and admins, or the patient themself)."""

from __future__ import annotations

import uuid

from flask_smorest import Blueprint

from clinic_shared.web.auth import current_principal
from notifications.domain.model import Contact
from notifications.entrypoints.api import schemas
from notifications.entrypoints.api.context import container
from notifications.service_layer import services

blp = Blueprint("contacts", __name__, url_prefix="/contacts", description="Contact details used for messages")


@blp.route("/<uuid:patient_id>", methods=["GET"])
@blp.response(200, schemas.ContactSchema)
@blp.alt_response(404, description="Unknown patient, or another patient's details")
def get_contact(patient_id: uuid.UUID) -> Contact:
    with container().uow() as uow:
        return services.get_contact(uow, current_principal(), patient_id)
