"""In-process application for HTTP tests (the real FastAPI app over httpx's ASGI transport)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.main import create_app
from app.observability.recorder import Observability


def settings(**overrides: Any) -> Settings:
    # create_app never opens the TLS files; the server does.
    base: dict[str, Any] = {
        "tls_cert_file": Path("/nonexistent/tls.crt"),
        "tls_key_file": Path("/nonexistent/tls.key"),
    }
    base.update(overrides)
    return Settings(**base)


def client(**overrides: Any) -> tuple[httpx.AsyncClient, Observability]:
    obs = Observability()
    app = create_app(settings(**overrides), observability=obs)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://webhook"), obs
