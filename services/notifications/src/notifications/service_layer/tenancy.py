"""Who sees what across clinics (ADR 0006): staff act in their own clinic, organisation-wide staff in any."""

from __future__ import annotations

import uuid

from clinic_shared.tokens import Principal
from notifications.domain.errors import NotFound
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

# The answer for a clinic the actor may not see, as for one that does not exist.
CLINIC_NOT_FOUND = "clinic not found"


def acts_in(actor: Principal, clinic_id: uuid.UUID | None) -> bool:
    """Whether staff ``actor`` may see or change an object of ``clinic_id``: their own clinic, or any when
    organisation-wide. An object of no clinic (an account's message) is organisation-level: only
    organisation-wide staff see it."""
    if clinic_id is None:
        return actor.organisation_wide
    return actor.acts_in(clinic_id)


def require_clinic(
    actor: Principal, clinic_id: uuid.UUID | None, message: str, *, field: str | None = None
) -> None:
    """Raise NotFound (never Forbidden: that would confirm the object exists) unless ``actor`` acts in
    ``clinic_id``."""
    if not acts_in(actor, clinic_id):
        raise NotFound(message, field=field)


def patient_known_to(uow: NotificationsUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> bool:
    """Whether clinic-scoped staff ``actor``'s clinic has a relationship with the patient (ADR 0006)."""
    return actor.clinic_id is not None and uow.repo.patient_known_at(patient_id, actor.clinic_id)
