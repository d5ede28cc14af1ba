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
3. system metadata as a cluster sets and guards it (`metadata.py`: wiped on CREATE before the
   mutating webhooks and filled after them; on UPDATE the resourceVersion precondition, 409 or
   422, then the old object's system fields and immutable-field errors); then schema
   validation (422);
4. validating webhooks. kube-apiserver calls them in parallel and returns whichever error comes
   first; this stand-in calls them in order and returns the first error in that order.

DELETE of an object with finalizers sets `deletionTimestamp` and keeps it until UPDATEs have
removed every finalizer, as graceful deletion of a custom resource does.

A call error (dial, TLS, timeout, non-200, an answer `verify.py` refuses, an undecodable
patch) goes through `failurePolicy`: `Fail` answers 500 `failed calling webhook`, `Ignore` goes
on and records kube-apiserver's `failed-open.*` audit annotation (mutating: indexed among all
mutating webhooks; validating: among those that matched). Warnings and audit annotations are
recorded as the API server records them (`recording.py`).

`matchConditions` are CEL, evaluated by `match_conditions.py` after the rules and selectors,
again in the reinvocation round. Webhook configurations are read by `configuration.py`. Reviews
are sent as `admission.k8s.io/v1`, the first of `admissionReviewVersions` this stand-in speaks.
tests/e2e/README.md says, behaviour by behaviour, what is exact, stricter or not modelled.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import jsonpatch
import jsonpointer
import orjson

from tests.e2e import deadline, match_conditions, metadata, review, schema
from tests.e2e.configuration import (
    GroupVersionResource,
    LabelSelector,
    Manifest,
    Rule,
    Webhook,
    parse_configurations,
)
from tests.e2e.errors import InvalidConfiguration, Unsupported
from tests.e2e.recording import WarningRecorder, add_annotation
from tests.e2e.review import User
from tests.e2e.status import Rejected as _Rejected
from tests.e2e.status import denied, forbidden, internal_error, invalid
from tests.e2e.status import status as _status
from tests.e2e.transport import CallError, Resolve, Transport, status_error
from tests.e2e.verify import Answer, decode_patch, verify_answer

__all__ = [
    "ApiServer",
    "Call",
    "GroupVersionResource",
    "InvalidConfiguration",
    "LabelSelector",
    "Result",
    "Rule",
    "Unsupported",
    "User",
    "Webhook",
]

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]

NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"


