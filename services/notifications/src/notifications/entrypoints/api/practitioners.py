"""Where practitioners' daily agendas go (admins): an address notifications keeps, scheduling never sends."""

from __future__ import annotations

import uuid
from typing import Any

from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.request_limits import Blueprint
from notifications.domain.copies import PractitionerInfo
from notifications.entrypoints.api import schemas
from notifications.entrypoints.api.context import container
from notifications.service_layer import agenda

blp = Blueprint("practitioners", __name__, url_prefix="/practitioners", description="Daily agenda e-mails")


@blp.route("/<uuid:practitioner_id>/agenda-address", methods=["PUT"])
@blp.arguments(schemas.AgendaAddressInput())
@blp.response(200, schemas.PractitionerSchema)
@blp.alt_response(404, description="A practitioner scheduling has not told us about, or of another clinic")
@require_roles("admin")
def put_agenda_address(body: dict[str, Any], practitioner_id: uuid.UUID) -> PractitionerInfo:
    with container().uow() as uow:
        practitioner = agenda.set_agenda_address(
            uow,
            current_principal(),
            agenda.SetAgendaAddress(practitioner_id=practitioner_id, email=body["email"]),
        )
        uow.commit()
        return practitioner
