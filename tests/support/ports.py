"""Loopback ports for servers the tests and benchmarks start: every target is 127.0.0.1."""

from __future__ import annotations

import socket
from typing import Final

LOOPBACK: Final = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel has just handed out on `host` and released; the caller binds it next
    (another process could take it in between, which on a test machine does not happen)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