# --- requests and results -------------------------------------------------------------------


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
    recorder: WarningRecorder = field(default_factory=WarningRecorder, repr=False)

    def __post_init__(self) -> None:
        self.recorder.headers = self.warnings

    @property
    def message(self) -> str:
        return str((self.status or {}).get("message", ""))

    def called(self) -> list[str]:
        return [c.webhook for c in self.calls]


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

    @deadline.finish_request
    def create(
        self,
        obj: Mapping[str, Any],
        *,
        user: User,
        dry_run: bool = False,
        timeout: float | None = None,  # the client's `?timeout=`, seconds
    ) -> Result:
        resource = self._resource_of(obj)
        result = Result(code=201)
        try:
            decoded = self._decode(resource, obj, code=400)
            namespace, name = self._key(resource, decoded)
            metadata.wipe_for_create(decoded)
            mutated = self._mutate(resource, "CREATE", decoded, None, user, dry_run, result)
            metadata.fill_on_create(resource, mutated)
            self._validate(resource, "CREATE", mutated, None, user, dry_run, result, [])
            if not dry_run:  # a dry run never reaches etcd (DryRunnableStorage.Create)
                metadata.check_create_resource_version(mutated)
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

    @deadline.finish_request
    def update(
        self,
        obj: Mapping[str, Any],
        *,
        user: User,
        dry_run: bool = False,
        timeout: float | None = None,  # the client's `?timeout=`, seconds
    ) -> Result:
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
            # The mutating webhooks see the client's object; then the store's precondition
            # and `rest.BeforeUpdate`, whose errors join the schema's in one 422.
            mutated = self._mutate(resource, "UPDATE", decoded, old, user, dry_run, result)
            metadata.check_resource_version(resource, mutated, old)
            errors = metadata.before_update(resource, mutated, old)
            self._validate(resource, "UPDATE", mutated, old, user, dry_run, result, errors)
        except _Rejected as rejected:
            result.code, result.status = rejected.status["code"], rejected.status
            return result
        # An update that changes nothing is not written and keeps its resourceVersion
        # (k8s.io/apiserver `storage/etcd3/store.go`, `GuaranteedUpdate`: equal bytes, no write).
        if not dry_run and not _same(mutated, old):
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
                if self._matched_resource(hook, resource, "DELETE", None, old, user) is not None:
                    raise Unsupported(f"webhook {hook.name} is called on DELETE")
        if not old["metadata"].get("finalizers"):
            del self.store[key]
            return Result(code=200, object=copy.deepcopy(old))
        meta = old["metadata"]
        meta.setdefault("deletionTimestamp", metadata.now())
        meta.setdefault("deletionGracePeriodSeconds", 0)
        meta["resourceVersion"] = str(next(self._resource_versions))
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
            raise _Rejected(internal_error(str(exc))) from None

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
                # `ShouldCallHook` (matchConditions included) runs before the reinvocation
                # check, so a condition's error rejects in round 1 too (dispatcher.go).
                gvr = self._matched_resource(hook, resource, operation, obj, old, user, dry_run)
                if gvr is None or (round_ == 1 and hook.uid not in to_reinvoke):
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
        errors: list[schema.FieldError],
    ) -> None:
        errors = errors + schema.validate(resource, obj)
        if errors:
            name = str((obj.get("metadata") or {}).get("name", ""))
            raise _Rejected(invalid(resource.kind, resource.group, name, errors))
        first_error: dict[str, Any] | None = None
        # Every webhook is matched before any is called, so a matchCondition's error rejects
        # before the first call; the failed-open index counts the webhooks that matched
        # (validating/dispatcher.go, `Dispatch`).
        relevant = [
            (hook, gvr)
            for hook in self._ordered(mutating=False)
            if (gvr := self._matched_resource(hook, resource, operation, obj, old, user, dry_run))
            is not None
        ]
        for position, (hook, gvr) in enumerate(relevant):
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
        user: User,
        dry_run: bool = False,
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
        if hook.match_conditions:
            outcome = match_conditions.match(
                hook.match_conditions,
                obj=review.converted(matched, resource)(obj),
                old=review.converted(matched, resource)(old),
                request=review.cel_request(matched, resource, operation, obj, old, user, dry_run),
                failure_policy=hook.failure_policy,
            )
            if outcome.error:
                name = str(((obj or old or {}).get("metadata") or {}).get("name", ""))
                raise _Rejected(forbidden(resource.plural, resource.group, name, outcome.error))
            if not outcome.matches:
                return None
        return matched

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
    ) -> Answer:
        """POST the review; the verified answer, or CallError (kube's ErrCallingWebhook)."""
        if dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
            raise _Rejected(_status(400, "BadRequest", f"webhook {hook.name} has side effects"))
        uid, body = review.build(hook_resource, resource, operation, obj, old, user, dry_run)
        # `callHook`: timeoutSeconds within the request's deadline; Go's client sends it (and
        # the same body again on 429/5xx with Retry-After) and reports its own error texts.
        timeout, query = deadline.call_timeout(hook.timeout_seconds)
        path = f"{hook.path}?timeout={query}" if query else hook.path
        try:
            answer = self.transport.request(hook.endpoint, "POST", path, body=body, timeout=timeout)
        except CallError as exc:
            raise CallError(f"failed to call webhook: {exc}") from None
        if not 200 <= answer.status <= 206:  # client-go `transformResponse`
            raise CallError(f"failed to call webhook: {status_error(answer)}")
        return verify_answer(answer.body, uid=uid, mutating=hook.mutating)

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
        where = f"round_{round_}_index_{position}"
        try:
            answer = self._call(hook, hook_resource, resource, operation, obj, old, user, dry_run)
            # Recorded before the answer is judged, as callAttrMutatingHook does.
            self._collect(hook, answer, result)
            if not answer.allowed:
                result.calls.append(Call(hook.name, round_, "denied"))
                raise _Rejected(denied(hook.name, answer.status))
            ops = decode_patch(answer)
        except CallError as exc:
            self._call_failed(hook, where, exc, result, round_)
            return None
        if not ops:
            result.calls.append(Call(hook.name, round_, "allowed"))
            return None
        result.calls.append(Call(hook.name, round_, "patched"))
        # Any failure from here on is no call failure: the request fails whatever the policy.
        try:
            patched = jsonpatch.JsonPatch(ops).apply(obj, in_place=False)
        except (
            ValueError,
            TypeError,
            jsonpatch.JsonPatchException,
            jsonpointer.JsonPointerException,
        ) as exc:
            raise _Rejected(internal_error(f"{type(exc).__name__}: {exc}")) from None
        patched = self._decode(resource, patched, code=500)
        if not _same(patched, obj):
            value = json.dumps(
                {"configuration": hook.configuration, "webhook": hook.name, "mutated": True},
                separators=(",", ":"),
            )
            add_annotation(result.audit, f"mutation.webhook.admission.k8s.io/{where}", value)
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
            answer = self._call(hook, hook_resource, resource, operation, obj, old, user, dry_run)
        except CallError as exc:
            try:
                self._call_failed(hook, f"round_0_index_{position}", exc, result, 0)
            except _Rejected as rejected:
                return rejected.status
            return None
        self._collect(hook, answer, result)
        if answer.allowed:
            result.calls.append(Call(hook.name, 0, "allowed"))
            return None
        result.calls.append(Call(hook.name, 0, "denied"))
        return denied(hook.name, answer.status)

    def _call_failed(
        self, hook: Webhook, where: str, exc: CallError, result: Result, round_: int
    ) -> None:
        if hook.failure_policy == "Ignore":
            result.calls.append(Call(hook.name, round_, f"failed open: {exc}"))
            kind = "mutation" if hook.mutating else "validating"
            add_annotation(
                result.audit, f"failed-open.{kind}.webhook.admission.k8s.io/{where}", hook.name
            )
            return
        result.calls.append(Call(hook.name, round_, f"error: {exc}"))
        raise _Rejected(internal_error(f'failed calling webhook "{hook.name}": {exc}'))

    def _collect(self, hook: Webhook, answer: Answer, result: Result) -> None:
        for key, value in answer.audit_annotations.items():
            add_annotation(result.audit, f"{hook.name}/{key}", value)
        for warning in answer.warnings:
            result.recorder.add(warning)


def _deleted_once_finalized(obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata") or {}
    return metadata.get("deletionTimestamp") is not None and not metadata.get("finalizers")


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels if isinstance(labels, dict) else {}
