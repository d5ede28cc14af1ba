"""How the API server reaches a webhook: HTTPS to the Service's name, with the caBundle.

As kube-apiserver's webhook client does: TLS 1.2 or later, the server's certificate verified
against the webhook's caBundle for the name `<svc>.<ns>.svc` (subject alternative names only, no
common-name fallback, since Go 1.15 / Kubernetes 1.19), ALPN offering h2 and http/1.1 (a Go
transport's defaults; this stand-in then needs the server to pick http/1.1), HTTP/1.1
keep-alive, and one deadline of `timeoutSeconds` for the whole call. The stand-in connects to
`127.0.0.1:<port of the server process>` but sends SNI, checks the host name and sets `Host` for
the service name, as a request through the cluster's Service would.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Final

_IDLE_POLL_SECONDS: Final = 0.02

# Go's errors for a call that could not complete, which the API server quotes.
DEADLINE_EXCEEDED: Final = "context deadline exceeded"

Resolve = Callable[[str, int], tuple[str, int]]


class CallError(Exception):
    """The call failed before an HTTP answer came back (dial, TLS, timeout, broken connection)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a webhook is called: the name its certificate must carry, and its CA bundle."""

    host: str  # the service DNS name <svc>.<ns>.svc (or a URL's host)
    port: int
    ca_bundle: bytes  # PEM


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    peer_certificate: bytes  # DER of the certificate the server presented on this connection


class _ServiceConnection(http.client.HTTPConnection):
    """HTTP/1.1 over TLS to a dialled address, verified for the service's name."""

    def __init__(
        self, address: tuple[str, int], *, context: ssl.SSLContext, server_hostname: str
    ) -> None:
        super().__init__(address[0], address[1])
        self._tls = context
        self._server_hostname = server_hostname
        self.peer_certificate = b""

    def connect(self) -> None:
        super().connect()
        tls = self._tls.wrap_socket(self.sock, server_hostname=self._server_hostname)
        protocol = tls.selected_alpn_protocol()
        if protocol not in (None, "http/1.1"):
            tls.close()
            raise CallError(
                f"the server chose ALPN protocol {protocol!r}; this stand-in speaks HTTP/1.1"
            )
        self.sock = tls
        self.peer_certificate = tls.getpeercert(binary_form=True) or b""


def client_context(ca_bundle: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    context.hostname_checks_common_name = False
    context.set_alpn_protocols(["h2", "http/1.1"])
    context.load_verify_locations(cadata=ca_bundle.decode("ascii"))
    return context


@dataclass
class Transport:
    """Keep-alive connections per endpoint; `resolve` maps a service name to a local address.

    Like a Go transport, it keeps reading its idle connections: when the server closes one (a
    TLS close_notify or a FIN, as a server does when it shuts down), the client closes its end
    at once rather than when it next wants to send, so the server is not left waiting for it.
    """

    resolve: Resolve
    _connections: dict[Endpoint, _ServiceConnection] = field(default_factory=dict)
    _contexts: dict[bytes, ssl.SSLContext] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watcher: threading.Thread | None = None
    new_connections: int = 0
    # DER of the certificate presented on the connection of the latest call.
    last_peer_certificate: bytes = b""

    def request(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        timeout: float,
    ) -> Answer:
        """One call with one deadline; a broken idle keep-alive connection is redialled once."""
        deadline = time.monotonic() + timeout
        for attempt in range(2):
            with self._lock:
                connection = self._connections.pop(endpoint, None)
            reused = connection is not None
            if connection is None:
                connection = self._connect(endpoint)
            try:
                answer = self._roundtrip(connection, endpoint, method, path, body, deadline)
            except (OSError, http.client.HTTPException, CallError) as exc:
                connection.close()
                if time.monotonic() >= deadline:
                    raise CallError(DEADLINE_EXCEEDED) from None
                # Go's transport retries on a fresh connection when a reused one turned out to be
                # closed by the server; anything else is the call's failure.
                if reused and attempt == 0 and isinstance(exc, _STALE_CONNECTION):
                    continue
                raise CallError(_describe(exc, endpoint, self.resolve)) from None
            self.last_peer_certificate = answer.peer_certificate
            if connection.sock is not None:
                self._keep_idle(endpoint, connection)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every idle connection (the next call dials again and sees the current cert)."""
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()

    def _keep_idle(self, endpoint: Endpoint, connection: _ServiceConnection) -> None:
        with self._lock:
            self._connections[endpoint] = connection
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch_idle, daemon=True)
                self._watcher.start()

    def _watch_idle(self) -> None:
        """Close idle connections the server closed; ends when none is left (or after 1 h)."""
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            time.sleep(_IDLE_POLL_SECONDS)
            with self._lock:
                idle = {c.sock: (e, c) for e, c in self._connections.items() if c.sock}
                if not idle:
                    break
                readable, _, _ = select.select(list(idle), [], [], 0)
                for sock in readable:
                    endpoint, connection = idle[sock]
                    connection.close()
                    del self._connections[endpoint]
        with self._lock:
            self._watcher = None

    def _connect(self, endpoint: Endpoint) -> _ServiceConnection:
        context = self._contexts.get(endpoint.ca_bundle)
        if context is None:
            context = self._contexts[endpoint.ca_bundle] = client_context(endpoint.ca_bundle)
        address = self.resolve(endpoint.host, endpoint.port)
        return _ServiceConnection(address, context=context, server_hostname=endpoint.host)

    def _roundtrip(
        self,
        connection: _ServiceConnection,
        endpoint: Endpoint,
        method: str,
        path: str,
        body: bytes | None,
        deadline: float,
    ) -> Answer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CallError(DEADLINE_EXCEEDED)
        # The deadline covers the whole call: the socket timeout bounds each wait, and the timer
        # cuts a server that trickles bytes just fast enough to never hit it.
        timer = threading.Timer(remaining, _shutdown, args=(connection,))
        timer.start()
        try:
            connection.timeout = remaining
            if connection.sock is None:
                connection.connect()
                self.new_connections += 1
            else:
                connection.sock.settimeout(remaining)
            headers = {
                "Host": f"{endpoint.host}:{endpoint.port}",
                "Accept": "application/json, */*",
                "User-Agent": "kube-apiserver-admission",
            }
            if body is not None:
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            timer.cancel()
        if time.monotonic() > deadline:
            raise CallError(DEADLINE_EXCEEDED)
        if response.will_close:
            connection.close()
        return Answer(response.status, data, connection.peer_certificate)


_STALE_CONNECTION: Final = (
    http.client.RemoteDisconnected,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
    ConnectionResetError,
    BrokenPipeError,
    http.client.CannotSendRequest,
)


def _shutdown(connection: _ServiceConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _describe(exc: BaseException, endpoint: Endpoint, resolve: Resolve) -> str:
    if isinstance(exc, CallError):
        return str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: {exc.verify_message}"
    if isinstance(exc, ConnectionRefusedError):
        host, port = resolve(endpoint.host, endpoint.port)
        return f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return DEADLINE_EXCEEDED
    return f"{type(exc).__name__}: {exc}"
