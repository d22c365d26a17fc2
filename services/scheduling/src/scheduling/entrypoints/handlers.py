"""Events scheduling consumes, each handed to one service function inside the consumer's unit of work.

The consumer opens the unit of work holding the event's inbox row, so the effect and the record that the
event was applied commit together (a redelivery is a no-op). The consumer commits
(clinic_shared.messaging.consumer); neither the handlers nor the use cases they call commit or roll back.
"""

from __future__ import annotations

from collections.abc import Callable

from clinic_shared.events import Envelope
from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.topology import Subscription
from scheduling.service_layer import appointments
from scheduling.service_layer.ports import UnitOfWork

CONSUMER = "scheduling"


def confirmation_received(uow: UnitOfWork, event: Envelope) -> None:
    d = event.data
    appointments.confirm_appointment(uow, d["appointment_id"], d["patient_id"], causation=event)


HANDLERS: dict[str, Callable[[UnitOfWork, Envelope], None]] = {
    "notifications.appointment.confirmation_received": confirmation_received,
}

SUBSCRIPTION = Subscription(CONSUMER, {exchange_for("notifications"): sorted(HANDLERS)})
