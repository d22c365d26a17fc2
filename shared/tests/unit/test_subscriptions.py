"""The shared list of who consumes what: it matches each service's subscription and guards setup-broker."""

from __future__ import annotations

import pytest

from clinic_shared.events import CATALOG
from clinic_shared.messaging.subscriptions import CONSUMED, check_subscription, consumed_types
from clinic_shared.messaging.topology import Subscription, archive_queue_arguments, setup_broker

SCHEDULING = "scheduling.events"


def test_every_listed_type_is_a_known_event() -> None:
    known = {event_type for event_type, _ in CATALOG.entries()}
    assert consumed_types() <= known


def test_the_list_matches_what_each_service_binds() -> None:
    # Services never import each other; this test is where their subscriptions meet the shared list.
    from billing.entrypoints import handlers as billing
    from notifications.entrypoints import handlers as notifications
    from scheduling.entrypoints import handlers as scheduling

    for service in (billing, notifications, scheduling):
        check_subscription(service.SUBSCRIPTION)
    assert set(CONSUMED) == {"billing", "notifications", "scheduling"}


def test_events_nobody_consumes_are_not_listed() -> None:
    unconsumed = {event_type for event_type, _ in CATALOG.entries()} - consumed_types()
    assert {"notifications.contact.opted_out", "scheduling.appointment.arrived"} <= unconsumed


def test_check_rejects_a_subscription_that_binds_an_unlisted_type() -> None:
    keys = sorted(CONSUMED["billing"] | {"scheduling.appointment.arrived"})
    with pytest.raises(ValueError, match=r"bound but not listed \['scheduling.appointment.arrived'\]"):
        check_subscription(Subscription("billing", {SCHEDULING: keys}))


def test_check_rejects_a_subscription_missing_a_listed_type() -> None:
    keys = sorted(CONSUMED["billing"] - {"scheduling.clinic.changed"})
    with pytest.raises(ValueError, match=r"listed but not bound \['scheduling.clinic.changed'\]"):
        check_subscription(Subscription("billing", {SCHEDULING: keys}))


def test_check_rejects_patterns_unlisted_consumers_and_wrong_exchanges() -> None:
    with pytest.raises(ValueError, match="not the pattern"):
        check_subscription(Subscription("billing", {SCHEDULING: ["scheduling.#"]}))
    with pytest.raises(ValueError, match="not listed"):
        check_subscription(Subscription("audit", {SCHEDULING: ["scheduling.clinic.changed"]}))
    with pytest.raises(ValueError, match=r"is not published to billing\.events"):
        check_subscription(Subscription("billing", {"billing.events": sorted(CONSUMED["billing"])}))


def test_setup_broker_refuses_an_unlisted_subscription_before_connecting() -> None:
    wrong = Subscription("billing", {SCHEDULING: ["scheduling.clinic.changed"]})
    with pytest.raises(ValueError, match="differs from"):
        setup_broker("amqp://nobody@127.0.0.1:1/", producer="billing", subscription=wrong)


def test_archive_is_a_bounded_queue_that_drops_its_oldest() -> None:
    assert archive_queue_arguments(10) == {
        "x-queue-type": "classic",
        "x-max-length": 10,
        "x-overflow": "drop-head",
    }
    with pytest.raises(ValueError, match="max_length"):
        archive_queue_arguments(0)
