"""Who consumes which event: every consuming service's subscription, listed where producers can read it.

Services never import each other, yet a producer has to tell apart two cases that look alike on the broker:

* an event type nobody subscribes to (``scheduling.appointment.arrived`` today): not an error, it goes to
  the producer's bounded archive queue and its outbox row is marked sent;
* an event type some service consumes but whose queue is missing: an error, the relay keeps the row pending
  and retries it, visibly (a ``312 NO_ROUTE`` return on the mandatory publish).

``setup_broker`` refuses to declare a subscription that differs from the one listed here, so a handler
added to a service without being listed fails at deploy time instead of being silently archived.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from clinic_shared.messaging.outbox import exchange_for

if TYPE_CHECKING:
    # topology imports this module when it declares a service's subscription.
    from clinic_shared.messaging.topology import Subscription

CONSUMED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "billing": frozenset(
            {
                "scheduling.appointment.booked",
                "scheduling.appointment.cancelled",
                "scheduling.appointment.completed",
                "scheduling.appointment.no_show",
                "scheduling.appointment.rescheduled",
                "scheduling.clinic.changed",
                "scheduling.patient.registered",
                "scheduling.patient.updated",
                "scheduling.practitioner.changed",
                "scheduling.treatment_type.changed",
            }
        ),
        "notifications": frozenset(
            {
                "billing.credit_note.issued",
                "billing.invoice.issued",
                "billing.payment.received",
                "scheduling.appointment.booked",
                "scheduling.appointment.cancelled",
                "scheduling.appointment.confirmed",
                "scheduling.appointment.rescheduled",
                "scheduling.clinic.changed",
                "scheduling.password_reset.requested",
                "scheduling.patient.registered",
                "scheduling.patient.updated",
                "scheduling.plan.cancelled",
                "scheduling.plan.created",
                "scheduling.plan.extended",
                "scheduling.plan.shortened",
                "scheduling.practitioner.changed",
                "scheduling.sign_up.account_exists",
                "scheduling.sign_up.requested",
                "scheduling.treatment_type.changed",
                "scheduling.waitlist.offered",
            }
        ),
        "scheduling": frozenset({"notifications.appointment.confirmation_received"}),
    }
)


def consumed_types(registry: Mapping[str, frozenset[str]] = CONSUMED) -> frozenset[str]:
    """Every event type at least one listed consumer subscribes to."""
    return frozenset().union(*registry.values())


def check_subscription(subscription: Subscription, registry: Mapping[str, frozenset[str]] = CONSUMED) -> None:
    """Raise ValueError unless ``subscription`` binds exactly the types listed for its consumer."""
    where = f"{__name__}.CONSUMED"
    listed = registry.get(subscription.consumer)
    if listed is None:
        raise ValueError(f"consumer {subscription.consumer!r} is not listed in {where}")
    bound: set[str] = set()
    for exchange, routing_keys in subscription.bindings.items():
        for key in routing_keys:
            if "*" in key or "#" in key:
                # A pattern cannot be listed type by type, so its types would look unconsumed.
                raise ValueError(f"{subscription.consumer}: bind event types, not the pattern {key!r}")
            if exchange != exchange_for(key.split(".", 1)[0]):
                raise ValueError(f"{subscription.consumer}: {key} is not published to {exchange}")
            bound.add(key)
    missing, extra = sorted(listed - bound), sorted(bound - listed)
    if missing or extra:
        raise ValueError(
            f"{subscription.consumer}'s subscription differs from {where}:"
            f" listed but not bound {missing}, bound but not listed {extra}"
        )
