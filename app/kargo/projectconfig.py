"""ProjectConfig validation: Kargo's webhook and CRD rules, plus the autoRollback shapes.

A plain function over the decoded object that returns field errors and warnings; turning them
into an admission answer is `app.webhooks.projectconfig`'s job.

The API server checks a ProjectConfig against its CRD before this webhook sees it, but a webhook
called directly (tests, a misconfigured proxy, a cluster with an older CRD) sees any JSON, so the
schema rules this validation depends on are checked again here and a wrong type is an error at
its own path, never an exception.

Sources: Kargo's `pkg/webhook/kubernetes/projectconfig/webhook.go` (name must match the project,
duplicate stage names, name patterns), the ProjectConfig CRD (exactly one of stage and
stageSelector, the stage name pattern, the autoRollback lists and their CEL messages) and
apimachinery's label selector rules (`app.k8s.labels`).

The walk visits each value once and builds paths only where it descends, so the cost is linear
in the size of the object: it runs on every admission request.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from app.k8s.cooperative import pause
from app.k8s.field import (
    ErrorList,
    FieldError,
    FieldPath,
    duplicate,
    forbidden,
    go_quote,
    invalid,
    not_supported,
    required,
    too_many,
    type_invalid,
)
from app.k8s.labels import validate_label_selector
from app.k8s.names import DNS1123_SUBDOMAIN_FMT
from app.k8s.warnings import WarningList
from app.kargo.patterns import validate_name_selector

AutoRollbackSchema = Literal["any", "seed", "upstream"]
Operation = Literal["CREATE", "UPDATE"]


@dataclass(frozen=True, slots=True)
class ProjectConfigVerdict:
    """Every error found, and warnings to show the user even when the object is admitted.

    Both are bounded (`ErrorList`, `WarningList`): the first ones kept, the rest only counted,
    so that a hostile object of millions of bad policies costs no memory for its errors.
    """

    errors: ErrorList
    warnings: WarningList  # each under 120 characters, as the API server asks of warnings


# The CRD's pattern for the deprecated `stage` field (a DNS-1123 subdomain without its length
# limit), quoted verbatim in the message as the API server quotes it. Applied with `fullmatch`:
# Python's `$` also matches before a trailing newline, Go's does not.
STAGE_NAME_PATTERN: Final = f"^{DNS1123_SUBDOMAIN_FMT}$"
_STAGE_NAME_RE: Final = re.compile(STAGE_NAME_PATTERN)

# The CRD's CEL rule on a PromotionPolicy; the API server reports it with the value "object".
_EXACTLY_ONE_SELECTOR: Final = "PromotionPolicy must have exactly one of stage or stageSelector set"

# autoRollback's two shapes. Seed (c7adbbd): a boolean `onFailedPromotions`. Upstream (d213287
# and later): lists of terminal phases. The spellings differ on purpose ("Errored" is a
# Promotion phase, "Error" a verification phase); the CRD caps each list at two items.
_SEED_KEYS: Final = ("onFailedPromotions",)
_UPSTREAM_KEYS: Final = ("onPromotion", "onVerification")
_SCHEMA_KEYS: Final[dict[AutoRollbackSchema, tuple[str, ...]]] = {
    "any": _SEED_KEYS + _UPSTREAM_KEYS,
    "seed": _SEED_KEYS,
    "upstream": _UPSTREAM_KEYS,
}
_KNOWN_KEYS: Final = frozenset(_SCHEMA_KEYS["any"])
_PHASES: Final = {"onPromotion": ("Failed", "Errored"), "onVerification": ("Failed", "Error")}
_MAX_PHASES: Final = 2

_PROJECT_SELECTOR_FORBIDDEN: Final = (
    "only ClusterConfig windows select Projects; on a ProjectConfig the Project is implicit"
)

_METADATA: Final = FieldPath.root("metadata")
_SPEC: Final = FieldPath.root("spec")
_POLICIES: Final = _SPEC.child("promotionPolicies")
_WINDOWS: Final = _SPEC.child("promotionWindows")


def validate_project_config(
    obj: object,
    *,
    operation: Operation,
    schema: AutoRollbackSchema,
    observer: Callable[[FieldError], None] | None = None,
) -> ProjectConfigVerdict:
    """Validate a decoded ProjectConfig; `schema` restricts the accepted autoRollback shape.

    The name rule applies on CREATE only, as in Kargo: an existing object keeps its name.
    `observer` sees every error, past the verdict's limit too (see `ErrorList`).
    """
    errors = ErrorList(observer=observer)
    warnings = WarningList()
    if not isinstance(obj, dict):
        errors.append(type_invalid(FieldPath(), obj, "object"))
        return ProjectConfigVerdict(errors, warnings)
    if operation == "CREATE":
        _validate_metadata(obj.get("metadata"), errors)
    spec = obj.get("spec")
    if spec is None:
        return ProjectConfigVerdict(errors, warnings)
    if not isinstance(spec, dict):
        errors.append(type_invalid(_SPEC, spec, "object"))
        return ProjectConfigVerdict(errors, warnings)

    policies = spec.get("promotionPolicies")
    if isinstance(policies, list):
        _validate_policies(policies, schema, errors, warnings)
    elif policies is not None:
        errors.append(type_invalid(_POLICIES, policies, "array"))

    windows = spec.get("promotionWindows")
    if isinstance(windows, list):
        _validate_window_selectors(windows, errors)
    elif windows is not None:
        errors.append(type_invalid(_WINDOWS, windows, "array"))
    return ProjectConfigVerdict(errors, warnings)


def _validate_metadata(metadata: object, errors: ErrorList) -> None:
    """Kargo's rule: a ProjectConfig is named after its project, which is its namespace."""
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        errors.append(type_invalid(_METADATA, metadata, "object"))
        return
    name_path = _METADATA.child("name")
    name = _required_string(name_path, metadata.get("name"), errors)
    namespace = _required_string(_METADATA.child("namespace"), metadata.get("namespace"), errors)
    if name is not None and namespace is not None and name != namespace:
        detail = f"name {go_quote(name)} must match project name {go_quote(namespace)}"
        errors.append(invalid(name_path, name, detail))


