"""How the API server reaches a webhook: Go's own HTTP client, configured as kube-apiserver's.

Every call goes through `tests/e2e/gowebhookclient` (Go, standard library only, built with the
pinned toolchain), one long-lived process per `Transport`, driven over its stdin and stdout with
one JSON object a line. So what a webhook sees, and what the stand-in then reports, is Go's:

Exact (the same code runs):
- TLS by `crypto/tls` and `crypto/x509`: TLS 1.2 or later, the caBundle as the only root (the
  system roots when it is empty), the server's certificate verified for `<svc>.<ns>.svc`
  (`ServerName`; subject alternative names only, extended key usage serverAuth, and whatever
  else Go's verifier checks), and Go's error texts (`tls: failed to verify certificate: ...`).
  k8s.io/apiserver `pkg/util/webhook/client.go` (`ClientManager.hookClientConfig`), k8s.io/
  client-go `transport/transport.go` (`TLSConfigFor`, `rootCertPool`).
- ALPN `http/1.1` only; HTTP/1.1 keep-alive with an idle pool of 25 connections per host, closed
  after 90 s idle or as soon as the server closes them; calls run concurrently. client-go
  `transport/cache.go` (`idleConnsPerHost`), k8s.io/apimachinery `pkg/util/net/http.go`
  (`SetOldTransportDefaults`, `allowsHTTP2`).
- The wire: `net/http` writes the request, a body larger than 4 KiB in several writes, and
  sends a request again on a fresh connection only when nothing of it was written
  (`Transport.roundTrip`, `shouldRetryRequest`). A webhook that reads a review and closes the
  connection fails the call: there is no re-send of a POST.
- One deadline per call (a context), and Go's error texts, which client-go returns as they are
  (`Post "https://<svc>.<ns>.svc:443/path?timeout=10s": context deadline exceeded`).
- Retries of client-go's `rest.Request` (`rest/request.go` `Request.request`, `rest/
  with_retry.go` `IsNextRetry`, `checkWait`, `Before`): the same body again, at most
  `maxRetries` = 10 more times, when the answer is 429 or >= 500 with an integer `Retry-After`,
  after sleeping that many seconds; when the deadline passes first, the error is the context's.

Stricter or different:
- The helper dials the address the test's route table gives for `<svc>.<ns>.svc:<port>`, as the
  service resolver does; a missing route fails the test at once (`AssertionError`).

Not modelled: proxies from the environment, client-go's retry of a GET after a connection reset,
client-side rate limiting (kube-apiserver disables it for webhooks: `QPS = -1`), egress
selection and webhook authentication (kubeconfig).

`make` builds the helper into `.tools/bin/`; the tests rebuild it when a source is newer.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tests.oracle.go import build_go_program
from tests.support.tools import GO, GOWEBHOOKCLIENT

# Go's error for a call that outlived its deadline, which the API server quotes.
DEADLINE_EXCEEDED: Final = "context deadline exceeded"
# client-go `rest.Request`: `maxRetries: 10` (NewRequest); the webhook client keeps it.
MAX_RETRIES: Final = 10
# How long past a call's own deadline the helper may take to answer before the test fails:
# Go ends the call at its deadline; this only bounds a helper that hangs or died.
_HELPER_GRACE_SECONDS: Final = 30.0

SOURCE: Final = Path(__file__).resolve().parent / "gowebhookclient"
BINARY: Final = GOWEBHOOKCLIENT

Resolve = Callable[[str, int], tuple[str, int]]


class CallError(Exception):
    """No HTTP answer came back (dial, TLS, deadline, broken connection): Go's error text."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a webhook is called: the name its certificate must carry, and its CA bundle."""

    host: str  # the service DNS name <svc>.<ns>.svc (or a URL's host)
    port: int
    ca_bundle: bytes  # PEM


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to the last try of a call."""

    status: int
    body: bytes
    peer_certificate: bytes  # DER of the certificate the server presented on this connection
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # canonical Go names
    tries: int = 1

    def header(self, name: str) -> str:
        """The first value of a header, as Go's `Header.Get`; "" when absent."""
        values = self.headers.get("-".join(p.capitalize() for p in name.split("-")), ())
        return values[0] if values else ""


def client_binary() -> Path:
    """The helper, built from the pinned Go when missing or older than its sources or Go."""
    go = GO.path()
    inputs = [go, *(p for p in SOURCE.iterdir() if p.suffix in (".go", ".mod"))]
    newest = max(p.stat().st_mtime for p in inputs)
    if BINARY.is_file() and BINARY.stat().st_mtime >= newest:
        return BINARY
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the cached one and renamed over it: concurrent builders never see half.
    with tempfile.TemporaryDirectory(dir=BINARY.parent) as scratch:
        built = build_go_program(go, SOURCE, Path(scratch) / BINARY.name)
        os.replace(built, BINARY)
    return BINARY


