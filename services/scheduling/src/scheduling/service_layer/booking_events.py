"""The booked event, shared by every path that books time (single booking, plans, waitlist claims)."""

from __future__ import annotations

from clinic_shared.tokens import Principal
from scheduling.domain.model import Appointment
from scheduling.service_layer.ports import UnitOfWork


def emit_booked(uow: UnitOfWork, actor: Principal, appointment: Appointment) -> None:
    """Publish a booking, saying whether the patient booked online or staff booked for them."""
    booked_via = "staff" if actor.is_staff else "online"
    uow.emit("scheduling.appointment.booked", appointment.facts() | {"booked_via": booked_via})