def _required_string(path: FieldPath, value: object, errors: ErrorList) -> str | None:
    if value is None or value == "":
        errors.append(required(path))
        return None
    if not isinstance(value, str):
        errors.append(type_invalid(path, value, "string"))
        return None
    return value


def _validate_policies(
    policies: list[object],
    schema: AutoRollbackSchema,
    errors: ErrorList,
    warnings: WarningList,
) -> None:
    # Exact stage name -> index of its first policy. Duplicates are reported at the later policy
    # as soon as it is reached, so errors come out in policy order in a single pass.
    first_index: dict[str, int] = {}
    for i, policy in enumerate(policies):
        pause()
        path = _POLICIES.index(i)
        if not isinstance(policy, dict):
            errors.append(type_invalid(path, policy, "object"))
            continue
        stage = policy.get("stage")
        selector = policy.get("stageSelector")
        if (stage is None) == (selector is None):
            errors.append(invalid(path, "object", _EXACTLY_ONE_SELECTOR))
        if stage is not None:
            _validate_stage_name(path.child("stage"), stage, errors)
        if selector is not None:
            _validate_stage_selector(path.child("stageSelector"), selector, errors)

        # Kargo's rule: the selector's name wins over the deprecated field; empty names and
        # patterns (a name with ":") are never duplicates; labels play no part.
        name = selector.get("name") if isinstance(selector, dict) else stage
        if isinstance(name, str) and name and ":" not in name:
            first = first_index.setdefault(name, i)
            if first != i:
                detail = f"stage name already defined at {_POLICIES.index(first)}"
                errors.append(invalid(path, name, detail))

        auto_rollback = policy.get("autoRollback")
        if auto_rollback is not None:
            _validate_auto_rollback(path.child("autoRollback"), auto_rollback, schema, errors)

        if isinstance(selector, dict):
            _warn_about_selector(path, selector, auto_rollback is not None, warnings)


def _validate_stage_name(path: FieldPath, stage: object, errors: ErrorList) -> None:
    if not isinstance(stage, str):
        errors.append(type_invalid(path, stage, "string"))
    elif _STAGE_NAME_RE.fullmatch(stage) is None:
        errors.append(invalid(path, stage, f"should match '{STAGE_NAME_PATTERN}'"))


