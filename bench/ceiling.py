"""The ceiling of this stack: a bare ASGI app that parses the review (orjson) and allows it.

Served by the same uvicorn as the webhook (httptools, uvloop, one process, TLS with the same
certificate), it measures what uvicorn, TLS and JSON parsing cost before any webhook logic, so
the webhook's throughput can be read as a fraction of what this stack can do at all.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

_HEADERS = [(b"content-type", b"application/json")]


async def allow(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    review = orjson.loads(b"".join(chunks))
    body = orjson.dumps(
        {
            "apiVersion": review["apiVersion"],
            "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": True},
        }
    )
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-cert-file", required=True)
    parser.add_argument("--tls-key-file", required=True)
    args = parser.parse_args()
    uvicorn.run(
        allow,
        host=args.host,
        port=args.port,
        ssl_certfile=args.tls_cert_file,
        ssl_keyfile=args.tls_key_file,
        http="httptools",
        loop="uvloop",
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
