"""The `check` command: the webhook's rules applied to manifests on disk, for CI and pre-commit.

GitOps teams want a bad ProjectConfig caught in the pull request, not when Argo CD or Flux
applies it. `check` reads YAML and JSON manifests and runs exactly the webhook's code on them:

- every ProjectConfig (`kargo.akuity.io/v1alpha1`) goes through `validate_project_config` as a
  CREATE, so the name rule applies. A manifest without `metadata.namespace` is normal in GitOps
  (kustomize or the Application sets it), so its namespace is `--namespace` when given (as
  `kubectl apply -n` would), else assumed to be its own name: the name rule cannot be checked
  and is not reported. A manifest's own namespace always wins, as it does for kubectl;
- every Promotion goes through `validate_promotion` as a CREATE by the user `--as` (default
  `kargo-rollback-webhook:check`, not the controller): a Promotion that carries the rollback
  annotation is reported, because applying it as anyone but the controller is denied;
- everything else (other kinds, other versions, documents that are not objects) is skipped and
  counted. `List` kinds are unpacked, their items numbered from 1.

Exit codes: 0 clean (warnings allowed), 1 a manifest is invalid, 2 wrong usage or an input that
cannot be read (a YAML or JSON error is reported with its file, line and column).

Hostile input. YAML aliases share one object, so loading a "billion laughs" document is cheap,
but anything that walks or renders it afterwards pays for every expansion; a recursive alias
never ends. A document whose aliases expand it beyond `MAX_EXPANDED_VALUES`, or that contains
itself, is refused as unreadable input. libyaml caps nesting at 1,000 levels, orjson at 1,024,
and `MAX_INPUT_BYTES` bounds what is read at all. Only the safe loader is used: no tags that
build Python objects.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final, Literal, TextIO

import orjson
import yaml

from app.admission.fieldpath import ErrorType
from app.admission.review import API_VERSION_V1, AdmissionRequest, GroupVersionKind
from app.config import OPTIONS
from app.kargo.constants import (
    DEFAULT_CONTROLLER_USERNAME,
    GROUP,
    PROJECT_CONFIG_KIND,
    PROMOTION_KIND,
    VERSION,
)
from app.webhooks.identity import ControllerIdentity
from app.webhooks.projectconfig import AutoRollbackSchema, validate_project_config
from app.webhooks.promotion import validate_promotion

EXIT_OK: Final = 0
EXIT_INVALID: Final = 1
EXIT_INPUT: Final = 2

KARGO_API_VERSION: Final = f"{GROUP}/{VERSION}"
# Who applies the manifests, by default: anyone but the controller, which is what a GitOps tool
# or a person is. The name is not a real account; it only has to differ from the controller's.
DEFAULT_CHECK_USER: Final = "kargo-rollback-webhook:check"
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")
STDIN: Final = "-"
STDIN_NAME: Final = "<stdin>"

# Kubernetes stores an object of at most 1.5 MiB (etcd's limit), a few hundred thousand values at
# most. Aliases may not make a document bigger than this when expanded: past it, the document can
# only be an attack (or could never be applied).
MAX_EXPANDED_VALUES: Final = 1_000_000
# One file or stdin: far beyond any repository of manifests, small enough to fail fast on a
# wrong path (a disk image, /dev/zero).
MAX_INPUT_BYTES: Final = 64 * 1024 * 1024

Severity = Literal["error", "warning"]
OutputFormat = Literal["text", "json"]


try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _ManifestLoader(_SafeLoader):
    """The safe loader (libyaml's when available: several times faster), decoding like the API.

    Kubernetes reads YAML with go-yaml v2 into untyped JSON (sigs.k8s.io/yaml), which keeps
    timestamp-like and `=` plain scalars as strings (`stage: 2024-01-01` is a string there, not
    a date), turns `!!binary` into the string of its bytes, and writes mapping keys that are
    numbers or booleans as strings (`1: a` is `{"1": "a"}`); a null key is an error. The result
    is always a JSON value, as the policies expect.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        return {_json_key(key, node): value for key, value in mapping.items()}


def _json_key(key: object, node: yaml.MappingNode) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it into JSON."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if math.isnan(key):
            return ".nan"
        if math.isinf(key):
            return ".inf" if key > 0 else "-.inf"
        return repr(key)
    raise yaml.constructor.ConstructorError(
        None, None, f"unsupported mapping key {key!r}: keys must be strings", node.start_mark
    )


def _binary_string(loader: _ManifestLoader, node: yaml.ScalarNode) -> str:
    data = yaml.constructor.SafeConstructor.construct_yaml_binary(loader, node)
    return data.decode("utf-8", "replace")


def _plain_string(loader: _ManifestLoader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


_ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", _plain_string)
_ManifestLoader.add_constructor("tag:yaml.org,2002:value", _plain_string)
_ManifestLoader.add_constructor("tag:yaml.org,2002:binary", _binary_string)


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """What the manifests are checked against; the defaults are the webhook's."""

    username: str = DEFAULT_CHECK_USER
    controller_usernames: tuple[str, ...] = (DEFAULT_CONTROLLER_USERNAME,)
    autorollback_schema: AutoRollbackSchema = "any"
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A manifest: its file, its 1-based document, and its item numbers inside `List` kinds."""

    file: str
    document: int
    items: tuple[int, ...] = ()

    def __str__(self) -> str:
        where = f"{self.file}:{self.document}"
        if self.items:
            where += f" (List item {'.'.join(str(i) for i in self.items)})"
        return where


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem (fails the check) or a warning (shown only), with what it is about."""

    severity: Severity
    location: Location
    kind: str
    name: str
    namespace: str
    field: str  # the field path, "" when the finding is about the whole object
    message: str
    reason: str  # the cause's reason (FieldValueInvalid, ...); "" for warnings
    line: int | None = None  # 1-based line of the field (or its nearest parent), when known
    column: int | None = None

    def __str__(self) -> str:
        parts = [str(self.location)]
        if self.severity == "warning":
            parts.append("warning")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "document": self.location.document,
            "listItems": list(self.location.items),
            "line": self.line,
            "column": self.column,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "field": self.field,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class InputError:
    """An input that cannot be read or decoded; the check exits 2."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass(slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    input_errors: list[InputError] = field(default_factory=list)
    project_configs: int = 0
    promotions: int = 0
    skipped: int = 0

    @property
    def manifests(self) -> int:
        return self.project_configs + self.promotions + self.skipped

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def exit_code(self) -> int:
        if self.input_errors:
            return EXIT_INPUT
        return EXIT_INVALID if self.problems else EXIT_OK

    def summary(self) -> str:
        text = (
            f"{_count(self.manifests, 'manifest')} checked: "
            f"{_count(self.project_configs, 'ProjectConfig')}, "
            f"{_count(self.promotions, 'Promotion')}, {self.skipped} skipped; "
            f"{_count(len(self.problems), 'problem')}, {_count(len(self.warnings), 'warning')}"
        )
        if self.input_errors:
            text += f", {_count(len(self.input_errors), 'unreadable input')}"
        return text

    def to_json(self) -> dict[str, object]:
        problems, warnings = self.problems, self.warnings
        return {
            "problems": [f.to_json() for f in problems],
            "warnings": [f.to_json() for f in warnings],
            "inputErrors": [e.to_json() for e in self.input_errors],
            "counts": {
                "manifests": self.manifests,
                "projectConfigs": self.project_configs,
                "promotions": self.promotions,
                "skipped": self.skipped,
                "problems": len(problems),
                "warnings": len(warnings),
                "inputErrors": len(self.input_errors),
            },
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class _Unreadable(Exception):
    """An input or a document in it cannot be used; becomes an `InputError`."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


# --- reading ------------------------------------------------------------------------------------


def _read(path: str, stdin: BinaryIO) -> bytes:
    try:
        if path == STDIN:
            data = stdin.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise _Unreadable(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise _Unreadable(f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB; not read")
    return data


def expand_inputs(args: Sequence[str], errors: list[InputError]) -> list[str]:
    """Files to read, in order: each FILE or `-` as given, each DIR's manifests sorted.

    Directories are walked recursively for *.yaml, *.yml and *.json, skipping hidden
    directories (.git, .venv, ...); a file named twice is read once.
    """
    files: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        key = path if path == STDIN else os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(path)

    for arg in args:
        if arg == STDIN or os.path.isfile(arg):
            add(arg)
        elif os.path.isdir(arg):
            for root, dirs, names in os.walk(arg):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.lower().endswith(MANIFEST_SUFFIXES):
                        add(os.path.join(root, name))
        elif os.path.exists(arg):
            errors.append(InputError(arg, "not a regular file or directory"))
        else:
            errors.append(InputError(arg, "no such file or directory"))
    return files


Document = tuple[object, yaml.Node | None]  # the decoded value and, for YAML, its node tree


def _documents(path: str, data: bytes) -> Iterator[Document]:
    """Decode every document: JSON for *.json (or input that starts like JSON), else YAML."""
    head = data.lstrip()[:1]
    if path.lower().endswith(".json"):
        yield _json_document(data), None
        return
    if head in (b"{", b"["):
        try:
            yield orjson.loads(data), None
        except orjson.JSONDecodeError:
            pass  # flow-style YAML, or broken: YAML says which, with its line
        else:
            return
    yield from _yaml_documents(data)


def _json_document(data: bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _Unreadable(f"JSON error: {exc.msg}", exc.lineno, exc.colno) from None


def _yaml_documents(data: bytes) -> Iterator[Document]:
    # Composing first keeps each document's nodes, so a problem can name its line.
    loader = _ManifestLoader(data)
    check_aliases = b"&" in data  # no anchor, no alias: nothing can expand
    try:
        while loader.check_node():
            node = loader.get_node()
            value = loader.construct_document(node) if node is not None else None
            if check_aliases:
                _check_expansion(value, node)
            yield value, node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            context = exc.context
            if exc.context_mark is not None and exc.context_mark is not mark:
                context += f" at line {exc.context_mark.line + 1}"
            problem = f"{problem} ({context})"
        if mark is None:
            raise _Unreadable(f"YAML error: {problem}") from None
        raise _Unreadable(f"YAML error: {problem}", mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as exc:
        raise _Unreadable(f"YAML error: {str(exc).splitlines()[0]}") from None
    except (ValueError, OverflowError, RecursionError) as exc:
        # A scalar the safe constructor cannot build (e.g. a bad !!binary), or nesting deeper
        # than Python's stack with the pure-Python loader.
        raise _Unreadable(f"YAML error: {type(exc).__name__}: {exc}") from None
    finally:
        loader.dispose()


def _check_expansion(value: object, node: yaml.Node | None) -> None:
    """Refuse a document that contains itself, or that aliases expand beyond the limit.

    The size is computed once per distinct container (memoised by identity), so measuring a
    billion laughs costs as little as loading it.
    """
    if not isinstance(value, dict | list):
        return
    sizes: dict[int, int] = {}
    open_containers: set[int] = set()  # the containers being measured: ancestors of the current
    stack: list[tuple[dict[object, object] | list[object], bool]] = [(value, False)]
    shared = False
    while stack:
        container, finished = stack.pop()
        ident = id(container)
        children = container.values() if isinstance(container, dict) else container
        if finished:
            open_containers.discard(ident)
            sizes[ident] = 1 + sum(
                sizes[id(c)] if isinstance(c, dict | list) else 1 for c in children
            )
            continue
        if ident in sizes:
            shared = True
            continue
        open_containers.add(ident)
        stack.append((container, True))
        for child in children:
            if isinstance(child, dict | list):
                if id(child) in open_containers:
                    raise _Unreadable(
                        "YAML document contains itself (a recursive alias)", *_at(node)
                    )
                stack.append((child, False))
    if shared and sizes[id(value)] > MAX_EXPANDED_VALUES:
        raise _Unreadable(
            f"YAML aliases expand this document beyond {MAX_EXPANDED_VALUES:,} values "
            "(an alias bomb?); refused",
            *_at(node),
        )


def _at(node: yaml.Node | None) -> tuple[int | None, int | None]:
    if node is None or node.start_mark is None:
        return None, None
    return node.start_mark.line + 1, node.start_mark.column + 1


# Field path segments as app.admission.fieldpath renders them: `.name`, `[0]`, `[some/key]`.
_SEGMENT: Final = re.compile(r"\.?([^.\[\]]+)|\[([^\]]*)\]")


def _node_at(node: yaml.Node | None, path: str) -> yaml.Node | None:
    """The node a field path points at, or the deepest existing parent along it."""
    current = node
    for match in _SEGMENT.finditer(path):
        name, bracketed = match.group(1), match.group(2)
        key = name if name is not None else bracketed
        child: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode):
            # The last of duplicate keys wins, as it does when the YAML is decoded.
            for key_node, value_node in reversed(current.value):
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                    child = value_node
                    break
        elif isinstance(current, yaml.SequenceNode) and bracketed is not None and key.isdigit():
            index = int(key)
            if index < len(current.value):
                child = current.value[index]
        if child is None:
            break
        current = child
    return current


def _child_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    found = _node_at(node, key)
    return found if found is not node else None


def _item_node(node: yaml.Node | None, index: int) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and index < len(node.value):
        item: yaml.Node = node.value[index]
        return item
    return None


# --- checking -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Manifest:
    """One object to check: its decoded value, where it is, and its YAML nodes (None for JSON)."""

    obj: dict[object, object]
    location: Location
    node: yaml.Node | None


class Checker:
    """Checks manifests into one `Report`; built once per run from the options."""

    def __init__(self, options: CheckOptions) -> None:
        self.options = options
        self.is_controller = ControllerIdentity.of(options.controller_usernames)
        self.report = Report()

    def check_files(self, paths: Sequence[str], *, stdin: BinaryIO) -> Report:
        for path in expand_inputs(paths, self.report.input_errors):
            self.check_bytes(path, _read_or_none(path, stdin, self.report))
        return self.report

    def check_bytes(self, path: str, data: bytes | None) -> None:
        if data is None:
            return
        shown = STDIN_NAME if path == STDIN else path
        document = 0
        try:
            for value, node in _documents(path, data):
                document += 1
                if value is not None:  # an empty document is not a manifest
                    self.check_document(value, Location(shown, document), node)
        except _Unreadable as exc:
            self.report.input_errors.append(InputError(shown, exc.message, exc.line, exc.column))

    def check_document(self, value: object, location: Location, node: yaml.Node | None) -> None:
        """Check one decoded document, unpacking `List` kinds (iteratively: no deep recursion)."""
        pending: list[tuple[object, Location, yaml.Node | None]] = [(value, location, node)]
        while pending:
            obj, where, obj_node = pending.pop()
            if not isinstance(obj, dict):
                self.report.skipped += 1
                continue
            kind, items = obj.get("kind"), obj.get("items")
            if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
                items_node = _child_node(obj_node, "items")
                unpacked = [
                    (
                        _typed_item(item, kind, obj.get("apiVersion")),
                        Location(where.file, where.document, (*where.items, i + 1)),
                        _item_node(items_node, i),
                    )
                    for i, item in enumerate(items)
                ]
                pending.extend(reversed(unpacked))
                continue
            self._check_object(_Manifest(obj, where, obj_node))

    def _check_object(self, manifest: _Manifest) -> None:
        api_version, kind = manifest.obj.get("apiVersion"), manifest.obj.get("kind")
        if api_version == KARGO_API_VERSION and kind == PROJECT_CONFIG_KIND:
            self.report.project_configs += 1
            self._check_project_config(manifest)
        elif api_version == KARGO_API_VERSION and kind == PROMOTION_KIND:
            self.report.promotions += 1
            self._check_promotion(manifest)
        else:
            self.report.skipped += 1
            if (
                kind in (PROJECT_CONFIG_KIND, PROMOTION_KIND)
                and isinstance(api_version, str)
                and api_version.startswith(GROUP + "/")
            ):
                message = f"{api_version} {kind} not checked: check knows {KARGO_API_VERSION}"
                self._add("warning", manifest, "apiVersion", message)

    def _check_project_config(self, manifest: _Manifest) -> None:
        checked, namespace_known = _with_namespace(manifest.obj, self.options.namespace)
        verdict = validate_project_config(
            checked, operation="CREATE", schema=self.options.autorollback_schema
        )
        for error in verdict.errors:
            if (
                not namespace_known
                and error.field == "metadata.namespace"
                and error.type is ErrorType.REQUIRED
            ):
                continue  # left to kustomize or the GitOps tool; see the module docstring
            self._add("error", manifest, error.field, error.message, reason=error.type.reason)
        for warning in verdict.warnings:
            self._add("warning", manifest, "", warning)

    def _check_promotion(self, manifest: _Manifest) -> None:
        name, namespace = _name_and_namespace(manifest.obj)
        request = AdmissionRequest(
            api_version=API_VERSION_V1,
            uid="kargo-rollback-webhook-check",
            kind=GroupVersionKind(GROUP, VERSION, PROMOTION_KIND),
            operation="CREATE",
            name=name,
            namespace=namespace or (self.options.namespace or ""),
            username=self.options.username,
            obj=manifest.obj,  # type: ignore[arg-type]  # a decoded mapping, as the webhook's
            old_obj=None,
            dry_run=True,
        )
        decision = validate_promotion(request, is_controller=self.is_controller)
        if not decision.allowed and decision.status is not None:
            status = decision.status
            causes = status.get("details", {}).get("causes") or [
                {"field": "", "message": status["message"], "reason": status["reason"]}
            ]
            for cause in causes:
                self._add("error", manifest, cause["field"], cause["message"], cause["reason"])
        for warning in decision.warnings:
            self._add("warning", manifest, "", warning)

    def _add(
        self,
        severity: Severity,
        manifest: _Manifest,
        field_path: str,
        message: str,
        reason: str = "",
    ) -> None:
        name, namespace = _name_and_namespace(manifest.obj)
        node = manifest.node
        line, column = _at(_node_at(node, field_path) if field_path else node)
        self.report.findings.append(
            Finding(
                severity=severity,
                location=manifest.location,
                kind=_str_or_empty(manifest.obj.get("kind")),
                name=name,
                namespace=namespace,
                field=field_path,
                message=message,
                reason=reason,
                line=line,
                column=column,
            )
        )


def _name_and_namespace(obj: dict[object, object]) -> tuple[str, str]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return "", ""
    return _str_or_empty(metadata.get("name")), _str_or_empty(metadata.get("namespace"))


def _read_or_none(path: str, stdin: BinaryIO, report: Report) -> bytes | None:
    try:
        return _read(path, stdin)
    except _Unreadable as exc:
        report.input_errors.append(InputError(STDIN_NAME if path == STDIN else path, exc.message))
        return None


def _str_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""


def _typed_item(item: object, list_kind: str, api_version: object) -> object:
    """An item of a typed list (`PromotionList`) may omit its kind: the list's kind says it."""
    if list_kind == "List" or not isinstance(item, dict) or "kind" in item:
        return item
    typed = {**item, "kind": list_kind.removesuffix("List")}
    if "apiVersion" not in item and api_version is not None:
        typed["apiVersion"] = api_version
    return typed


def _with_namespace(
    obj: dict[object, object], default_namespace: str | None
) -> tuple[dict[object, object], bool]:
    """The ProjectConfig as the API server would see it, and whether its namespace is known.

    No namespace in the manifest: `--namespace` if given, else the manifest's own name (the
    namespace is set later, by kustomize or the GitOps tool; the name rule cannot be checked).
    """
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or metadata.get("namespace") not in (None, ""):
        return obj, True
    namespace = default_namespace
    if namespace is None:
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            return obj, False
        namespace = name
    return {**obj, "metadata": {**metadata, "namespace": namespace}}, True


def check_paths(
    paths: Sequence[str], options: CheckOptions, *, stdin: BinaryIO | None = None
) -> Report:
    """Check FILEs, DIRs and `-` (stdin) with `options`; the whole run's report."""
    source = stdin if stdin is not None else sys.stdin.buffer
    return Checker(options).check_files(paths, stdin=source)


# --- the command --------------------------------------------------------------------------------

_USERNAME_OPTION: Final = next(o for o in OPTIONS if o.name == "controller-username")


def _username(raw: str) -> str:
    try:
        _USERNAME_OPTION.parse(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return raw


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check` command to the main CLI's subparsers."""
    command = subparsers.add_parser(
        "check",
        help="check ProjectConfig and Promotion manifests with the webhook's rules",
        description=(
            "Check ProjectConfigs and Promotions in YAML/JSON manifests with exactly the "
            "webhook's rules, before they reach a cluster. Other kinds are skipped. Exit 0 when "
            "clean, 1 when a manifest is invalid, 2 on wrong usage or unreadable input."
        ),
        epilog=(
            "A ProjectConfig without metadata.namespace is taken to be in --namespace, or else in "
            "the namespace of its own name. Directories are searched recursively for *.yaml, "
            "*.yml and *.json, skipping hidden directories."
        ),
    )
    command.add_argument(
        "paths", nargs="*", metavar="PATH", help="a file, a directory, or - for stdin"
    )
    command.add_argument(
        "-f",
        "--filename",
        dest="filenames",
        action="append",
        default=[],
        metavar="PATH",
        help="a file, a directory, or - for stdin (repeatable; as kubectl's -f)",
    )
    command.add_argument(
        "--as",
        dest="username",
        type=_username,
        default=DEFAULT_CHECK_USER,
        metavar="USER",
        help=f"the user Promotions are checked for (default {DEFAULT_CHECK_USER}: not the "
        "controller)",
    )
    command.add_argument(
        "--controller-username",
        dest="controller_usernames",
        type=_username,
        action="append",
        default=None,
        metavar="USERNAME",
        help=f"username allowed to set the rollback annotation (repeatable; default "
        f"{DEFAULT_CONTROLLER_USERNAME})",
    )
    command.add_argument(
        "--autorollback-schema",
        choices=("any", "seed", "upstream"),
        default="any",
        help="which autoRollback shape(s) to accept (default any)",
    )
    command.add_argument(
        "--namespace",
        "-n",
        default=None,
        metavar="NS",
        help="namespace of manifests that name none (as kubectl apply -n)",
    )
    command.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format"
    )
    command.set_defaults(func=_check_command(command.prog))


def _check_command(prog: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        paths = [*args.filenames, *args.paths]
        if not paths:
            print(f"{prog}: error: name a file, a directory or - (see --help)", file=sys.stderr)
            return EXIT_INPUT
        if paths.count(STDIN) > 1:
            print(f"{prog}: error: - (stdin) may be named once", file=sys.stderr)
            return EXIT_INPUT
        options = CheckOptions(
            username=args.username,
            controller_usernames=tuple(args.controller_usernames or (DEFAULT_CONTROLLER_USERNAME,)),
            autorollback_schema=args.autorollback_schema,
            namespace=args.namespace or None,
        )
        report = check_paths(paths, options)
        write_report(report, args.output, out=sys.stdout, err=sys.stderr)
        return report.exit_code

    return run


def write_report(report: Report, output: OutputFormat, *, out: TextIO, err: TextIO) -> None:
    """Text: a line per finding, then the summary. JSON: one object. Input errors go to `err`
    in both formats, so a CI log shows them."""
    for error in report.input_errors:
        err.write(f"{error}\n")
    if output == "json":
        out.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    out.write("".join(f"{finding}\n" for finding in report.findings) + report.summary() + "\n")
