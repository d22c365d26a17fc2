"""Each service's broker user can set up, publish and consume what is its own and nothing of the others'.

Against the local RabbitMQ: ``converge`` creates a fresh vhost and the three users with ``rabbitmqctl``, each
service runs its real ``setup_broker`` as its own user, then the users try each other's resources.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker, ProbableAuthenticationError

from clinic_shared.messaging.broker_users import (
    SERVICES,
    converge,
    definitions,
    definitions_json,
    permissions_for,
    user_for,
)
from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.subscriptions import CONSUMED
from clinic_shared.messaging.topology import Subscription, setup_broker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl"),
]

ACCESS_REFUSED = 403


def subscription_of(service: str) -> Subscription:
    by_exchange: dict[str, list[str]] = {}
    for event_type in sorted(CONSUMED[service]):
        by_exchange.setdefault(exchange_for(event_type.split(".", 1)[0]), []).append(event_type)
    return Subscription(service, by_exchange)


POLICY_REST = {"dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}


def policies_on(vhost: str) -> dict[str, object]:
    """The policies the broker holds for ``vhost``, by name."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_policies", "-p", vhost, "--formatter", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {policy["name"]: json.loads(policy["definition"]) for policy in json.loads(listing.stdout)}


@pytest.fixture(scope="module")
def urls() -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    vhost = f"ims-users-{suffix}"
    # Users are broker-wide: names of this run's own, so parallel workers and runs never share one.
    names = {service: f"{user_for(service)}-{suffix}" for service in SERVICES}
    # URL-safe tokens may start with "-" (rabbitmqctl once read such a password as an option): always here.
    passwords = {service: f"-{secrets.token_urlsafe(16)}" for service in SERVICES}
    steps = converge(vhost, passwords, user_name=names.__getitem__, delivery_limit=4)
    assert len(steps) == 1 + len(SERVICES) + 1
    assert policies_on(vhost) == {"ims-consumer-queues": {"delivery-limit": 4} | POLICY_REST}
    yield {
        service: f"amqp://{names[service]}:{passwords[service]}@127.0.0.1:5672/{quote(vhost, safe='')}"
        for service in SERVICES
    }
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, timeout=60)
    for name in names.values():
        subprocess.run(["rabbitmqctl", "-q", "delete_user", name], check=False, timeout=60)


@pytest.fixture(scope="module")
def set_up(urls: dict[str, str]) -> dict[str, str]:
    # Consumers bind from the producers' exchanges, which each declaration declares too: any order works.
    for service in ("billing", "notifications", "scheduling"):
        subscription = subscription_of(service) if service in CONSUMED else None
        setup_broker(urls[service], producer=service, subscription=subscription)
    return urls


Channel = pika.adapters.blocking_connection.BlockingChannel


@pytest.fixture
def channel_of() -> Iterator[Callable[[str], Channel]]:
    connections: list[pika.BlockingConnection] = []

    def open_channel(url: str) -> Channel:
        connections.append(pika.BlockingConnection(pika.URLParameters(url)))
        channel = connections[-1].channel()
        channel.confirm_delivery()
        return channel

    yield open_channel
    for connection in connections:
        if connection.is_open:
            connection.close()


def refused(action: Callable[[], object]) -> set[int]:
    """The reply code of the broker closing the channel (a one-element set, to read as ``403 in``)."""
    with pytest.raises(ChannelClosedByBroker) as closed:
        action()
    return {closed.value.reply_code}


def test_a_service_publishes_to_its_own_exchange_and_its_consumer_receives_it(
    set_up: dict[str, str], channel_of: Callable[[str], Channel]
) -> None:
    scheduling = channel_of(set_up["scheduling"])
    scheduling.basic_publish(
        exchange_for("scheduling"), "scheduling.appointment.booked", b"{}", mandatory=True
    )
    billing = channel_of(set_up["billing"])
    for _ in range(50):
        method, _, body = billing.basic_get("billing", auto_ack=True)
        if method is not None:
            break
        billing.connection.sleep(0.1)
    assert (method is not None, body) == (True, b"{}")


def test_a_service_cannot_publish_as_another_nor_take_another_services_queue(
    set_up: dict[str, str], channel_of: Callable[[str], Channel]
) -> None:
    def billing_channel() -> Channel:
        return channel_of(set_up["billing"])

    forged = billing_channel()
    assert ACCESS_REFUSED in refused(
        lambda: forged.basic_publish(exchange_for("scheduling"), "scheduling.appointment.cancelled", b"{}")
    )
    drain = billing_channel()
    assert ACCESS_REFUSED in refused(lambda: drain.basic_get("notifications", auto_ack=True))
    declare = billing_channel()
    assert ACCESS_REFUSED in refused(lambda: declare.queue_delete("notifications"))
    bind = billing_channel()
    assert ACCESS_REFUSED in refused(
        lambda: bind.queue_bind("billing", exchange_for("notifications"), "notifications.#")
    )
    default = billing_channel()
    assert ACCESS_REFUSED in refused(lambda: default.basic_publish("", "notifications", b"{}"))


def test_the_grants_name_only_the_services_own_resources_and_its_sources() -> None:
    billing = permissions_for("billing")
    assert billing.write == (
        r"^(billing|billing\.dead\-letter|billing\.events|billing\.events\.unconsumed|dead\-letter)$"
    )
    assert "scheduling\\.events" in billing.read
    assert "scheduling" not in billing.write
    assert "notifications" not in billing.configure + billing.write + billing.read


def test_the_definitions_document_loads_and_each_user_sets_up_as_itself() -> None:
    """What docker-compose.yml's broker loads at boot (``definitions``), imported into the local broker under
    a fresh vhost and user names: every service signs in with its password and declares its own topology."""
    suffix = uuid.uuid4().hex[:8]
    vhost = f"ims-definitions-{suffix}"
    passwords = {service: secrets.token_urlsafe(16) for service in SERVICES}
    names = {service: f"{user_for(service)}-{suffix}" for service in SERVICES}
    # rabbitmqctl runs as the broker's user: the file must be one it can read (test passwords only).
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir="/tmp", delete=False) as document:
        document.write(definitions_json(definitions(vhost, passwords, user_name=names.__getitem__)))
    os.chmod(document.name, 0o644)
    imported = subprocess.run(
        ["rabbitmqctl", "-q", "import_definitions", document.name], capture_output=True, text=True, timeout=60
    )
    os.unlink(document.name)
    try:
        assert imported.returncode == 0, imported.stderr
        assert policies_on(vhost) == {"ims-consumer-queues": {"delivery-limit": 5} | POLICY_REST}
        for service in ("billing", "notifications", "scheduling"):
            url = f"amqp://{names[service]}:{passwords[service]}@127.0.0.1:5672/{quote(vhost, safe='')}"
            subscription = subscription_of(service) if service in CONSUMED else None
            setup_broker(url, producer=service, subscription=subscription)
        wrong = f"amqp://{names['billing']}:not-its-password@127.0.0.1:5672/{quote(vhost, safe='')}"
        with pytest.raises(ProbableAuthenticationError):
            pika.BlockingConnection(pika.URLParameters(wrong))
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, timeout=60)
        for name in names.values():
            subprocess.run(["rabbitmqctl", "-q", "delete_user", name], check=False, timeout=60)
