"""Broker connection settings and the reconnect backoff shared by the relay and the consumer.

pika connects once (``connection_attempts=1``): retrying belongs to the loops above, which back off with
capped exponential delays plus jitter so a fleet of workers does not reconnect in lockstep.

``AMQP_URL`` may list the nodes of a cluster, comma-separated (``amqp://u:p@n1:5672/v,amqp://u:p@n2:5672/v``).
``AmqpNodes`` holds one plain ``pika.URLParameters`` per node and says which node to try next: the relay
builds each new ``SelectConnection`` with ``next_node()``, the consumer gives ``BlockingConnection`` the
whole list from the next node on (``in_turn()``; pika tries each in order and keeps the first that opens).
The starting node is random, so a fleet spreads over the nodes, and every reconnect starts one node further:
a node that is down costs the relay one refused attempt (and one backoff delay) per round of the list, and
the consumer a refused TCP connect. A single URL gives exactly the parameters it always did.
The one-shot clients (health check, ``setup-broker``, outbox status) give it ``node_parameters``: every node.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from urllib.parse import unquote, urlparse, urlsplit

import pika

_MAX_EXPONENT = 32


def vhost_of(amqp_url: str) -> str:
    """The virtual host an AMQP URL names ("/" when it names none, as pika reads it)."""
    return unquote(urlparse(amqp_url).path[1:]) or "/"


def amqp_urls(amqp_url: str) -> list[str]:
    """The node URLs of an ``AMQP_URL`` value: one URL, or several separated by commas (spaces ignored).

    Every URL of a list must use the same scheme and query options (only host, port, credentials and
    virtual host may differ); a comma inside a password must be percent-encoded (``%2C``).
    """
    urls = [part.strip() for part in amqp_url.split(",")]
    urls = [url for url in urls if url]
    if not urls:
        raise ValueError("an AMQP URL is required")
    for url in urls:
        if urlsplit(url).scheme not in {"amqp", "amqps"}:
            raise ValueError(f"not an AMQP URL: {_redact(url)!r}")
    if len({(urlsplit(url).scheme, urlsplit(url).query) for url in urls}) > 1:
        raise ValueError("every URL of an AMQP URL list must use the same scheme and query options")
    return urls


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def connection_parameters(
    amqp_url: str,
    *,
    heartbeat: int = 30,
    blocked_connection_timeout: float = 30,
    socket_timeout: float = 5,
    stack_timeout: float = 15,
    connection_name: str | None = None,
) -> pika.URLParameters:
    """Parameters for one connection attempt; the explicit arguments win over URL query options.

    ``blocked_connection_timeout`` makes pika drop a connection the broker keeps blocked (disk or memory
    alarm) instead of hanging; ``stack_timeout`` bounds the whole TCP + AMQP handshake.

    Given a list of node URLs this returns the FIRST node's parameters only (no failover): callers that
    must survive losing a node use ``node_parameters`` or ``AmqpNodes``.
    """
    params = pika.URLParameters(amqp_urls(amqp_url)[0] if "," in amqp_url else amqp_url)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = blocked_connection_timeout
    params.socket_timeout = socket_timeout
    params.stack_timeout = stack_timeout
    params.connection_attempts = 1
    params.retry_delay = 0
    if connection_name:
        params.client_properties = {"connection_name": connection_name}
    return params


def node_parameters(
    amqp_url: str,
    *,
    heartbeat: int = 30,
    blocked_connection_timeout: float = 30,
    socket_timeout: float = 5,
    stack_timeout: float = 15,
    connection_name: str | None = None,
) -> list[pika.URLParameters]:
    """``connection_parameters`` for every node of ``amqp_url``, in the order given.

    ``pika.BlockingConnection(node_parameters(url))`` tries each node in turn, once, and keeps the first
    connection that opens. (A node whose host name does not resolve ends pika's pass over the list early:
    the next attempt of a reconnect loop that rotates the start, as ``AmqpNodes`` does, gets past it.)
    """
    return [
        connection_parameters(
            url,
            heartbeat=heartbeat,
            blocked_connection_timeout=blocked_connection_timeout,
            socket_timeout=socket_timeout,
            stack_timeout=stack_timeout,
            connection_name=connection_name,
        )
        for url in amqp_urls(amqp_url)
    ]


class AmqpNodes:
    """The nodes of an ``AMQP_URL`` and the one to try next, for a client's reconnect loop.

    ``next_node()`` returns one node's parameters and moves on (round robin from a random start);
    ``in_turn()`` returns what ``pika.BlockingConnection`` should be given: every node, starting at the
    next one (the single node's parameters themselves when there is only one, exactly as before).
    Not thread-safe: one per client, like its connection.
    """

    def __init__(self, parameters: Sequence[pika.URLParameters], *, rng: random.Random | None = None) -> None:
        if not parameters:
            raise ValueError("AmqpNodes needs at least one node")
        self.parameters = tuple(parameters)
        count = len(self.parameters)
        self._next = (rng or random.Random()).randrange(count) if count > 1 else 0

    def next_node(self) -> pika.URLParameters:
        params = self.parameters[self._next]
        self._next = (self._next + 1) % len(self.parameters)
        return params

    def in_turn(self) -> pika.URLParameters | list[pika.URLParameters]:
        if len(self.parameters) == 1:
            return self.parameters[0]
        start = self._next
        self._next = (start + 1) % len(self.parameters)
        return [*self.parameters[start:], *self.parameters[:start]]


class Backoff:
    """Capped exponential backoff with jitter: attempt n waits in ``[b * (1 - jitter), b]``,
    where ``b = min(cap, initial * factor ** n)``.

    ``delay(n)`` is pure (used for per-row retry schedules); ``next_delay``/``reset``/``wait`` keep a
    counter for reconnect loops.
    """

    def __init__(
        self,
        initial: float = 0.5,
        cap: float = 30.0,
        *,
        factor: float = 2.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0 or cap < initial or factor < 1 or not 0 <= jitter <= 1:
            raise ValueError("need 0 < initial <= cap, factor >= 1 and 0 <= jitter <= 1")
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        return self._attempt

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        exponent = min(max(attempt, 0), _MAX_EXPONENT)
        base = min(self.cap, self.initial * self.factor**exponent)
        return base * (1 - self.jitter * self._rng.random())

    def next_delay(self) -> float:
        delay = self.delay(self._attempt)
        self._attempt += 1
        return delay

    def reset(self) -> None:
        self._attempt = 0

    def wait(self, stop: threading.Event) -> bool:
        """Sleep for the next delay unless ``stop`` is set first; True when stop was set."""
        return stop.wait(self.next_delay())
