"""Broker connection settings and the reconnect backoff shared by the relay and the consumer.

pika connects once (``connection_attempts=1``): retrying belongs to the loops above, which back off with
capped exponential delays plus jitter so a fleet of workers does not reconnect in lockstep.
"""

from __future__ import annotations

import random
import threading

import pika

_MAX_EXPONENT = 32


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
    """
    params = pika.URLParameters(amqp_url)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = blocked_connection_timeout
    params.socket_timeout = socket_timeout
    params.stack_timeout = stack_timeout
    params.connection_attempts = 1
    params.retry_delay = 0
    if connection_name:
        params.client_properties = {"connection_name": connection_name}
    return params


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
