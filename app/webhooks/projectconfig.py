"""The ProjectConfig webhook: Kargo's ProjectConfig rules turned into an admission answer.

The rules (`app.kargo.projectconfig`) return every field error and warning; here they become
one answer: allowed with the warnings, or denied with a 422 `Invalid` Status that carries one
cause per error, as the API server's own validation would (at most a hundred, then a cause that
counts the rest; see `app.k8s.status`).
"""

from __future__ import annotations

from typing import Final

from app.admission import responses as rsp
from app.admission.review import AdmissionRequest, GroupVersionKind
from app.k8s import status as st
from app.kargo.constants import GROUP, PROJECT_CONFIG_KIND, VERSION
from app.kargo.projectconfig import AutoRollbackSchema, validate_project_config

PROJECT_CONFIG_GVK: Final = GroupVersionKind(GROUP, VERSION, PROJECT_CONFIG_KIND)


def decide_project_config(req: AdmissionRequest, *, schema: AutoRollbackSchema) -> rsp.Decision:
    """Validate a ProjectConfig on CREATE and UPDATE; every error in one 422 answer."""
    if req.operation not in ("CREATE", "UPDATE") or req.obj is None:
        return rsp.allowed("not-validated-operation")
    verdict = validate_project_config(req.obj, operation=req.operation, schema=schema)
    if not verdict.errors:
        return rsp.allowed("valid", warnings=verdict.warnings.render())
    metadata = req.obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    status = st.invalid(
        group=GROUP,
        kind=PROJECT_CONFIG_KIND,
        name=name if isinstance(name, str) else req.name,
        errors=verdict.errors,
    )
    return rsp.denied("invalid", status, warnings=verdict.warnings.render())
