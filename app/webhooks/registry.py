"""The three admission endpoints, each a path, the kind it admits and the policy that decides."""

from __future__ import annotations

from functools import partial

from app.admission import responses as rsp
from app.admission import status as st
from app.admission.http import WebhookSpec
from app.admission.review import AdmissionRequest, GroupVersionKind
from app.config import Settings
from app.kargo.constants import (
    GROUP,
    PROJECT_CONFIG_KIND,
    PROJECT_CONFIG_VALIDATE_PATH,
    PROMOTION_KIND,
    PROMOTION_MUTATE_PATH,
    PROMOTION_VALIDATE_PATH,
    VERSION,
)
from app.webhooks.identity import ControllerIdentity
from app.webhooks.projectconfig import AutoRollbackSchema, validate_project_config
from app.webhooks.promotion import mutate_promotion, validate_promotion

PROJECT_CONFIG_GVK = GroupVersionKind(GROUP, VERSION, PROJECT_CONFIG_KIND)
PROMOTION_GVK = GroupVersionKind(GROUP, VERSION, PROMOTION_KIND)


def decide_project_config(req: AdmissionRequest, *, schema: AutoRollbackSchema) -> rsp.Decision:
    """Validate a ProjectConfig on CREATE and UPDATE; every error in one 422 answer."""
    if req.operation not in ("CREATE", "UPDATE") or req.obj is None:
        return rsp.allowed("not-validated-operation")
    verdict = validate_project_config(req.obj, operation=req.operation, schema=schema)
    if not verdict.errors:
        return rsp.allowed("valid", warnings=verdict.warnings)
    metadata = req.obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    status = st.invalid(
        group=GROUP,
        kind=PROJECT_CONFIG_KIND,
        name=name if isinstance(name, str) else req.name,
        errors=verdict.errors,
    )
    return rsp.denied("invalid", status, warnings=verdict.warnings)


def build_webhooks(settings: Settings) -> list[WebhookSpec]:
    is_controller = ControllerIdentity.of(settings.controller_usernames)
    return [
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
    ]
