"""`create_app(settings)`: the one place where the application is wired together.

`admission_webhooks` is the one dispatch table: each admission path, the kind it admits and
the function that decides, with the settings each needs passed in as plain arguments.
`create_app` puts an `AdmissionEndpoint` on each of those paths and FastAPI (health, readiness,
metrics) behind everything else; `serve` and the in-process tests both run what it returns, so
a test routes exactly as production does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.admission.http import AdmissionEndpoint, WebhookSpec
from app.admission.validating import ValidatingWebhook
from app.config import Settings
from app.kargo.constants import (
    PROJECT_CONFIG_VALIDATE_PATH,
    PROMOTION_MUTATE_PATH,
    PROMOTION_VALIDATE_PATH,
)
from app.kargo.identity import ControllerIdentity
from app.observability.metrics import package_version
from app.observability.recorder import Observability
from app.routing import Application
from app.webhooks.projectconfig import PROJECT_CONFIG_GVK, ProjectConfigRules
from app.webhooks.promotion import GUARD_ACTIONS, PROMOTION_GVK, PromotionGuard


def admission_webhooks(settings: Settings) -> tuple[WebhookSpec, ...]:
    """The admission endpoints: path, kind admitted, and the decision with its settings bound.

    Every decision function is a bound method of an object built here once with its settings: called
    with the request alone, it reaches its code by a direct call (a `functools.partial` with
    keywords would parse its keywords again on every request). A validating resource is its
    rules behind `ValidatingWebhook` (docs/architecture.md shows how to add one).
    """
    project_config = ValidatingWebhook(ProjectConfigRules(schema=settings.autorollback_schema))
    guard = PromotionGuard(
        is_controller=ControllerIdentity.of(settings.controller_usernames),
        mode=settings.rollback_annotation_mode,
    )
    return (
        WebhookSpec(
            name="projectconfig-validate",
            path=PROJECT_CONFIG_VALIDATE_PATH,
            kind=PROJECT_CONFIG_GVK,
            decide=project_config.decide,
        ),
        WebhookSpec(
            name="promotion-mutate",
            path=PROMOTION_MUTATE_PATH,
            kind=PROMOTION_GVK,
            decide=guard.mutate,
            actions=GUARD_ACTIONS,
        ),
        WebhookSpec(
            name="promotion-validate",
            path=PROMOTION_VALIDATE_PATH,
            kind=PROMOTION_GVK,
            decide=guard.validate,
            actions=GUARD_ACTIONS,
        ),
    )


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
    specs = admission_webhooks(settings)
    for spec in specs:
        if spec.actions is not None:
            obs.count_actions(spec.name, spec.actions)
    endpoints = {
        spec.path: AdmissionEndpoint(spec, max_body_bytes=settings.max_body_bytes, recorder=obs)
        for spec in specs
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

    probes = frozenset(route.path for route in app.routes if isinstance(route, APIRoute))
    return Application(endpoints, app, exempt_paths=probes)
