"""The broker policies on a real RabbitMQ: limits change on live queues, old queues are converted safely."""

from __future__ import annotations

import time
from typing import Any

import pika
import pytest
from reliable_messaging_support import SUBSCRIPTION, blocking_channel

from clinic_shared.messaging.connection import vhost_of
from clinic_shared.messaging.subscriptions import CONSUMED
from clinic_shared.messaging.topology import (
    DEAD_LETTER_EXCHANGE,
    QueueNotConvertible,
    Subscription,
    declare_consumer,
    setup_broker,
)
from clinic_shared.testing.rabbit import rabbitmqctl, set_policies

pytestmark = pytest.mark.integration

BILLING = Subscription("billing", {"scheduling.events": sorted(CONSUMED["billing"])})
# How every consumer queue was declared before the policies (what an existing broker still holds).
OLD_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "quorum",
    "x-delivery-limit": 5,
    "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
    "x-dead-letter-routing-key": "billing",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


def depth(channel: Any, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def deliveries_until_dead_lettered(channel: Any, subscription: Subscription) -> int:
    """Publish one message to the consumer's queue, refuse it (requeue) until the broker dead-letters it."""
    dead_before = depth(channel, subscription.dead_letter_queue)
    channel.basic_publish("", subscription.queue, b"{}", pika.BasicProperties(delivery_mode=2))
    deliveries = 0
    deadline = time.monotonic() + 20
    while depth(channel, subscription.dead_letter_queue) == dead_before:
        assert time.monotonic() < deadline, f"not dead-lettered after {deliveries} deliveries"
        method, _, _ = channel.basic_get(subscription.queue)
        if method is None:
            time.sleep(0.05)
            continue
        deliveries += 1
        channel.basic_nack(method.delivery_tag, requeue=True)
    return deliveries


def wait_for_policy(vhost: str, queue: str) -> None:
    """Until the queue names the policy; then a moment, as set_policy returns before queues apply a change
    (rabbitmqctl 3.10 lists a queue's policy by name only, not the definition it applied)."""
    deadline = time.monotonic() + 10
    while "ims-consumer-queues" not in _policy_of(vhost, queue):
        assert time.monotonic() < deadline, f"{queue} never took the policy"
        time.sleep(0.1)
    time.sleep(0.5)


def _policy_of(vhost: str, queue: str) -> str:
    listing = rabbitmqctl("-q", "list_queues", "-p", vhost, "name", "policy")
    return next((line for line in listing.splitlines() if line.split("\t", 1)[0] == queue), "")


def test_a_new_delivery_limit_applies_to_the_live_queue_without_recreating_it(amqp_url: str) -> None:
    vhost = vhost_of(amqp_url)
    with blocking_channel(amqp_url) as channel:
        channel.confirm_delivery()
        declare_consumer(channel, SUBSCRIPTION)
        set_policies(vhost, delivery_limit=1)
        wait_for_policy(vhost, SUBSCRIPTION.queue)
        assert deliveries_until_dead_lettered(channel, SUBSCRIPTION) == 2

        set_policies(vhost, delivery_limit=3)
        wait_for_policy(vhost, SUBSCRIPTION.queue)
        assert deliveries_until_dead_lettered(channel, SUBSCRIPTION) == 4

        dead = channel.basic_get(SUBSCRIPTION.dead_letter_queue, auto_ack=True)
        assert dead[1].headers["x-death"][0]["reason"] == "delivery_limit"


def test_setup_broker_converts_an_empty_queue_an_older_release_declared(amqp_url: str) -> None:
    with blocking_channel(amqp_url) as channel:
        channel.queue_declare(BILLING.queue, durable=True, arguments=OLD_ARGUMENTS)

    setup_broker(amqp_url, producer="billing", subscription=BILLING)

    with blocking_channel(amqp_url) as channel:
        declare_consumer(channel, BILLING)  # the declaration of this release is now equivalent
        # Bound again: an event billing consumes reaches it.
        channel.confirm_delivery()
        channel.basic_publish("scheduling.events", "scheduling.appointment.booked", b"{}", mandatory=True)
        assert depth(channel, BILLING.queue) == 1


def test_setup_broker_leaves_an_old_queue_that_holds_messages_and_says_why(amqp_url: str) -> None:
    with blocking_channel(amqp_url) as channel:
        channel.queue_declare(BILLING.queue, durable=True, arguments=OLD_ARGUMENTS)
        channel.confirm_delivery()
        channel.basic_publish("", BILLING.queue, b"{}", pika.BasicProperties(delivery_mode=2))

    with pytest.raises(QueueNotConvertible, match=r"in use \(ready messages: 1, consumers: 0\)"):
        setup_broker(amqp_url, producer="billing", subscription=BILLING)

    with blocking_channel(amqp_url) as channel:
        assert depth(channel, BILLING.queue) == 1
        # Still bound as before: the events it consumes keep arriving.
        channel.confirm_delivery()
        channel.basic_publish("scheduling.events", "scheduling.appointment.booked", b"{}", mandatory=True)
        assert depth(channel, BILLING.queue) == 2
