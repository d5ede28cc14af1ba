"""The validating adapter: a resource's rules in, an admission `Decision` out.

A validating resource supplies only its rules (`ValidatingRules`: validate an object, say when
an UPDATE leaves everything they read unchanged) and its GroupKind; `ValidatingWebhook` owns
the rest, the same for every resource, as controller-runtime's `validator_custom.go` does:

- the operation switch: CREATE and UPDATE are validated; DELETE and CONNECT pass (the rules
  judge what an object becomes, and a DELETE makes nothing); an operation this adapter does not
  know is refused with 400, as controller-runtime refuses it (`unknown operation`);
- ratcheting on UPDATE (`app.k8s.ratcheting`, as KEP-4008 does for custom resources): an error
  the old object already had, at an unchanged field, does not deny; it is shown as a warning and
  recorded in an audit annotation. Such objects exist wherever the webhook was installed after
  the resource's controller, or was down under `failurePolicy: Ignore`, and without ratcheting
  no one could label them, refresh them or remove their finalizers. Deletion changes none of
  this: the API server takes spec updates of an object being deleted and controllers keep
  reading it, so a `deletionTimestamp` exempts nothing; the finalizer removal its deletion waits
  on leaves what the rules read unchanged, and that is admitted with its old errors;
- (errors, warnings) into a `Decision`: allowed with the warnings, or denied with a 422
  `Invalid` Status that carries one cause per error, as the API server's own validation would
  (at most a hundred, then a cause that counts the rest; see `app.k8s.status`).

The old object's errors are all compared, whatever the answer's limit of causes: both objects
are validated with an observer that sees every error (`ErrorList`), the old one's remembered as
digests, the new one's sorted one by one (`Ratchet`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal, NamedTuple, Protocol, final

from app.admission import responses as rsp
from app.admission.review import AdmissionRequest
from app.k8s import status as st
from app.k8s.field import ErrorList, FieldError, go_quote
from app.k8s.ratcheting import OldErrors, Ratchet
from app.k8s.warnings import WarningList

# The operations a validating resource's rules judge.
Validated = Literal["CREATE", "UPDATE"]
Observer = Callable[[FieldError], None]

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


class GroupKind(NamedTuple):
    """The API group and kind a denial's Status names (`apierrors.NewInvalid`'s `qualifiedKind`)."""

    group: str
    kind: str


class Verdict(Protocol):
    """What a resource's rules found: every error (bounded) and the warnings to show."""

    @property
    def errors(self) -> ErrorList: ...

    @property
    def warnings(self) -> WarningList: ...


class ValidatingRules(Protocol):
    """All a validating resource supplies: its GroupKind and its rules."""

    @property
    def group_kind(self) -> GroupKind: ...

    def validate(
        self, obj: dict[str, object], operation: Validated, observer: Observer | None
    ) -> Verdict:
        """Every error of `obj` (each also given to `observer`, past the verdict's limit)."""
        ...

    def unchanged(self, obj: dict[str, object], old_obj: dict[str, object]) -> bool:
        """True when an UPDATE changes nothing the rules read: the old errors stand as they are,
        and the old object need not be validated again."""
        ...


@final
class ValidatingWebhook:
    """One validating resource's answers: its rules behind the generic operation switch.

    Built once, in the dispatch table; `decide` is its decision function.
    """

    __slots__ = ("_group", "_kind", "_rules")

    def __init__(self, rules: ValidatingRules) -> None:
        self._rules = rules
        self._group, self._kind = rules.group_kind

    def decide(self, req: AdmissionRequest) -> rsp.Decision:
        """Validate on CREATE and UPDATE; every enforced error in one 422 answer."""
        operation = req.operation
        if operation in ("CREATE", "UPDATE"):
            obj = req.obj
            if obj is None:  # decoding requires it; nothing to judge all the same
                return rsp.allowed("not-validated-operation")
            return self._validate(req, obj, operation)
        if operation in ("DELETE", "CONNECT"):
            return rsp.allowed("not-validated-operation")
        detail = f"unknown operation {go_quote(operation)}"
        return rsp.errored("unknown-operation", st.bad_request(detail))

    def _validate(
        self, req: AdmissionRequest, obj: dict[str, object], operation: Validated
    ) -> rsp.Decision:
        rules = self._rules
        verdict = rules.validate(obj, operation, None)
        new_errors = verdict.errors
        warnings = verdict.warnings.render()
        if not new_errors:
            return rsp.allowed("valid", warnings=warnings)
        errors = new_errors
        old_obj = req.old_obj
        if operation == "UPDATE" and old_obj is not None:
            if rules.unchanged(obj, old_obj):
                # Nothing the rules read changed: the object had exactly these errors, at these
                # unchanged values. Labels, annotations and finalizers change here without
                # validating the old object a second time.
                return _allowed_unenforced(new_errors, warnings)
            old = OldErrors()
            rules.validate(old_obj, "UPDATE", old.add)
            if len(old):
                split = Ratchet(old, obj=obj, old_obj=old_obj)
                if new_errors.omitted:
                    # Past the verdict's limit: validated again, every error sorted as found.
                    rules.validate(obj, "UPDATE", split.sort)
                else:
                    for error in new_errors:
                        split.sort(error)
                if not split.enforced:
                    return _allowed_unenforced(split.kept, warnings)
                if split.kept:
                    warnings = warnings + _unenforced_warnings(split.kept)
                errors = split.enforced
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        status = st.invalid(
            group=self._group,
            kind=self._kind,
            name=name if isinstance(name, str) else req.name,
            errors=errors,
        )
        return rsp.denied("invalid", status, warnings=warnings)


def _allowed_unenforced(errors: ErrorList, warnings: list[str]) -> rsp.Decision:
    decision = rsp.allowed("existing-errors", warnings=warnings + _unenforced_warnings(errors))
    decision.audit[AUDIT_KEY] = _audit_value(errors)
    return decision


def _unenforced_warnings(errors: ErrorList) -> list[str]:
    shown = [f"{_UNCHANGED}: {error}" for error in errors.items[:MAX_UNENFORCED_SHOWN]]
    if errors.total > MAX_UNENFORCED_SHOWN:
        shown.append(f"{_UNCHANGED}: {_errors(errors.total - MAX_UNENFORCED_SHOWN, 'more ')}")
    return shown


def _audit_value(errors: ErrorList) -> str:
    fields: list[str] = []
    listed_count = 0
    for error in errors:
        field = error.field[:_MAX_AUDIT_FIELD_CHARS]
        if field not in fields:
            if len(fields) == MAX_UNENFORCED_SHOWN:
                break
            fields.append(field)
        listed_count += 1
    more = errors.total - listed_count
    listed = ", ".join(fields) + (f" and {_errors(more, 'more ')}" if more else "")
    return f"{_errors(errors.total)} {_UNCHANGED}: {listed}"


def _errors(count: int, more: str = "") -> str:
    return f"1 {more}error" if count == 1 else f"{count} {more}errors"
