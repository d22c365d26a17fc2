"""Reading what notifications holds: the delivery log and patients' contact copies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal
from notifications.domain.channels import Channel
from notifications.domain.copies import Contact
from notifications.domain.deliveries import Delivery, DeliveryAttempt, DeliveryStatus
from notifications.domain.errors import Forbidden, NotFound
from notifications.domain.kinds import DeliveryKind
from notifications.service_layer.tenancy import CLINIC_NOT_FOUND, acts_in, patient_known_to, require_clinic
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

# Staff who may read the delivery log and patients' contact copies.
STAFF_READERS = frozenset({"front_desk", "admin"})


@dataclass(frozen=True)
class LoggedDelivery:
    """A delivery with each attempt at sending it: one entry of the delivery log as staff read it."""

    delivery: Delivery
    attempts: Sequence[DeliveryAttempt]


def with_attempts(uow: NotificationsUnitOfWork, items: Sequence[Delivery]) -> list[LoggedDelivery]:
    """Each delivery with its attempts, in the order given."""
    by_delivery: dict[uuid.UUID, list[DeliveryAttempt]] = {}
    for attempt in uow.repo.attempts_of([d.id for d in items]):
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [LoggedDelivery(d, by_delivery.get(d.id, [])) for d in items]


def list_deliveries(
    uow: NotificationsUnitOfWork,
    actor: Principal,
    page: Page,
    *,
    clinic_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    kind: DeliveryKind | None = None,
) -> tuple[Sequence[LoggedDelivery], int]:
    """Newest first; clinic-scoped staff see their clinic's only (naming another clinic: not found),
    organisation-wide staff every clinic's and the account messages of no clinic."""
    if clinic_id is not None:
        require_clinic(actor, clinic_id, CLINIC_NOT_FOUND, field="clinic_id")
    elif not actor.organisation_wide:
        clinic_id = actor.clinic_id
        if clinic_id is None:  # not staff: the entrypoint lets none such through
            raise NotFound(CLINIC_NOT_FOUND)
    filters = {
        name: value
        for name, value in (
            ("clinic_id", clinic_id),
            ("patient_id", patient_id),
            ("appointment_id", appointment_id),
            ("status", status),
            ("channel", channel),
            ("kind", kind),
        )
        if value is not None
    }
    items, total = uow.repo.list_deliveries(offset=page.offset, limit=page.limit, **filters)
    return with_attempts(uow, items), total


def get_delivery(uow: NotificationsUnitOfWork, actor: Principal, delivery_id: uuid.UUID) -> LoggedDelivery:
    """One delivery of the actor's clinic (any, organisation-wide); another clinic's is not found."""
    delivery = uow.repo.get(Delivery, delivery_id)
    if delivery is None or not acts_in(actor, delivery.clinic_id):
        raise NotFound("delivery not found", field="delivery_id")
    return with_attempts(uow, [delivery])[0]


def get_contact(uow: NotificationsUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Contact:
    """A patient sees their own contact copy; front desk and admins a patient's who has a relationship
    with their clinic (a message about it, or an appointment there), organisation-wide ones any patient's.
    Others' are 404 (staff of other roles: 403)."""
    own = actor.patient_id == patient_id
    if not own and not actor.has_any(STAFF_READERS):
        if actor.is_staff:
            raise Forbidden("your role does not allow reading patients' contact details")
        raise NotFound("contact not found", field="patient_id")
    if not (own or actor.organisation_wide or patient_known_to(uow, actor, patient_id)):
        raise NotFound("contact not found", field="patient_id")
    contact = uow.repo.contact(patient_id)
    if contact is None:
        raise NotFound("contact not found", field="patient_id")
    return contact
