"""FHIR R4 JSON exports of appointments and free slots (application/fhir+json)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response
from marshmallow import fields, validate

from clinic_shared.web.auth import current_principal
from clinic_shared.web.request_limits import Blueprint
from scheduling.entrypoints.api.context import container
from scheduling.entrypoints.api.schemas.availability import SlotQuery
from scheduling.service_layer import fhir
from scheduling.service_layer.availability import SearchSlots

blp = Blueprint("fhir", __name__, url_prefix="/fhir", description="FHIR R4 exports")

FHIR_JSON = "application/fhir+json"


class SlotBundleQuery(SlotQuery):
    clinic_id = fields.UUID(required=True)
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0), data_key="_offset")
    count = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500), data_key="_count")


def _fhir(resource: dict[str, Any]) -> Response:
    return Response(json.dumps(resource), mimetype=FHIR_JSON)


@blp.route("/Appointment/<uuid:appointment_id>", methods=["GET"])
@blp.response(200, content_type=FHIR_JSON, description="A FHIR R4 Appointment resource")
def appointment(appointment_id: uuid.UUID) -> Response:
    with container().uow() as uow:
        return _fhir(fhir.appointment_resource(uow, current_principal(), appointment_id))


@blp.route("/Slot", methods=["GET"])
@blp.arguments(SlotBundleQuery(), location="query")
@blp.response(200, content_type=FHIR_JSON, description="A searchset Bundle of free FHIR R4 Slots (paged)")
@blp.alt_response(404, description="No such clinic, practitioner or treatment type (the parameter is named)")
def slots(query: dict[str, Any]) -> Response:
    offset, count = query.pop("offset"), query.pop("count")
    with container().uow() as uow:
        return _fhir(fhir.slot_bundle(uow, current_principal(), SearchSlots(**query), offset, count))