class _Helper:
    """The helper process and the calls waiting for its answers (no reference to `Transport`,
    so that a transport nobody holds is collected and its helper told to exit)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [str(client_binary())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._lock = threading.Lock()
        self._next_id = 0
        self._waiting: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def ask(self, request: dict[str, Any], *, within: float) -> dict[str, Any]:
        event = threading.Event()
        slot: list[dict[str, Any]] = []
        with self._lock:
            self._next_id += 1
            request = {**request, "id": self._next_id}
            self._waiting[self._next_id] = (event, slot)
            stdin = self._process.stdin
            assert stdin is not None
            try:
                stdin.write(json.dumps(request).encode() + b"\n")
                stdin.flush()
            except OSError:
                raise AssertionError(f"the Go webhook client exited: {self._stderr()}") from None
        if not event.wait(within) or not slot:
            raise AssertionError(
                f"the Go webhook client gave no answer within {within:.0f} s: {self._stderr()}"
            )
        return slot[0]

    def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        for line in stdout:
            reply = json.loads(line)
            with self._lock:
                event, slot = self._waiting.pop(int(reply["id"]))
            slot.append(reply)
            event.set()
        # The helper is gone: nobody waiting gets an answer (they fail with its stderr).
        with self._lock:
            for event, _ in self._waiting.values():
                event.set()
            self._waiting.clear()

    def _stderr(self) -> str:
        if self._process.poll() is None or self._process.stderr is None:
            return "(still running)"
        return self._process.stderr.read().decode(errors="replace")

    def stop(self) -> None:
        """Close its stdin (it exits once calls in flight end); bounded, then killed."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


class Transport:
    """Calls to webhooks through one Go client; `resolve` maps a service name to an address."""

    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve
        self._helper: _Helper | None = None
        self._lock = threading.Lock()
        # Connections Go dialled (httptrace `GotConn` with `Reused` false), over all calls.
        self.new_connections = 0
        # DER of the certificate presented on the connection of the latest answered call.
        self.last_peer_certificate = b""

    def request(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        timeout: float,
        max_retries: int = MAX_RETRIES,
    ) -> Answer:
        """One call with one deadline of `timeout` seconds, Retry-After retries included."""
        address, port = self.resolve(endpoint.host, endpoint.port)
        reply = self._started().ask(
            {
                "op": "call",
                "host": endpoint.host,
                "port": endpoint.port,
                "ca_bundle": endpoint.ca_bundle.decode("ascii"),
                "dial": f"{address}:{port}",
                "method": method,
                "path": path,
                "body": None if body is None else base64.b64encode(body).decode("ascii"),
                "timeout_ns": max(0, int(timeout * 1e9)),
                "max_retries": max_retries,
            },
            within=max(timeout, 0) + _HELPER_GRACE_SECONDS,
        )
        with self._lock:
            self.new_connections += int(reply["new_connections"])
        if reply["error"]:
            raise CallError(reply["error"])
        answer = Answer(
            status=int(reply["status"]),
            body=base64.b64decode(reply["body"] or ""),
            peer_certificate=base64.b64decode(reply["peer_certificate"] or ""),
            headers={k: tuple(v) for k, v in (reply["header"] or {}).items()},
            tries=int(reply["tries"]),
        )
        self.last_peer_certificate = answer.peer_certificate
        return answer

    def close(self) -> None:
        """Close every idle connection (the next call dials again and sees the current cert)."""
        if self._helper is not None:
            self._helper.ask({"op": "close_idle"}, within=_HELPER_GRACE_SECONDS)

    def stop(self) -> None:
        """End the helper process (a later call starts a new one)."""
        with self._lock:
            helper, self._helper = self._helper, None
        if helper is not None:
            helper.stop()

    def _started(self) -> _Helper:
        with self._lock:
            if self._helper is None:
                self._helper = _Helper()
                weakref.finalize(self, self._helper.stop)
            return self._helper


def status_error(answer: Answer) -> str:
    """client-go's error for an HTTP answer outside 200..206, as `err.Error()` reads.

    `rest/request.go` `transformResponse` and `newUnstructuredResponseError`, then `Result.Error`
    (a JSON body that decodes as a `Status` with `status: Failure` gives its message), and
    k8s.io/apimachinery `pkg/api/errors` `NewGenericServerResponse` for the text of the rest.
    """
    content_type = answer.header("Content-Type")
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("", "application/json"):
        try:
            body = json.loads(answer.body)
        except ValueError:
            body = None
        if (
            isinstance(body, dict)
            and body.get("kind") == "Status"
            and body.get("apiVersion") in (None, "v1")
            and body.get("status") == "Failure"
        ):
            return str(body.get("message") or "")
    text = content_type == "" or media.startswith("text/")
    server_message = answer.body[:2048].decode(errors="replace").strip() if text else "unknown"
    return _GENERIC_MESSAGES.get(answer.status, "").replace("%s", server_message) or (
        # Go's %q; json.dumps quotes the same way but for rare escapes (\a, \x..).
        f"an error on the server ({json.dumps(server_message, ensure_ascii=False)}) has "
        "prevented the request from succeeding"
        if answer.status >= 500
        else f"the server responded with the status code {answer.status} but did not return "
        "more information"
    )


_GENERIC_MESSAGES: Final = {
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    403: "%s",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    415: "%s",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be "
    "processing the request",
}


if __name__ == "__main__":
    # `make` builds the helper ahead of the tests.
    print(client_binary())
