"""A webhook on a raw TLS socket: HTTP/1.1 read and written by hand, so a test decides what
happens on the wire (close a connection after reading a review, answer 429 with Retry-After,
hold requests until several are in flight) and sees how each request arrived (its connection,
its query, in how many reads its body came)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

# Bounds for a misbehaving client: a test fails rather than hangs.
_SOCKET_TIMEOUT_SECONDS: Final = 30.0
_MAX_HEAD_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the server read it."""

    connection: int  # 0, 1, ... in the order connections were accepted
    index: int  # 0, 1, ... on its connection
    method: str
    target: str  # path and query
    headers: dict[str, str]  # names lower-cased
    body: bytes
    body_reads: int  # how many socket reads the body took (TLS records arrive one per read)
    alpn: str | None

    @property
    def review(self) -> dict[str, Any]:
        review: dict[str, Any] = json.loads(self.body)
        return review

    @property
    def uid(self) -> str:
        return str(self.review["request"]["uid"])


@dataclass(frozen=True, slots=True)
class Respond:
    """An HTTP answer: status, extra headers, body."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


CLOSE: Final = None  # the behaviour's answer that closes the connection without answering
Behaviour = Callable[[Seen], Respond | None]


def allowed(seen: Seen) -> Respond:
    """A well-formed answer allowing the review (echoing its apiVersion and uid)."""
    review = seen.review
    body = {
        "apiVersion": review["apiVersion"],
        "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": True},
    }
    return Respond(body=json.dumps(body).encode())


@dataclass
class RawWebhook:
    port: int
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def uids(self) -> list[str]:
        with self.lock:
            return [s.uid for s in self.seen]


@contextmanager
def raw_serving(certs: Path, behaviour: Behaviour) -> Iterator[RawWebhook]:
    """Serve `behaviour` over TLS with certs/tls.crt on 127.0.0.1; h2 is offered in ALPN."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "tls.crt", certs / "tls.key")
    context.set_alpn_protocols(["h2", "http/1.1"])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    webhook = RawWebhook(port=int(listener.getsockname()[1]))
    stopping = threading.Event()
    open_sockets: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def accept() -> None:
        number = 0
        while not stopping.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            open_sockets.append(raw)
            thread = threading.Thread(
                target=_serve_connection, args=(context, raw, number, behaviour, webhook)
            )
            thread.daemon = True
            thread.start()
            threads.append(thread)
            number += 1

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield webhook
    finally:
        stopping.set()
        acceptor.join(timeout=5)
        listener.close()
        for raw in open_sockets:
            with suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)


def _serve_connection(
    context: ssl.SSLContext,
    raw: socket.socket,
    number: int,
    behaviour: Behaviour,
    webhook: RawWebhook,
) -> None:
    raw.settimeout(_SOCKET_TIMEOUT_SECONDS)
    try:
        tls = context.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()  # the client refused our certificate: its error is what the test checks
        return
    with tls:
        buffered = b""
        for index in range(1_000):
            request = _read_request(tls, buffered, number, index)
            if request is None:
                return
            seen, buffered = request
            with webhook.lock:
                webhook.seen.append(seen)
            reply = behaviour(seen)
            if reply is CLOSE:
                return  # the review was read whole; the connection goes without an answer
            head = [f"HTTP/1.1 {reply.status} X", f"Content-Length: {len(reply.body)}"]
            head += ["Content-Type: application/json"]
            head += [f"{name}: {value}" for name, value in reply.headers]
            tls.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)


def _read_request(
    tls: ssl.SSLSocket, buffered: bytes, number: int, index: int
) -> tuple[Seen, bytes] | None:
    """One request from the connection (None when the client closed it); and what follows."""
    data = buffered
    while b"\r\n\r\n" not in data:
        try:
            chunk = tls.recv(65536)
        except (OSError, ssl.SSLError):
            return None
        if not chunk or len(data) > _MAX_HEAD_BYTES:
            return None
        data += chunk
    head, _, data = data.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    reads = 1 if data else 0
    while len(data) < length:
        try:
            chunk = tls.recv(65536)
        except (OSError, ssl.SSLError):
            return None
        if not chunk:
            return None
        data += chunk
        reads += 1
    body, rest = data[:length], data[length:]
    alpn = tls.selected_alpn_protocol()
    return Seen(number, index, method, target, headers, body, reads, alpn), rest
