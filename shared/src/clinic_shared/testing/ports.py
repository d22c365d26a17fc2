"""Local TCP ports for test and benchmark servers."""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10_000
# Not the global generator: a seeded test (Hypothesis, a fixed seed) would give parallel workers one sequence.
_choice = random.SystemRandom()


def _first_ephemeral_port() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port() -> int:
    """A TCP port nothing listens on right now, below the kernel's ephemeral range.

    A port from ``bind(0)`` comes from the range the kernel also gives outgoing connections, so between
    choosing it and a server binding it (seconds later, after migrations) a client socket of the test
    itself may take it and the server exits with "Address already in use". Ports below that range are
    only ever taken by a listener that asked for them.
    """
    ceiling = _first_ephemeral_port()
    if ceiling <= LOWEST + 1000:  # an unusual range: leave the choice to the kernel
        ceiling = 0
    for _ in range(200):
        port = _choice.randrange(LOWEST, ceiling) if ceiling else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free TCP port below the ephemeral range")
