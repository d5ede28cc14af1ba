"""`create_app(settings)`: the one place where the application is wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route

from app.admission.http import AdmissionEndpoint
from app.config import Settings
from app.observability import Observability, package_version
from app.webhooks.registry import build_webhooks


@dataclass(slots=True)
class Health:
    """Liveness and readiness. Readiness fails from SIGTERM on, and once the certificate expired."""

    started: bool = False
    draining: bool = False
    # Extra readiness checks, each returning a reason when not ready (e.g. certificate expired).
    checks: list[Callable[[], str | None]] = field(default_factory=list)

    def not_ready_reason(self) -> str | None:
        if not self.started:
            return "starting"
        if self.draining:
            return "shutting down"
        for check in self.checks:
            reason = check()
            if reason is not None:
                return reason
        return None


def create_app(
    settings: Settings,
    *,
    observability: Observability | None = None,
    health: Health | None = None,
) -> FastAPI:
    obs = observability or Observability()
    state = health or Health()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.started = True
        yield
        state.draining = True
        obs.flush()

    app = FastAPI(
        title="kargo-rollback-webhook",
        version=package_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.observability = obs
    app.state.health = state

    endpoints: dict[str, AdmissionEndpoint] = {}
    for spec in build_webhooks(settings):
        endpoint = AdmissionEndpoint(spec, max_body_bytes=settings.max_body_bytes, recorder=obs)
        endpoints[spec.path] = endpoint
        app.router.routes.append(Route(spec.path, endpoint=endpoint, name=spec.name))
    app.state.admission_endpoints = endpoints

    @app.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> str:
        return "ok"

    @app.get("/readyz", response_class=PlainTextResponse)
    async def readyz() -> Response:
        reason = state.not_ready_reason()
        if reason is None:
            return PlainTextResponse("ok")
        return PlainTextResponse(f"not ready: {reason}", status_code=503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(obs.registry), media_type=CONTENT_TYPE_LATEST)

    return app
