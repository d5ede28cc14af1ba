"""An in-process HTTPS webhook that answers however a test tells it to, for the stand-in's tests
and for a third-party mutating webhook beside ours (reinvocation)."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.e2e.transport import Endpoint

Review = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """What the fake sends back: a status, a body, after a delay (bounded by the caller)."""

    body: bytes
    status: int = 200
    delay: float = 0.0


Behaviour = Callable[[Review], Reply]


def answer(review: Review, **response: Any) -> Reply:
    """A well-formed answer echoing the request's uid, with `response` fields on top."""
    body = {
        "apiVersion": review["apiVersion"],
        "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": True, **response},
    }
    return Reply(json.dumps(body).encode())


def json_patch(ops: list[dict[str, Any]]) -> dict[str, str]:
    return {"patchType": "JSONPatch", "patch": base64.b64encode(json.dumps(ops).encode()).decode()}


@contextmanager
def serving(certs: Path, dns_name: str, behaviour: Behaviour) -> Iterator[tuple[Endpoint, int]]:
    """Serve `behaviour` over TLS with certs/tls.crt; yields (endpoint for `dns_name`, port)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            review = json.loads(self.rfile.read(length))
            reply = behaviour(review)
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "tls.crt", certs / "tls.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        port = int(server.server_address[1])
        yield Endpoint(dns_name, 443, (certs / "ca.crt").read_bytes()), port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
