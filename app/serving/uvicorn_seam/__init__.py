"""The seam to uvicorn and httptools: the only code that touches their internals.

uvicorn's public API runs an ASGI application; what this server needs beyond it (a decision slot
taken only once a body is complete, one deadline from the headers, connection limits, one write
per answer, a drain after SIGTERM) reaches into private classes and attributes of uvicorn's
`HttpToolsProtocol`, `RequestResponseCycle` and `Server`. All of that sits here, in two modules
(and `contract`, the list of the names they use):

- `protocol`: the connection (`GuardedHttpToolsProtocol`, built by `protocol_class`);
- `server`: start-up, drain and shutdown (`GracefulServer`).

Every uvicorn name they use is listed in `UVICORN_CONTRACT`; tests/serving/test_uvicorn_contract.py
fails naming the symbol when a uvicorn release changes one, and pyproject.toml caps uvicorn and
httptools at the releases that pass it. import-linter (pyproject.toml) keeps every other module of
`app.serving`, and everything below the wiring, from importing uvicorn or httptools.

Imports: uvicorn, httptools and the job modules of app.serving, which know nothing of uvicorn.
"""

from app.serving.uvicorn_seam.contract import UVICORN_CONTRACT
from app.serving.uvicorn_seam.protocol import (
    Admission,
    GuardedHttpToolsProtocol,
    body_follows_of,
    protocol_class,
)
from app.serving.uvicorn_seam.server import GracefulServer

__all__ = [
    "UVICORN_CONTRACT",
    "Admission",
    "GracefulServer",
    "GuardedHttpToolsProtocol",
    "body_follows_of",
    "protocol_class",
]
