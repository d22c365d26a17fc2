"""The waitlist: ask for an earlier time, see offers, claim a held slot, withdraw."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters

from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.request_limits import Blueprint
from scheduling.domain.model import Appointment
from scheduling.domain.waitlist import WaitlistEntry
from scheduling.entrypoints.api.context import container
from scheduling.entrypoints.api.schemas.appointments import AppointmentSchema
from scheduling.entrypoints.api.schemas.waitlist import JoinWaitlistRequest, WaitlistEntrySchema
from scheduling.service_layer import waitlist

blp = Blueprint(
    "waitlist",
    __name__,
    url_prefix="/waitlist",
    description="Waitlist for earlier times. Staff see their own clinic's entries and offers only (another "
    "clinic's are 404).",
)

STAFF_WHO_RELEASE = ("practitioner", "front_desk", "admin")


@blp.route("", methods=["POST"])
@blp.arguments(JoinWaitlistRequest())
@blp.response(201, WaitlistEntrySchema)
@blp.alt_response(403, description="A staff member without `patient_id`, or a caller who is no patient")
@blp.alt_response(404, description="No such patient, clinic, treatment type, practitioner or appointment")
def join(body: dict[str, Any]) -> WaitlistEntry:
    """Ask to be offered a time between ``not_before`` and ``not_after`` when one frees up.

    With ``appointment_id`` (the patient's later appointment) a claimed offer moves that appointment.
    """
    with container().uow() as uow:
        entry = waitlist.join_waitlist(uow, current_principal(), waitlist.JoinWaitlist(**body))
        uow.commit()
        return entry


@blp.route("", methods=["GET"])
@blp.response(200, WaitlistEntrySchema(many=True))
@blp.paginate()
def list_entries(pagination_parameters: PaginationParameters) -> Sequence[WaitlistEntry]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = waitlist.list_waitlist(
            uow, current_principal(), pagination_parameters.first_item, pagination_parameters.page_size
        )
        return items


@blp.route("/offers/<uuid:offer_id>", methods=["GET"])
@blp.response(200, WaitlistEntrySchema)
@blp.alt_response(404, description="No offer with this id for the signed-in patient")
def get_offer(offer_id: uuid.UUID) -> WaitlistEntry:
    """The entry an offer was made to, by the offer's id (``offer_id`` of scheduling.waitlist.offered, the
    held appointment): the link in the offer's message. Its ``status`` says whether the offer is still open
    (``offered``, until ``offer_expires_at``), taken (``booked``), lapsed (``expired``) or ``withdrawn``."""
    with container().uow() as uow:
        return waitlist.get_offer(uow, current_principal(), offer_id)


@blp.route("/<uuid:entry_id>/claim", methods=["POST"])
@blp.response(201, AppointmentSchema)
@blp.alt_response(422, description="No open offer, or it has expired")
def claim(entry_id: uuid.UUID) -> Appointment:
    """Book the time held for this entry, or move the entry's named appointment to it (a reschedule)."""
    with container().uow() as uow:
        appointment = waitlist.claim_offer(uow, current_principal(), entry_id)
        uow.commit()
        return appointment


@blp.route("/<uuid:entry_id>/withdraw", methods=["POST"])
@blp.response(200, WaitlistEntrySchema)
def withdraw(entry_id: uuid.UUID) -> WaitlistEntry:
    """Leave the waitlist (a held time goes to the next patient waiting)."""
    with container().uow() as uow:
        entry = waitlist.withdraw(uow, current_principal(), entry_id)
        uow.commit()
        return entry


@blp.route("/offers/<uuid:offer_id>/release", methods=["POST"])
@blp.response(200, AppointmentSchema)
@blp.alt_response(403, description="Only staff can release a held time")
@blp.alt_response(404, description="No offer with this id")
@blp.alt_response(422, description="The time is no longer held (claimed, lapsed or released)")
@require_roles(*STAFF_WHO_RELEASE)
def release(offer_id: uuid.UUID) -> Appointment:
    """Staff: free a held time now (the hold, ``offer_id``, is cancelled and offered to nobody).

    The entry it was offered to, if its offer is still open, waits again with its place kept. Holds whose
    offer window has passed are released by the worker's sweep anyway, whatever points at them.
    """
    with container().uow() as uow:
        hold = waitlist.release_hold(uow, current_principal(), offer_id)
        uow.commit()
        return hold
