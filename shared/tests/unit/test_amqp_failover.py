"""AMQP_URL as a list of cluster nodes: parsing, settings, and the order in which clients try the nodes."""

from __future__ import annotations

import random

import pika
import pytest

from clinic_shared.messaging.connection import AmqpNodes, amqp_urls, connection_parameters, node_parameters
from clinic_shared.settings import CommonSettings, ConfigError

N1 = "amqp://u1:p1@node1:5672/%2F"
N2 = "amqp://u2:p2@node2:5673/clinic"
N3 = "amqp://u3:p3@node3:5674/%2F"


def test_a_single_url_is_one_node_with_the_parameters_it_always_had() -> None:
    assert amqp_urls(N1) == [N1]
    params = connection_parameters(N1, heartbeat=7, connection_name="x")
    assert type(params) is pika.URLParameters
    assert (params.host, params.port, params.heartbeat, params.connection_attempts) == ("node1", 5672, 7, 1)
    assert params.client_properties == {"connection_name": "x"}
    [only] = node_parameters(N1, heartbeat=7, connection_name="x")
    assert only == params
    nodes = AmqpNodes([params])
    # BlockingConnection gets the single parameters object itself, as before; the relay always the same.
    assert nodes.in_turn() is params
    assert {id(nodes.next_node()) for _ in range(3)} == {id(params)}


def test_a_comma_separated_list_is_split_and_spaces_ignored() -> None:
    assert amqp_urls(f" {N1} , {N2},{N3}, ") == [N1, N2, N3]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "required"),
        (" , ", "required"),
        (f"{N1},http://u:secret@x/", "not an AMQP URL"),
        (f"{N1},amqps://u:p@node2:5671/%2F", "same scheme"),
        (f"{N1},{N2}?heartbeat=5", "same scheme and query"),
    ],
)
def test_bad_lists_are_refused_without_showing_passwords(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        amqp_urls(value)
    assert "secret" not in str(info.value)


def test_settings_accept_a_node_list_and_keep_a_single_url_verbatim() -> None:
    single = CommonSettings.from_env("billing", {"AMQP_URL": "amqp://shared"}, "sqlite://")
    assert single.amqp_url == "amqp://shared"
    listed = CommonSettings.from_env("billing", {"BILLING_AMQP_URL": f"{N1} , {N3}"}, "sqlite://")
    assert listed.amqp_url == f"{N1},{N3}"
    with pytest.raises(ConfigError, match=r"^AMQP_URL: not an AMQP URL"):
        CommonSettings.from_env("billing", {"AMQP_URL": f"{N1},mysql://x"}, "sqlite://")
    with pytest.raises(ConfigError, match=r"^BILLING_AMQP_URL: every URL"):
        CommonSettings.from_env("billing", {"BILLING_AMQP_URL": f"{N1},{N2}?heartbeat=5"}, "sqlite://")


def test_every_node_gets_its_own_address_credentials_and_vhost_and_the_shared_settings() -> None:
    nodes = node_parameters(f"{N1},{N2},{N3}", heartbeat=9, socket_timeout=3, connection_name="c")
    assert [(p.host, p.port, p.credentials.username, p.virtual_host) for p in nodes] == [
        ("node1", 5672, "u1", "/"),
        ("node2", 5673, "u2", "clinic"),
        ("node3", 5674, "u3", "/"),
    ]
    assert {(p.heartbeat, p.socket_timeout, p.connection_attempts, p.retry_delay) for p in nodes} == {
        (9, 3, 1, 0)
    }
    assert {p.client_properties["connection_name"] for p in nodes} == {"c"}
    assert all(type(p) is pika.URLParameters for p in nodes)


def test_connection_parameters_of_a_list_are_the_first_nodes() -> None:
    assert connection_parameters(f"{N2},{N1}").host == "node2"


def hosts(params: pika.URLParameters | list[pika.URLParameters]) -> list[str]:
    assert isinstance(params, list)
    return [p.host for p in params]


def test_each_reconnect_starts_one_node_further() -> None:
    params = node_parameters(f"{N1},{N2},{N3}")
    nodes = AmqpNodes(params, rng=random.Random(0))
    first = nodes.next_node()
    # The relay: one node per connection, round robin.
    following = [nodes.next_node().host for _ in range(4)]
    start = params.index(first)
    expected = [params[(start + i) % 3].host for i in range(1, 5)]
    assert following == expected
    # The consumer: every node per connection, from the next one on.
    nodes = AmqpNodes(params, rng=random.Random(0))
    nodes.next_node()  # the same random start as above, then one step
    assert hosts(nodes.in_turn()) == [expected[0], expected[1], expected[2]]
    assert hosts(nodes.in_turn()) == [expected[1], expected[2], expected[0]]


def test_the_first_node_is_random_so_a_fleet_spreads_over_the_cluster() -> None:
    params = node_parameters(f"{N1},{N2},{N3}")
    starts = {AmqpNodes(params, rng=random.Random(seed)).next_node().host for seed in range(30)}
    assert starts == {"node1", "node2", "node3"}


def test_there_must_be_a_node() -> None:
    with pytest.raises(ValueError, match="at least one"):
        AmqpNodes([])
