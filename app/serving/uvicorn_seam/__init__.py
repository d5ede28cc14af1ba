"""The seam to uvicorn and httptools: the only code that touches their internals.

uvicorn's public API runs an ASGI application; what this server needs beyond it (a decision slot
taken only once a body is complete, one deadline from the headers, connection limits, one write
per answer, a drain after SIGTERM) reaches into private classes and attributes of uvicorn's
`HttpToolsProtocol`, `RequestResponseCycle` and `Server`, and of the event loop's TLS protocol.
All of that sits here (and `contract`, the list of the uvicorn names used; `accept`'s use of the
loop's TLS protocol is checked on both loops by tests/serving/uvicorn_seam/test_accept.py):

- `protocol`: the connection (`GuardedHttpToolsProtocol`, built by `protocol_class`), with
  `shared` (`SharedLimits`: what the connections of one server share);
- `accept`: TLS started by each accepted connection, so that handshakes are counted;
- `server`: start-up, drain and shutdown (`GracefulServer`).

Every uvicorn name they use is listed in `UVICORN_CONTRACT`;
tests/serving/uvicorn_seam/test_uvicorn_contract.py fails naming the symbol when a uvicorn release
changes one, and pyproject.toml caps uvicorn and httptools at the releases that pass it.
import-linter (pyproject.toml) keeps every other module of `app.serving`, and everything below the
wiring, from importing uvicorn or httptools.

Imports: uvicorn, httptools, uvloop and the job modules of app.serving, which know nothing of
uvicorn.
"""

from app.serving.uvicorn_seam.contract import UVICORN_CONTRACT
from app.serving.uvicorn_seam.protocol import (
    GuardedHttpToolsProtocol,
    body_follows_of,
    protocol_class,
)
from app.serving.uvicorn_seam.server import GracefulServer
from app.serving.uvicorn_seam.shared import SharedLimits

__all__ = [
    "UVICORN_CONTRACT",
    "GracefulServer",
    "GuardedHttpToolsProtocol",
    "SharedLimits",
    "body_follows_of",
    "protocol_class",
]
