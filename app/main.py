"""`create_app(settings)`: the one place where the application is wired together.

`admission_webhooks` is the one dispatch table: each admission path, the kind it admits and
the policy that decides, with the settings each policy needs passed in as plain arguments.
`create_app` puts an `AdmissionEndpoint` on each of those paths and FastAPI (health, readiness,
metrics) behind everything else; `serve` and the in-process tests both run what it returns, so
a test routes exactly as production does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from app.admission.http import AdmissionEndpoint, WebhookSpec
from app.config import Settings
from app.kargo.constants import (
    PROJECT_CONFIG_VALIDATE_PATH,
    PROMOTION_MUTATE_PATH,
    PROMOTION_VALIDATE_PATH,
)
from app.observability import Observability, package_version
from app.webhooks.identity import ControllerIdentity
from app.webhooks.projectconfig import PROJECT_CONFIG_GVK, decide_project_config
from app.webhooks.promotion import PROMOTION_GVK, mutate_promotion, validate_promotion


def admission_webhooks(settings: Settings) -> tuple[WebhookSpec, ...]:
    """The admission endpoints: path, kind admitted, and the policy with its settings bound."""
    is_controller = ControllerIdentity.of(settings.controller_usernames)
    return (
        WebhookSpec(
            name="projectconfig-validate",
            path=PROJECT_CONFIG_VALIDATE_PATH,
            kind=PROJECT_CONFIG_GVK,
            policy=partial(decide_project_config, schema=settings.autorollback_schema),
        ),
        WebhookSpec(
            name="promotion-mutate",
            path=PROMOTION_MUTATE_PATH,
            kind=PROMOTION_GVK,
            policy=partial(
                mutate_promotion,
                is_controller=is_controller,
                mode=settings.rollback_annotation_mode,
            ),
        ),
        WebhookSpec(
            name="promotion-validate",
            path=PROMOTION_VALIDATE_PATH,
            kind=PROMOTION_GVK,
            policy=partial(validate_promotion, is_controller=is_controller),
        ),
    )


class Application:
    """The ASGI application: admission paths to their endpoint, everything else to FastAPI.

    The admission endpoints skip FastAPI's middleware stack and router, which cost about as
    much as the admission decision itself. `__call__` is a plain function returning the
    chosen app's coroutine, so this adds no coroutine of its own to a request.
    """

    __slots__ = ("endpoints", "fallback")

    def __init__(self, endpoints: Mapping[str, AdmissionEndpoint], fallback: ASGIApp) -> None:
        self.endpoints = dict(endpoints)
        self.fallback = fallback

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "http":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                return endpoint(scope, receive, send)
        return self.fallback(scope, receive, send)

    def overloaded(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """What answers a request that found the server at capacity (the transport calls it
        instead of the application): an admission path denies with code 429 and its uid; any
        other path gets a plain 429. Never a 5xx: `failurePolicy: Ignore` would admit it."""
        endpoint = self.endpoints.get(scope["path"])
        if endpoint is not None:
            return endpoint.refuse_overloaded(scope, receive, send)
        return _plain_overloaded(send)


_OVERLOADED_BODY = b"overloaded: too many requests in flight, retry"


async def _plain_overloaded(send: Send) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(_OVERLOADED_BODY)),
        (b"retry-after", b"1"),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": _OVERLOADED_BODY})


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
) -> Application:
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
    endpoints = {
        spec.path: AdmissionEndpoint(spec, max_body_bytes=settings.max_body_bytes, recorder=obs)
        for spec in admission_webhooks(settings)
    }

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

    return Application(endpoints, app)
