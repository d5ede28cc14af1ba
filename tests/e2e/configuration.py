"""Webhook configurations as kube-apiserver reads them: what each webhook matches and how it is
called. Validated as on create (k8s.io/kubernetes `pkg/apis/admissionregistration/validation`),
so a configuration no cluster would store is refused with `InvalidConfiguration`; what the
stand-in does not model is refused with `Unsupported`, never silently ignored.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from tests.e2e.errors import InvalidConfiguration, Unsupported
from tests.e2e.match_conditions import Condition, compile_conditions
from tests.e2e.transport import Endpoint

Manifest = dict[str, Any]

SUPPORTED_REVIEW_VERSIONS: Final = ("v1",)  # of admissionReviewVersions
DEFAULT_TIMEOUT_SECONDS: Final = 10
# A policy takes effect through a binding: kube-apiserver evaluates a bound
# ValidatingAdmissionPolicy after the mutating and before the validating webhooks
# (`pkg/admission/plugin/policy/validating`), a MutatingAdmissionPolicy among the mutations.
# An unbound policy does nothing, in a cluster as here.
_POLICY_BINDING_KINDS: Final = (
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicyBinding",
)


@dataclass(frozen=True, slots=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str


@dataclass(frozen=True, slots=True)
class Rule:
    api_groups: tuple[str, ...]
    api_versions: tuple[str, ...]
    resources: tuple[str, ...]
    operations: tuple[str, ...]
    scope: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Rule:
        return cls(
            api_groups=tuple(raw.get("apiGroups") or ()),
            api_versions=tuple(raw.get("apiVersions") or ()),
            resources=tuple(raw.get("resources") or ()),
            operations=tuple(raw.get("operations") or ()),
            scope=raw.get("scope") or "*",
        )

    def matches(self, resource: GroupVersionResource, subresource: str, op: str, ns: str) -> bool:
        """k8s.io/apiserver `predicates/rules.Matcher.Matches`."""
        return (
            _exact_or_wildcard(self.api_groups, resource.group)
            and _exact_or_wildcard(self.api_versions, resource.version)
            and _exact_or_wildcard(self.operations, op)
            and self._resource_matches(resource.resource, subresource)
            and self._scope_matches(resource, ns)
        )

    def _resource_matches(self, resource: str, subresource: str) -> bool:
        for item in self.resources:
            res, _, sub = item.partition("/")
            if (res in ("*", resource)) and (sub in ("*", subresource)):
                return True
        return False

    def _scope_matches(self, resource: GroupVersionResource, ns: str) -> bool:
        if self.scope == "*":
            return True
        # Namespace objects are cluster-scoped although they name a namespace.
        namespaced = ns != "" and not (resource.group == "" and resource.resource == "namespaces")
        return namespaced if self.scope == "Namespaced" else not namespaced


def _exact_or_wildcard(items: Sequence[str], value: str) -> bool:
    return "*" in items or value in items


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """metav1.LabelSelector; the empty selector matches everything."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> LabelSelector:
        raw = raw or {}
        return cls(dict(raw.get("matchLabels") or {}), tuple(raw.get("matchExpressions") or ()))

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels.items():
            if labels.get(key) != value:
                return False
        for expression in self.match_expressions:
            key, operator = expression["key"], expression["operator"]
            values = expression.get("values") or []
            if operator == "In":
                ok = key in labels and labels[key] in values
            elif operator == "NotIn":
                ok = key not in labels or labels[key] not in values
            elif operator == "Exists":
                ok = key in labels
            elif operator == "DoesNotExist":
                ok = key not in labels
            else:
                raise InvalidConfiguration(f"label selector operator {operator!r}")
            if not ok:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Webhook:
    configuration: str
    index: int  # position in its configuration
    name: str
    mutating: bool
    endpoint: Endpoint
    path: str
    rules: tuple[Rule, ...]
    failure_policy: str
    match_policy: str
    namespace_selector: LabelSelector
    object_selector: LabelSelector
    side_effects: str
    timeout_seconds: int
    review_versions: tuple[str, ...]
    reinvocation_policy: str
    match_conditions: tuple[Condition, ...]

    @property
    def uid(self) -> tuple[str, str]:
        return (self.configuration, self.name)

    def url(self) -> str:
        return f"https://{self.endpoint.host}:{self.endpoint.port}{self.path}"


