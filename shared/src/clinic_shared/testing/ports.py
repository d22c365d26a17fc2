"""Local TCP ports for test and benchmark servers."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nothing listens on right now (another process may take it first: unlikely)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
