"""A stand-in for kube-apiserver's admission chain, driven by real webhook configurations.

What a write goes through here, in kube-apiserver's order (k8s.io/apiserver,
`pkg/admission/plugin/webhook`, and apiextensions-apiserver for custom resources):

1. decode: the body becomes the kind (400 when metadata is malformed), unknown fields and
   non-nullable `null`s are pruned, defaults applied (`schema.decode`); the namespace must exist;
2. mutating webhooks: configurations sorted by name, webhooks in their order; each is called when
   its rules (groups, versions, resources with subresources, operations, scope), its
   `matchPolicy`, `namespaceSelector` (against the namespace's labels), `objectSelector` (the new
   or the old object's labels) and `matchConditions` match. A JSON patch (RFC 6902, `jsonpatch`)
   that fails to apply, or whose result does not decode, rejects the request whatever the failure
   policy. A webhook with `reinvocationPolicy: IfNeeded` is called once more when a webhook after
   it changed the object (the dispatcher's reinvocation context: a webhook is never re-invoked
   for its own change alone);
3. on CREATE, `uid`, `creationTimestamp` and `generation` are set (on UPDATE they, and the
   deletion fields, are the old object's); then schema validation (422);
4. validating webhooks. kube-apiserver calls them in parallel and returns whichever error comes
   first; this stand-in calls them in order and returns the first error in that order.

DELETE of an object with finalizers sets `deletionTimestamp` and keeps it until UPDATEs have
removed every finalizer, as graceful deletion of a custom resource does.

A call error (dial, TLS, timeout, non-200, undecodable answer, wrong apiVersion, kind or uid,
a patch without `patchType` or from a validating webhook) goes through `failurePolicy`: `Fail`
answers 500 `failed calling webhook`, `Ignore` goes on and records kube-apiserver's
`failed-open.*` audit annotation. Warnings of every webhook are collected (duplicates once), as
the API server's warning recorder does.

`matchConditions` are CEL; only the literals `true` and `false` are evaluated here, anything else
raises `Unsupported` so a test never silently skips a condition. Reviews are sent as
`admission.k8s.io/v1`, the first of `admissionReviewVersions` this stand-in speaks.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import itertools
import json
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import jsonpatch
import jsonpointer
import orjson

from tests.e2e import schema
from tests.e2e.transport import CallError, Endpoint, Resolve, Transport

Manifest = dict[str, Any]
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]

REVIEW_VERSION: Final = "admission.k8s.io/v1"
SUPPORTED_REVIEW_VERSIONS: Final = ("v1",)  # of admissionReviewVersions
DEFAULT_TIMEOUT_SECONDS: Final = 10
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"


class Unsupported(Exception):
    """The configuration uses something this stand-in does not model."""


class InvalidConfiguration(Exception):
    """The API server would refuse to store this webhook configuration."""


# --- configuration --------------------------------------------------------------------------


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
    match_conditions: tuple[Mapping[str, str], ...]

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
        match_conditions=tuple(raw.get("matchConditions") or ()),
    )


# --- requests and results -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str


@dataclass(frozen=True, slots=True)
class User:
    username: str
    groups: tuple[str, ...] = ("system:authenticated",)
    uid: str = ""


@dataclass(frozen=True, slots=True)
class Call:
    """One webhook call: which, in which round, and how it ended."""

    webhook: str
    round: int
    outcome: str  # allowed, patched, denied, error: <message>, failed open: <message>


@dataclass
class Result:
    """What the client of the API server gets back, and what the stand-in saw on the way."""

    code: int
    object: dict[str, Any] | None = None
    status: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    audit: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    @property
    def message(self) -> str:
        return str((self.status or {}).get("message", ""))

    def called(self) -> list[str]:
        return [c.webhook for c in self.calls]


class _Rejected(Exception):
    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status.get("message"))
        self.status = status


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        status["details"] = details
    return status


def _internal_error(message: str) -> dict[str, Any]:
    return _status(500, "InternalError", f"Internal error occurred: {message}")


def _denied(webhook: Webhook, result: Mapping[str, Any] | None) -> dict[str, Any]:
    """k8s.io/apiserver `webhook/errors.ToStatusErr`."""
    status = dict(result or {})
    denied_by = f'admission webhook "{webhook.name}" denied the request'
    if int(status.get("code") or 0) < 400:
        status["code"] = 400
    if status.get("status") in (None, "", "Success"):
        status["status"] = "Failure"
    if status.get("message"):
        status["message"] = f"{denied_by}: {status['message']}"
    elif status.get("reason"):
        status["message"] = f"{denied_by}: {status['reason']}"
    else:
        status["message"] = f"{denied_by} without explanation"
    return status


def _same(a: object, b: object) -> bool:
    # Type-strict, as Go's semantic DeepEqual of decoded JSON (Python has True == 1).
    option = orjson.OPT_SORT_KEYS
    return orjson.dumps(a, option=option) == orjson.dumps(b, option=option)


# --- the API server -------------------------------------------------------------------------


class ApiServer:
    """Writes of custom resources through the admission chain, into an in-memory store."""

    def __init__(
        self,
        manifests: Iterable[Manifest],
        *,
        resolve: Resolve,
        namespaces: Mapping[str, Mapping[str, str]],
        resources: Sequence[schema.Resource] | None = None,
    ) -> None:
        self.webhooks = parse_configurations(manifests)
        self.transport = Transport(resolve)
        # Every namespace carries its name as a label (Kubernetes 1.21+).
        self.namespaces = {
            name: {**labels, NAMESPACE_NAME_LABEL: name} for name, labels in namespaces.items()
        }
        self.resources = list(resources if resources is not None else schema.kargo_resources())
        self.store: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._resource_versions = itertools.count(1)

    def add_webhooks(self, manifests: Iterable[Manifest]) -> None:
        self.webhooks.extend(parse_configurations(manifests))

    # The verbs --------------------------------------------------------------------------------

    def create(self, obj: Mapping[str, Any], *, user: User, dry_run: bool = False) -> Result:
        resource = self._resource_of(obj)
        result = Result(code=201)
        try:
            decoded = self._decode(resource, obj, code=400)
            namespace, name = self._key(resource, decoded)
            mutated = self._mutate(resource, "CREATE", decoded, None, user, dry_run, result)
            metadata = mutated.setdefault("metadata", {})
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata.setdefault("creationTimestamp", _now())
            metadata.setdefault("generation", 1)
            self._validate(resource, "CREATE", mutated, None, user, dry_run, result)
            # As in etcd: a name already taken is found only when storing, after admission.
            if (resource.plural, resource.group, namespace, name) in self.store:
                message = f'{resource.plural}.{resource.group} "{name}" already exists'
                raise _Rejected(_status(409, "AlreadyExists", message))
        except _Rejected as rejected:
            result.code, result.status = rejected.status["code"], rejected.status
            return result
        if not dry_run:
            mutated["metadata"]["resourceVersion"] = str(next(self._resource_versions))
            self.store[(resource.plural, resource.group, namespace, name)] = mutated
        result.object = copy.deepcopy(mutated)
        return result

    def update(self, obj: Mapping[str, Any], *, user: User, dry_run: bool = False) -> Result:
        resource = self._resource_of(obj)
        result = Result(code=200)
        try:
            decoded = self._decode(resource, obj, code=400)
            key = (resource.plural, resource.group, *self._key(resource, decoded))
            old = self.store.get(key)
            if old is None:
                raise _Rejected(
                    _status(
                        404, "NotFound", f'{resource.plural}.{resource.group} "{key[3]}" not found'
                    )
                )
            metadata = decoded.setdefault("metadata", {})
            for kept in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                metadata[kept] = old["metadata"][kept]
            # `rest.BeforeUpdate`: a client cannot set or clear the deletion fields; they are
            # the old object's, before the validating webhooks see the object.
            for kept in _DELETION_FIELDS:
                if kept in old["metadata"]:
                    metadata[kept] = old["metadata"][kept]
                else:
                    metadata.pop(kept, None)
            mutated = self._mutate(resource, "UPDATE", decoded, old, user, dry_run, result)
            self._validate(resource, "UPDATE", mutated, old, user, dry_run, result)
        except _Rejected as rejected:
            result.code, result.status = rejected.status["code"], rejected.status
            return result
        if not dry_run:
            mutated["metadata"]["resourceVersion"] = str(next(self._resource_versions))
            self.store[key] = mutated
            if _deleted_once_finalized(mutated):
                # The last finalizer of an object being deleted is gone: the object goes.
                del self.store[key]
        result.object = copy.deepcopy(mutated)
        return result

    def delete(self, obj: Mapping[str, Any], *, user: User) -> Result:
        """DELETE the stored object `obj` names: gone at once, or marked while finalizers remain.

        As the API server's graceful deletion of a custom resource: with finalizers, the object
        stays with `deletionTimestamp` set (grace period 0) until UPDATEs remove them all.
        Admission on DELETE is not modelled: a webhook that matches it raises `Unsupported`.
        """
        resource = self._resource_of(obj)
        try:
            key = (resource.plural, resource.group, *self._key(resource, obj))
            old = self.store.get(key)
            if old is None:
                message = f'{resource.plural}.{resource.group} "{key[3]}" not found'
                raise _Rejected(_status(404, "NotFound", message))
        except _Rejected as rejected:
            return Result(code=rejected.status["code"], status=rejected.status)
        for mutating in (True, False):
            for hook in self._ordered(mutating=mutating):
                if self._matched_resource(hook, resource, "DELETE", None, old) is not None:
                    raise Unsupported(f"webhook {hook.name} is called on DELETE")
        if not old["metadata"].get("finalizers"):
            del self.store[key]
            return Result(code=200, object=copy.deepcopy(old))
        metadata = old["metadata"]
        metadata.setdefault("deletionTimestamp", _now())
        metadata.setdefault("deletionGracePeriodSeconds", 0)
        metadata["resourceVersion"] = str(next(self._resource_versions))
        return Result(code=200, object=copy.deepcopy(old))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        for (_, _, ns, n), obj in self.store.items():
            if obj.get("kind") == kind and ns == namespace and n == name:
                return copy.deepcopy(obj)
        return None

    # The chain --------------------------------------------------------------------------------

    def _resource_of(self, obj: Mapping[str, Any]) -> schema.Resource:
        for resource in self.resources:
            if obj.get("apiVersion") == resource.api_version and obj.get("kind") == resource.kind:
                return resource
        raise Unsupported(f"no served resource for {obj.get('apiVersion')} {obj.get('kind')}")

    def _decode(self, resource: schema.Resource, obj: Any, *, code: int) -> dict[str, Any]:
        try:
            return schema.decode(resource, obj)
        except schema.DecodeError as exc:
            if code == 400:
                raise _Rejected(_status(400, "BadRequest", str(exc))) from None
            raise _Rejected(_internal_error(str(exc))) from None

    def _key(self, resource: schema.Resource, obj: Mapping[str, Any]) -> tuple[str, str]:
        metadata = obj.get("metadata") or {}
        name, namespace = metadata.get("name") or "", metadata.get("namespace") or ""
        if not name:
            raise _Rejected(_status(422, "Invalid", "metadata.name: Required value"))
        if resource.namespaced and namespace not in self.namespaces:
            message = f'namespaces "{namespace}" not found'
            raise _Rejected(_status(404, "NotFound", message))
        return namespace, name

    def _mutate(
        self,
        resource: schema.Resource,
        operation: Operation,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        user: User,
        dry_run: bool,
        result: Result,
    ) -> dict[str, Any]:
        hooks = self._ordered(mutating=True)
        previously_invoked: set[tuple[str, str]] = set()
        to_reinvoke: set[tuple[str, str]] = set()
        reinvoke = False
        for round_ in (0, 1):
            if round_ == 1 and not reinvoke:
                break
            for position, hook in enumerate(hooks):
                if round_ == 1 and hook.uid not in to_reinvoke:
                    continue
                gvr = self._matched_resource(hook, resource, operation, obj, old)
                if gvr is None:
                    continue
                patched = self._call_mutating(
                    hook,
                    position,
                    round_,
                    gvr,
                    resource,
                    operation,
                    obj,
                    old,
                    user,
                    dry_run,
                    result,
                )
                if patched is not None and not _same(patched, obj):
                    obj = patched
                    # Every reinvocable webhook called before this one must see the change.
                    to_reinvoke |= previously_invoked
                    previously_invoked.clear()
                    reinvoke = True
                if hook.reinvocation_policy == "IfNeeded":
                    previously_invoked.add(hook.uid)
        return obj

    def _validate(
        self,
        resource: schema.Resource,
        operation: Operation,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        user: User,
        dry_run: bool,
        result: Result,
    ) -> None:
        errors = schema.validate(resource, obj)
        if errors:
            name = (obj.get("metadata") or {}).get("name", "")
            shown = [f"{e.field}: {e.detail}" for e in errors]
            joined = shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"
            causes = [{"reason": e.reason, "message": e.detail, "field": e.field} for e in errors]
            raise _Rejected(
                _status(
                    422,
                    "Invalid",
                    f'{resource.kind}.{resource.group} "{name}" is invalid: {joined}',
                    name=name,
                    group=resource.group,
                    kind=resource.kind,
                    causes=causes,
                )
            )
        first_error: dict[str, Any] | None = None
        for position, hook in enumerate(self._ordered(mutating=False)):
            gvr = self._matched_resource(hook, resource, operation, obj, old)
            if gvr is None:
                continue
            error = self._call_validating(
                hook, position, gvr, resource, operation, obj, old, user, dry_run, result
            )
            if first_error is None:
                first_error = error
        if first_error is not None:
            raise _Rejected(first_error)

    def _ordered(self, *, mutating: bool) -> list[Webhook]:
        hooks = [h for h in self.webhooks if h.mutating == mutating]
        return sorted(hooks, key=lambda h: (h.configuration, h.index))

    def _matched_resource(
        self,
        hook: Webhook,
        resource: schema.Resource,
        operation: Operation,
        obj: Mapping[str, Any] | None,
        old: Mapping[str, Any] | None,
    ) -> schema.Resource | None:
        """The version the webhook is called with, or None when it is not called."""
        source = obj if obj is not None else old
        namespace = ((source or {}).get("metadata") or {}).get("namespace", "")
        candidates = [resource]
        if hook.match_policy == "Equivalent":
            # Another served version of the same resource (CRD conversion `None`: only the
            # apiVersion changes).
            candidates += [
                r
                for r in self.resources
                if r.group == resource.group and r.plural == resource.plural and r != resource
            ]
        matched = None
        for candidate in candidates:
            gvr = GroupVersionResource(candidate.group, candidate.version, candidate.plural)
            if any(rule.matches(gvr, "", operation, namespace) for rule in hook.rules):
                matched = candidate
                break
        if matched is None:
            return None
        if resource.namespaced and not hook.namespace_selector.matches(self.namespaces[namespace]):
            return None
        if hook.object_selector != LabelSelector() and not any(
            hook.object_selector.matches(_labels(o)) for o in (obj, old) if o is not None
        ):
            return None
        for condition in hook.match_conditions:
            expression = condition["expression"].strip()
            if expression not in ("true", "false"):
                raise Unsupported(f"matchCondition {condition['name']}: CEL {expression!r}")
            if expression == "false":
                return None
        return matched

    def _review(
        self,
        hook_resource: schema.Resource,
        resource: schema.Resource,
        operation: Operation,
        obj: Mapping[str, Any] | None,
        old: Mapping[str, Any] | None,
        user: User,
        dry_run: bool,
    ) -> tuple[str, bytes]:
        source = obj if obj is not None else old
        metadata = (source or {}).get("metadata") or {}
        uid = str(uuid.uuid4())

        def converted(o: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
            if o is None or hook_resource == resource:
                return o
            return {**o, "apiVersion": hook_resource.api_version}

        options_kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions"}.get(
            operation, "DeleteOptions"
        )
        request = {
            "uid": uid,
            "kind": _gvk(hook_resource),
            "resource": _gvr(hook_resource),
            "requestKind": _gvk(resource),
            "requestResource": _gvr(resource),
            "name": metadata.get("name", ""),
            "namespace": metadata.get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": user.username, "uid": user.uid, "groups": list(user.groups)},
            "object": converted(obj),
            "oldObject": converted(old),
            "dryRun": dry_run,
            "options": {"kind": options_kind, "apiVersion": "meta.k8s.io/v1"},
        }
        review = {"apiVersion": REVIEW_VERSION, "kind": "AdmissionReview", "request": request}
        return uid, orjson.dumps(review)

    def _call(
        self,
        hook: Webhook,
        hook_resource: schema.Resource,
        resource: schema.Resource,
        operation: Operation,
        obj: Mapping[str, Any] | None,
        old: Mapping[str, Any] | None,
        user: User,
        dry_run: bool,
    ) -> dict[str, Any]:
        """POST the review; the checked `response`, or CallError (kube's ErrCallingWebhook)."""
        if dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
            raise _Rejected(_status(400, "BadRequest", f"webhook {hook.name} has side effects"))
        uid, body = self._review(hook_resource, resource, operation, obj, old, user, dry_run)
        path = f"{hook.path}?timeout={hook.timeout_seconds}s"
        try:
            answer = self.transport.request(
                hook.endpoint, "POST", path, body=body, timeout=hook.timeout_seconds
            )
        except CallError as exc:
            raise CallError(
                f'failed to call webhook: Post "{hook.url()}?timeout='
                + f'{hook.timeout_seconds}s": {exc}'
            ) from None
        if answer.status != 200:
            raise CallError(
                f"failed to call webhook: the server responded with status {answer.status}"
            )
        try:
            review = json.loads(answer.body)
        except ValueError as exc:
            raise CallError(f"received invalid webhook response: {exc}") from None
        if not isinstance(review, dict):
            raise CallError("received invalid webhook response: not an object")
        if review.get("apiVersion") != REVIEW_VERSION or review.get("kind") != "AdmissionReview":
            raise CallError(
                f"expected webhook response of {REVIEW_VERSION}, Kind=AdmissionReview, got "
                f"{review.get('apiVersion')}, Kind={review.get('kind')}"
            )
        response = review.get("response")
        if not isinstance(response, dict):
            raise CallError("webhook response was absent")
        if response.get("uid") != uid:
            raise CallError(f"expected response.uid={uid!r}, got {response.get('uid')!r}")
        patch, patch_type = response.get("patch"), response.get("patchType")
        if patch and not hook.mutating:
            raise CallError("validating webhook may not return response.patch")
        if patch and patch_type is None:
            raise CallError("webhook returned response.patch but not response.patchType")
        if patch and patch_type != "JSONPatch":
            raise CallError(f"webhook returned invalid response.patchType of {patch_type!r}")
        return response

    def _call_mutating(
        self,
        hook: Webhook,
        position: int,
        round_: int,
        hook_resource: schema.Resource,
        resource: schema.Resource,
        operation: Operation,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        user: User,
        dry_run: bool,
        result: Result,
    ) -> dict[str, Any] | None:
        """The patched object (None when the webhook did not patch); raises `_Rejected`."""
        try:
            response = self._call(hook, hook_resource, resource, operation, obj, old, user, dry_run)
        except CallError as exc:
            self._call_failed(hook, f"round_{round_}_index_{position}", exc, result, round_)
            return None
        self._collect(hook, response, result)
        if not response.get("allowed"):
            result.calls.append(Call(hook.name, round_, "denied"))
            raise _Rejected(_denied(hook, response.get("status")))
        if not response.get("patch"):
            result.calls.append(Call(hook.name, round_, "allowed"))
            return None
        result.calls.append(Call(hook.name, round_, "patched"))
        # Any failure from here on is no call failure: the request fails whatever the policy.
        try:
            ops = json.loads(base64.b64decode(response["patch"], validate=True))
            patched = jsonpatch.JsonPatch(ops).apply(obj, in_place=False)
        except (
            binascii.Error,
            ValueError,
            TypeError,
            jsonpatch.JsonPatchException,
            jsonpointer.JsonPointerException,
        ) as exc:
            raise _Rejected(_internal_error(f"{type(exc).__name__}: {exc}")) from None
        patched = self._decode(resource, patched, code=500)
        if not _same(patched, obj):
            result.audit[f"mutation.webhook.admission.k8s.io/round_{round_}_index_{position}"] = (
                json.dumps(
                    {"configuration": hook.configuration, "webhook": hook.name, "mutated": True},
                    separators=(",", ":"),
                )
            )
        return patched

    def _call_validating(
        self,
        hook: Webhook,
        position: int,
        hook_resource: schema.Resource,
        resource: schema.Resource,
        operation: Operation,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        user: User,
        dry_run: bool,
        result: Result,
    ) -> dict[str, Any] | None:
        """The error this webhook contributes (None: allowed or failed open)."""
        try:
            response = self._call(hook, hook_resource, resource, operation, obj, old, user, dry_run)
        except CallError as exc:
            try:
                self._call_failed(hook, f"round_0_index_{position}", exc, result, 0)
            except _Rejected as rejected:
                return rejected.status
            return None
        self._collect(hook, response, result)
        if response.get("allowed"):
            result.calls.append(Call(hook.name, 0, "allowed"))
            return None
        result.calls.append(Call(hook.name, 0, "denied"))
        return _denied(hook, response.get("status"))

    def _call_failed(
        self, hook: Webhook, where: str, exc: CallError, result: Result, round_: int
    ) -> None:
        if hook.failure_policy == "Ignore":
            result.calls.append(Call(hook.name, round_, f"failed open: {exc}"))
            kind = "mutation" if hook.mutating else "validating"
            result.audit[f"failed-open.{kind}.webhook.admission.k8s.io/{where}"] = hook.name
            return
        result.calls.append(Call(hook.name, round_, f"error: {exc}"))
        raise _Rejected(_internal_error(f'failed calling webhook "{hook.name}": {exc}'))

    def _collect(self, hook: Webhook, response: Mapping[str, Any], result: Result) -> None:
        for warning in response.get("warnings") or ():
            if warning not in result.warnings:
                result.warnings.append(warning)
        for key, value in (response.get("auditAnnotations") or {}).items():
            result.audit[f"{hook.name}/{key}"] = value


_DELETION_FIELDS: Final = ("deletionTimestamp", "deletionGracePeriodSeconds")


def _deleted_once_finalized(obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata") or {}
    return metadata.get("deletionTimestamp") is not None and not metadata.get("finalizers")


def _gvk(resource: schema.Resource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind}


def _gvr(resource: schema.Resource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "resource": resource.plural}


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels if isinstance(labels, dict) else {}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
