"""Clinics' reminder policies: when reminders go out (front desk and admins of the clinic, or
organisation-wide)."""

from __future__ import annotations

import uuid
from typing import Any

from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.request_limits import Blueprint
from notifications.domain.reminders import ReminderPolicy
from notifications.entrypoints.api import schemas
from notifications.entrypoints.api.context import container
from notifications.service_layer import reminder_policies

blp = Blueprint("clinics", __name__, url_prefix="/clinics", description="Clinics' reminder policies")


@blp.route("/<uuid:clinic_id>/reminder-policy", methods=["GET"])
@blp.response(200, schemas.ReminderPolicySchema)
@blp.alt_response(404, description="Another clinic than the caller's (organisation-wide staff: any clinic)")
@require_roles(*reminder_policies.POLICY_EDITORS)
def get_reminder_policy(clinic_id: uuid.UUID) -> ReminderPolicy:
    with container().uow() as uow:
        return reminder_policies.get_reminder_policy(uow, current_principal(), clinic_id)


@blp.route("/<uuid:clinic_id>/reminder-policy", methods=["PUT"])
@blp.arguments(schemas.ReminderPolicyInput())
@blp.response(200, schemas.ReminderPolicySchema)
@blp.alt_response(404, description="Another clinic than the caller's (organisation-wide staff: any clinic)")
@blp.alt_response(422, description="A policy that cannot work (fields named)")
@require_roles(*reminder_policies.POLICY_EDITORS)
def put_reminder_policy(body: dict[str, Any], clinic_id: uuid.UUID) -> ReminderPolicy:
    with container().uow() as uow:
        policy = reminder_policies.change_reminder_policy(
            uow, current_principal(), reminder_policies.ChangeReminderPolicy(clinic_id=clinic_id, **body)
        )
        uow.commit()
        return policy
