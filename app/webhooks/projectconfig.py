"""The ProjectConfig webhook: Kargo's ProjectConfig rules turned into an admission answer.

The rules (`app.kargo.projectconfig`) return every field error and warning; here they become
one answer: allowed with the warnings, or denied with a 422 `Invalid` Status that carries one
cause per error, as the API server's own validation would (at most a hundred, then a cause that
counts the rest; see `app.k8s.status`).

On UPDATE the errors are ratcheted (`app.k8s.ratcheting`, as KEP-4008 does for custom
resources): an error the old object already had, at an unchanged field, does not deny; it is
shown as a warning and recorded in an audit annotation. Such objects exist wherever this webhook
was installed after Kargo, or was down under `failurePolicy: Ignore`, and without ratcheting no
one could label them, refresh them or remove their finalizers. Deletion changes none of this: the
API server takes spec updates of an object being deleted and Kargo keeps reading its spec, so a
`deletionTimestamp` exempts nothing; the finalizer removal its deletion waits on leaves the
spec unchanged, and an unchanged spec is admitted with its old errors.

The old object's errors are all compared, whatever the answer's limit of causes: both objects
are validated with an observer that sees every error (`ErrorList`), the old one's remembered as
digests, the new one's sorted one by one (`Ratchet`).
"""

from __future__ import annotations

from typing import Final

from app.admission import responses as rsp
from app.admission.review import AdmissionRequest, GroupVersionKind
from app.k8s import status as st
from app.k8s.field import ErrorList, FieldError
from app.k8s.ratcheting import OldErrors, Ratchet, same_json
from app.kargo.constants import GROUP, PROJECT_CONFIG_KIND, VERSION
from app.kargo.projectconfig import AutoRollbackSchema, validate_project_config

PROJECT_CONFIG_GVK: Final = GroupVersionKind(GROUP, VERSION, PROJECT_CONFIG_KIND)

# The audit annotation (`<webhook name>/unenforced-errors` in the audit log) naming the fields
# whose errors an UPDATE was let through with.
AUDIT_KEY: Final = "unenforced-errors"
_UNCHANGED: Final = "unchanged, not enforced"
# Errors not enforced are each a warning up to this many, then one warning counts the rest; the
# audit annotation names as many fields. An object with a thousand old errors must not turn
# every later UPDATE into a thousand warnings.
MAX_UNENFORCED_SHOWN: Final = 10
# A path can hold a map key of any length (a label key); the audit log gets its start.
_MAX_AUDIT_FIELD_CHARS: Final = 256


def decide_project_config(req: AdmissionRequest, *, schema: AutoRollbackSchema) -> rsp.Decision:
    """Validate a ProjectConfig on CREATE and UPDATE; every enforced error in one 422 answer."""
    if req.operation not in ("CREATE", "UPDATE") or req.obj is None:
        return rsp.allowed("not-validated-operation")
    verdict = validate_project_config(req.obj, operation=req.operation, schema=schema)
    if not verdict.errors:
        return rsp.allowed("valid", warnings=verdict.warnings.render())
    errors: ErrorList | list[FieldError] = verdict.errors
    warnings = verdict.warnings.render()
    if req.operation == "UPDATE" and req.old_obj is not None:
        if same_json(req.obj.get("spec"), req.old_obj.get("spec")):
            # On UPDATE the rules read nothing but the spec: an unchanged spec had exactly these
            # errors, at these unchanged values. Labels, annotations and finalizers change here
            # without validating the old object a second time.
            return _allowed_unenforced("existing-errors", verdict.errors, _UNCHANGED, warnings)
        old = OldErrors()
        validate_project_config(req.old_obj, operation="UPDATE", schema=schema, observer=old.add)
        if len(old):
            split = Ratchet(old, obj=req.obj, old_obj=req.old_obj)
            if verdict.errors.omitted:
                # Past the verdict's limit: validated again, every error sorted as it is found.
                validate_project_config(
                    req.obj, operation="UPDATE", schema=schema, observer=split.sort
                )
            else:
                for error in verdict.errors:
                    split.sort(error)
            if not split.enforced:
                return _allowed_unenforced("existing-errors", split.kept, _UNCHANGED, warnings)
            if split.kept:
                warnings = warnings + _unenforced_warnings(split.kept, _UNCHANGED)
            errors = split.enforced
    metadata = req.obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    status = st.invalid(
        group=GROUP,
        kind=PROJECT_CONFIG_KIND,
        name=name if isinstance(name, str) else req.name,
        errors=errors,
    )
    return rsp.denied("invalid", status, warnings=warnings)


def _allowed_unenforced(
    reason: str, errors: ErrorList | list[FieldError], why: str, warnings: list[str]
) -> rsp.Decision:
    decision = rsp.allowed(reason, warnings=warnings + _unenforced_warnings(errors, why))
    decision.audit[AUDIT_KEY] = _audit_value(errors, why)
    return decision


def _total(errors: ErrorList | list[FieldError]) -> int:
    return errors.total if isinstance(errors, ErrorList) else len(errors)


def _unenforced_warnings(errors: ErrorList | list[FieldError], why: str) -> list[str]:
    shown = [f"{why}: {error}" for error in list(errors)[:MAX_UNENFORCED_SHOWN]]
    if _total(errors) > MAX_UNENFORCED_SHOWN:
        shown.append(f"{why}: {_errors(_total(errors) - MAX_UNENFORCED_SHOWN, 'more ')}")
    return shown


def _audit_value(errors: ErrorList | list[FieldError], why: str) -> str:
    fields: list[str] = []
    listed_count = 0
    for error in errors:
        field = error.field[:_MAX_AUDIT_FIELD_CHARS]
        if field not in fields:
            if len(fields) == MAX_UNENFORCED_SHOWN:
                break
            fields.append(field)
        listed_count += 1
    more = _total(errors) - listed_count
    listed = ", ".join(fields) + (f" and {_errors(more, 'more ')}" if more else "")
    return f"{_errors(_total(errors))} {why}: {listed}"


def _errors(count: int, more: str = "") -> str:
    return f"1 {more}error" if count == 1 else f"{count} {more}errors"