def _validate_stage_selector(path: FieldPath, selector: object, errors: ErrorList) -> None:
    """A policy's or a promotion window's `stageSelector`: its name, then its labels."""
    if not isinstance(selector, dict):
        errors.append(type_invalid(path, selector, "object"))
        return
    name = selector.get("name")
    if isinstance(name, str):
        # As in Kargo's webhook, only a name with ":" is parsed as a pattern; an exact name is
        # not otherwise checked (any string can be compared with a Stage's name).
        if ":" in name:
            validate_name_selector(path.child("name"), name, errors)
    elif name is not None:
        errors.append(type_invalid(path.child("name"), name, "string"))
    validate_label_selector(path, selector, errors)


def _validate_auto_rollback(
    path: FieldPath, auto_rollback: object, schema: AutoRollbackSchema, errors: ErrorList
) -> None:
    if not isinstance(auto_rollback, dict):
        errors.append(type_invalid(path, auto_rollback, "object"))
        return
    allowed = _SCHEMA_KEYS[schema]
    seed_value = auto_rollback.get("onFailedPromotions")
    mixes_shapes = seed_value is not None and any(
        auto_rollback.get(key) is not None for key in _UPSTREAM_KEYS
    )
    if schema == "any" and mixes_shapes:
        errors.append(
            invalid(
                path.child("onFailedPromotions"),
                seed_value,
                "cannot be combined with onPromotion or onVerification "
                "(seed and upstream autoRollback shapes)",
            )
        )
    for key, value in auto_rollback.items():
        if key not in allowed:
            # `null` is "absent" for a key of the other shape; an unknown key is a typo either way.
            if value is not None or key not in _KNOWN_KEYS:
                errors.append(not_supported(path.child(key), key, allowed))
        elif value is None:
            continue
        elif key == "onFailedPromotions":
            if not isinstance(value, bool):
                errors.append(type_invalid(path.child(key), value, "boolean"))
        else:
            _validate_phases(path.child(key), key, value, errors)


def _validate_phases(path: FieldPath, key: str, phases: object, errors: ErrorList) -> None:
    """An upstream phase list: a set of at most two phases, with the CRD's CEL messages."""
    if not isinstance(phases, list):
        errors.append(type_invalid(path, phases, "array"))
        return
    if len(phases) > _MAX_PHASES:
        errors.append(too_many(path, len(phases), _MAX_PHASES))
    allowed = _PHASES[key]
    seen: set[str] = set()
    for k, phase in enumerate(phases):
        item_path = path.index(k)
        if not isinstance(phase, str):
            errors.append(type_invalid(item_path, phase, "string"))
            continue
        if phase not in allowed:
            detail = f"{key}[{k}] must be {allowed[0]} or {allowed[1]}"
            errors.append(invalid(item_path, phase, detail))
        if phase in seen:
            errors.append(duplicate(item_path, phase))
        seen.add(phase)


def _warn_about_selector(
    path: FieldPath, selector: dict[str, object], auto_rollback: bool, warnings: WarningList
) -> None:
    # Each text leaves room for a 12-digit index within the API server's 120 characters.
    name = selector.get("name")
    uses_labels = bool(selector.get("matchLabels")) or bool(selector.get("matchExpressions"))
    if not name and not uses_labels:
        warnings.append(f"{path}.stageSelector is empty and selects every Stage in the project")
    elif auto_rollback and (uses_labels or (isinstance(name, str) and ":" in name)):
        # Kargo's docs: pattern matching "can be exploited by users with permissions to match
        # promotion policies that weren't intended to apply to their resources".
        warnings.append(
            f"{path}: autoRollback via pattern or labels can match crafted Stages; "
            "prefer an exact name"
        )


def _validate_window_selectors(windows: list[object], errors: ErrorList) -> None:
    """A promotion window's selectors are ours; the rest of the window passes through."""
    for i, window in enumerate(windows):
        pause()
        path = _WINDOWS.index(i)
        if not isinstance(window, dict):
            errors.append(type_invalid(path, window, "object"))
            continue
        selector = window.get("stageSelector")
        if selector is not None:
            _validate_stage_selector(path.child("stageSelector"), selector, errors)
        # Kargo's API (promotion_window_types.go, PR #6710) rejects `projectSelector` on a
        # ProjectConfig, whose Project is implicit, but neither its CRD nor its webhook does:
        # the field is shared with ClusterConfig windows. Forbidden whatever its value; `null`
        # is absent, as the API server prunes it.
        if window.get("projectSelector") is not None:
            errors.append(forbidden(path.child("projectSelector"), _PROJECT_SELECTOR_FORBIDDEN))