def parse_configurations(manifests: Iterable[Manifest]) -> list[Webhook]:
    """The webhooks of every Mutating/ValidatingWebhookConfiguration, validated as on create."""
    hooks: list[Webhook] = []
    for manifest in manifests:
        kind = manifest.get("kind")
        if kind in _POLICY_BINDING_KINDS:
            raise Unsupported(
                f"{kind} {(manifest.get('metadata') or {}).get('name')}: the policy it binds "
                "would decide in kube-apiserver's admission chain, and the stand-in does not "
                "evaluate admission policies"
            )
        if kind not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            continue
        if manifest.get("apiVersion") != "admissionregistration.k8s.io/v1":
            raise Unsupported(f"{kind} {manifest.get('apiVersion')}")
        configuration = manifest["metadata"]["name"]
        names: set[str] = set()
        for index, raw in enumerate(manifest.get("webhooks") or ()):
            hook = _parse_webhook(configuration, index, raw, mutating=kind.startswith("Mutating"))
            if hook.name in names:
                raise InvalidConfiguration(f"{configuration}: duplicate webhook name {hook.name}")
            names.add(hook.name)
            hooks.append(hook)
    return hooks


def _parse_webhook(configuration: str, index: int, raw: Manifest, *, mutating: bool) -> Webhook:
    where = f"{configuration} webhooks[{index}]"
    name = raw["name"]
    if name.count(".") < 2:
        raise InvalidConfiguration(f"{where}: name {name!r} must be fully qualified")
    client = raw["clientConfig"]
    ca_bundle = base64.b64decode(client["caBundle"]) if client.get("caBundle") else b""
    if "service" in client:
        service = client["service"]
        host = f"{service['name']}.{service['namespace']}.svc"
        port = int(service.get("port", 443))
        path = service.get("path") or "/"
    else:
        url = urllib.parse.urlsplit(client["url"])
        if url.scheme != "https" or url.query or url.fragment or url.username:
            raise InvalidConfiguration(f"{where}: url must be https with no query or user")
        host, port, path = url.hostname or "", url.port or 443, url.path or "/"
    if not path.startswith("/"):
        raise InvalidConfiguration(f"{where}: path must start with /")
    versions = tuple(raw.get("admissionReviewVersions") or ())
    if not any(v in SUPPORTED_REVIEW_VERSIONS for v in versions):
        raise InvalidConfiguration(f"{where}: admissionReviewVersions {versions} has no v1")
    side_effects = raw.get("sideEffects")
    if side_effects not in ("None", "NoneOnDryRun"):
        raise InvalidConfiguration(f"{where}: sideEffects must be None or NoneOnDryRun")
    timeout = int(raw.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS))
    if not 1 <= timeout <= 30:
        raise InvalidConfiguration(f"{where}: timeoutSeconds {timeout} not in 1..30")
    failure_policy = raw.get("failurePolicy", "Fail")
    match_policy = raw.get("matchPolicy", "Equivalent")
    reinvocation = raw.get("reinvocationPolicy", "Never")
    if failure_policy not in ("Fail", "Ignore") or match_policy not in ("Exact", "Equivalent"):
        raise InvalidConfiguration(f"{where}: failurePolicy/matchPolicy")
    if reinvocation not in ("Never", "IfNeeded") or (reinvocation != "Never" and not mutating):
        raise InvalidConfiguration(f"{where}: reinvocationPolicy {reinvocation!r}")
    return Webhook(
        configuration=configuration,
        index=index,
        name=name,
        mutating=mutating,
        endpoint=Endpoint(host, port, ca_bundle),
        path=path,
        rules=tuple(Rule.parse(r) for r in raw.get("rules") or ()),
        failure_policy=failure_policy,
        match_policy=match_policy,
        namespace_selector=LabelSelector.parse(raw.get("namespaceSelector")),
        object_selector=LabelSelector.parse(raw.get("objectSelector")),
        side_effects=side_effects,
        timeout_seconds=timeout,
        review_versions=versions,
        reinvocation_policy=reinvocation,
        match_conditions=compile_conditions(raw.get("matchConditions") or (), where),
    )
