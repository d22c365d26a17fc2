"""Patients' contact copies and their contact preferences and consents (front desk and admins, or the
patient themself)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from clinic_shared.web.auth import current_principal
from clinic_shared.web.request_limits import Blueprint
from notifications.domain.copies import Contact
from notifications.entrypoints.api import schemas
from notifications.entrypoints.api.context import container
from notifications.service_layer import preferences, privacy, queries

blp = Blueprint("contacts", __name__, url_prefix="/contacts", description="Contact details used for messages")


@blp.route("/<uuid:patient_id>", methods=["GET"])
@blp.response(200, schemas.ContactSchema)
@blp.alt_response(404, description="Unknown patient, or another patient's details")
def get_contact(patient_id: uuid.UUID) -> Contact:
    with container().uow() as uow:
        return queries.get_contact(uow, current_principal(), patient_id)


@blp.route("/<uuid:patient_id>/export", methods=["GET"])
@blp.response(200, schemas.PatientExportSchema)
@blp.alt_response(
    404,
    description="Unknown patient, another patient's data, a patient unknown to the admin's clinic, or a "
    "caller who is neither the patient nor an admin",
)
def export_patient(patient_id: uuid.UUID) -> privacy.PatientExport:
    """Everything notifications holds about the patient (PIPA BC / PIPEDA right of access): contact copy,
    preferences and consents, every message about them, appointment copies and their texts. A clinic's
    admin gets what concerns their clinic."""
    with container().uow() as uow:
        return privacy.export_patient(uow, current_principal(), patient_id)


@blp.route("/<uuid:patient_id>/preferences", methods=["GET"])
@blp.response(200, schemas.PreferencesSchema)
@blp.alt_response(404, description="Unknown patient, or another patient's preferences")
def get_preferences(patient_id: uuid.UUID) -> preferences.Preferences:
    with container().uow() as uow:
        return preferences.get_preferences(uow, current_principal(), patient_id)


@blp.route("/<uuid:patient_id>/preferences", methods=["PUT"])
@blp.arguments(schemas.PreferencesInput())
@blp.response(200, schemas.PreferencesSchema)
@blp.alt_response(
    202,
    description="The patient's own choices, made before their contact details arrived from scheduling "
    "(e.g. just after signing up): recorded as consents and applied when the details arrive; GET answers "
    "404 until then. No body.",
)
@blp.alt_response(404, description="Unknown patient, or another patient's preferences")
@blp.alt_response(409, description="A language chosen before the contact details arrived (field language)")
def put_preferences(body: dict[str, Any], patient_id: uuid.UUID) -> preferences.Preferences | Response:
    """Channels, language and promotional consent; every consent change is kept on record."""
    with container().uow() as uow:
        chosen = preferences.change_preferences(
            uow, current_principal(), preferences.ChangePreferences(patient_id=patient_id, **body)
        )
        uow.commit()
    return Response(status=202) if chosen is None else chosen
