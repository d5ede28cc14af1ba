"""Raw HTTPS clients for serving tests: byte-exact requests, half-sent requests, peer certificates.

httpx hides what these tests are about (which TCP connection carried a request, a request that
stops half-way, the certificate a handshake presented), so they speak HTTP/1.1 over `ssl`
sockets directly. Every socket has a timeout: a hang fails a test instead of blocking it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography import x509

from app.kargo.constants import PROMOTION_MUTATE_PATH
from tests.support.reviews import promotion, review

TIMEOUT = 10.0


def open_tls(
    port: int, context: ssl.SSLContext, *, timeout: float = TIMEOUT, source: str | None = None
) -> ssl.SSLSocket:
    """A TLS connection to 127.0.0.1 with the handshake done (name checked against localhost);
    from the loopback address `source` (127.x.y.z) when given, to look like another client."""
    raw = socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        return context.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


@contextlib.contextmanager
def connection(
    port: int, context: ssl.SSLContext, *, timeout: float = TIMEOUT
) -> Iterator[ssl.SSLSocket]:
    tls = open_tls(port, context, timeout=timeout)
    try:
        yield tls
    finally:
        tls.close()


def served_serial(tls: ssl.SSLSocket) -> int:
    der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def certificate_serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def review_body(uid: str) -> bytes:
    return orjson.dumps(review(promotion({}), uid=uid))


def head(
    method: str,
    path: str,
    *,
    content_length: int | None = None,
    chunked: bool = False,
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost"]
    if content_length is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {content_length}"]
    if chunked:
        lines += ["Content-Type: application/json", "Transfer-Encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def admission_request(uid: str, path: str = PROMOTION_MUTATE_PATH) -> bytes:
    body = review_body(uid)
    return head("POST", path, content_length=len(body)) + body


def get_request(path: str) -> bytes:
    return head("GET", path)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


def read_response(sock: ssl.SSLSocket, already: bytes = b"") -> Response:
    """Read one response (the server always sends Content-Length); raises on EOF mid-way.

    `already` holds bytes of it read before (see `poll_bytes`).
    """
    buffer = already
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response; got {buffer!r}")
        buffer += chunk
    raw_head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside a response body")
        rest += chunk
    return Response(int(status_line.split(" ")[1]), headers, rest[:length])


def poll_bytes(sock: ssl.SSLSocket) -> bytes | None:
    """Application data the server sent, without waiting: None if none yet, b"" once closed.

    `select` alone cannot tell: a TLS 1.3 server sends session tickets after the handshake,
    which make the socket readable without any data for the application.
    """
    sock.settimeout(0)
    try:
        return sock.recv(65536)
    except (ssl.SSLWantReadError, BlockingIOError):
        return None
    except (ConnectionError, ssl.SSLError):
        return b""
    finally:
        sock.settimeout(TIMEOUT)


def exchange(sock: ssl.SSLSocket, request: bytes) -> Response:
    sock.sendall(request)
    return read_response(sock)


def seconds_until_closed(sock: ssl.SSLSocket, limit: float) -> float:
    """How long until the server closes `sock` (EOF or reset); fails after `limit` seconds.

    Anything the server sends first (an error answer) is read and ignored.
    """
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            if time.monotonic() - started > limit:
                break
        else:
            return time.monotonic() - started
    except (ConnectionError, ssl.SSLError):
        return time.monotonic() - started
    except TimeoutError:
        pass
    raise AssertionError(f"the server kept the connection open for more than {limit}s")


def is_closed_by_peer(sock: ssl.SSLSocket, wait: float = 0.5) -> bool:
    """Whether the server has closed `sock` (without blocking for more than `wait`)."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except (ConnectionError, ssl.SSLError):
        return True
    except TimeoutError:
        return False
