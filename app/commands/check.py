"""The `check` command: the webhook's rules applied to manifests on disk, for CI and pre-commit.

GitOps teams want a bad ProjectConfig caught in the pull request, not when Argo CD or Flux
applies it. `check` reads YAML and JSON manifests and runs exactly the webhook's code on them:

- every ProjectConfig (`kargo.akuity.io/v1alpha1`) goes through `validate_project_config` as a
  CREATE, so the name rule applies. A manifest without `metadata.namespace` is normal in GitOps
  (kustomize or the Application sets it), so its namespace is `--namespace` when given (as
  `kubectl apply -n` would), else assumed to be its own name: the name rule cannot be checked
  and is not reported. A manifest's own namespace always wins, as it does for kubectl;
- every Promotion goes through `validate_rollback_annotation` as a CREATE by the user `--as`
  (default `kargo-rollback-webhook:check`, not the controller): a Promotion that carries the
  rollback annotation is reported, because applying it as anyone but the controller is denied;
- every Stage is read, and once all inputs are, the Stages of each Project whose ProjectConfig
  is among them are matched to its promotion policies (`app.commands.explain`);
- everything else (other kinds, other versions, documents that are not objects) is skipped and
  counted. `List` kinds are unpacked, their items numbered from 1.

Exit codes: 0 clean (warnings allowed, unless `--strict`), 1 a manifest is invalid (or a warning
with `--strict`), 2 wrong usage or an input that cannot be read (a YAML or JSON error is
reported with its file, line and column).

Reading the files (YAML as Kubernetes reads it, and hostile input) is `app.commands.manifests`;
finding a field's line is `app.commands.locations`; the report is `app.commands.report` and its
output formats (text, json, SARIF, JUnit XML, GitHub Actions commands) `app.commands.formats`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO, Final, get_args

import yaml

from app.commands.exit_codes import EXIT_USAGE
from app.commands.explain import Policies, Stage, explain
from app.commands.formats import OUTPUT_FORMATS, write_report
from app.commands.locations import at, child_node, item_node, node_at
from app.commands.manifests import STDIN, Unreadable, documents, read_input
from app.commands.report import (
    Finding,
    InputError,
    Location,
    Report,
    Severity,
)
from app.config import CONTROLLER_USERNAME
from app.k8s.field import ErrorType, FieldPath
from app.k8s.status import OMITTED_ERRORS_REASON, omitted_errors_message
from app.kargo.constants import (
    DEFAULT_CONTROLLER_USERNAME,
    GROUP,
    PROJECT_CONFIG_KIND,
    PROMOTION_KIND,
    STAGE_KIND,
    VERSION,
)
from app.kargo.identity import ControllerIdentity
from app.kargo.projectconfig import AutoRollbackSchema, validate_project_config
from app.kargo.rollback import malformed_message, validate_rollback_annotation

KARGO_API_VERSION: Final = f"{GROUP}/{VERSION}"
# Who applies the manifests, by default: anyone but the controller, which is what a GitOps tool
# or a person is. The name is not a real account; it only has to differ from the controller's.
DEFAULT_CHECK_USER: Final = "kargo-rollback-webhook:check"
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")
STDIN_NAME: Final = "<stdin>"


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """What the manifests are checked against; the defaults are the webhook's."""

    username: str = DEFAULT_CHECK_USER
    controller_usernames: tuple[str, ...] = (DEFAULT_CONTROLLER_USERNAME,)
    autorollback_schema: AutoRollbackSchema = "any"
    namespace: str | None = None
    strict: bool = False  # warnings fail the check


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


_NAMESPACE: Final = FieldPath.root("metadata").child("namespace")
_API_VERSION: Final = FieldPath.root("apiVersion")
_NAME: Final = FieldPath.root("metadata").child("name")

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
        self.report = Report(strict=options.strict)
        self.stages: list[Stage[_Manifest]] = []
        self.policies: list[Policies[_Manifest]] = []

    def check_files(self, paths: Sequence[str], *, stdin: BinaryIO) -> Report:
        for path in expand_inputs(paths, self.report.input_errors):
            self.check_bytes(path, _read_or_none(path, stdin, self.report))
        return self.finish()

    def finish(self) -> Report:
        """Explain the Stages read against the ProjectConfigs read; the run's report."""
        if self.stages:
            projects = {config.project for config in self.policies}
            if len(projects) == 1:
                # Stages that name no namespace (kustomize or the GitOps tool sets it) belong
                # to the one Project whose ProjectConfig is among the inputs.
                (only,) = projects
                self.stages = [s if s.project else replace(s, project=only) for s in self.stages]
            explanation = explain(self.policies, self.stages)
            self.report.stage_policies = explanation.rows
            for warning in explanation.warnings:
                self._add("warning", warning.ref, warning.path, warning.message, warning.reason)
        return self.report

    def check_bytes(self, path: str, data: bytes | None) -> None:
        if data is None:
            return
        shown = STDIN_NAME if path == STDIN else path
        self.report.files.append(shown)
        document = 0
        try:
            for value, node in documents(path, data):
                document += 1
                if value is not None:  # an empty document is not a manifest
                    self.check_document(value, Location(shown, document), node)
        except Unreadable as exc:
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
                items_node = child_node(obj_node, "items")
                unpacked = [
                    (
                        _typed_item(item, kind, obj.get("apiVersion")),
                        Location(where.file, where.document, (*where.items, i + 1)),
                        item_node(items_node, i),
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
        elif api_version == KARGO_API_VERSION and kind == STAGE_KIND:
            self.report.stages += 1
            self._read_stage(manifest)
        else:
            self.report.skipped += 1
            if (
                kind in (PROJECT_CONFIG_KIND, PROMOTION_KIND)
                and isinstance(api_version, str)
                and api_version.startswith(GROUP + "/")
            ):
                message = f"{api_version} {kind} not checked: check knows {KARGO_API_VERSION}"
                self._add("warning", manifest, _API_VERSION, message)

    def _check_project_config(self, manifest: _Manifest) -> None:
        checked, namespace_known = _with_namespace(manifest.obj, self.options.namespace)
        verdict = validate_project_config(
            checked, operation="CREATE", schema=self.options.autorollback_schema
        )
        for error in verdict.errors:
            if (
                not namespace_known
                and error.path == _NAMESPACE
                and error.type is ErrorType.REQUIRED
            ):
                continue  # left to kustomize or the GitOps tool; see the module docstring
            self._add("error", manifest, error.path, error.message, reason=error.type.reason)
        if verdict.errors.omitted:
            # Validation keeps the first hundred errors and counts the rest, as in an answer.
            message = omitted_errors_message(verdict.errors.omitted)
            self._add("error", manifest, FieldPath(), message, reason=OMITTED_ERRORS_REASON)
        for warning in verdict.warnings.render():
            self._add("warning", manifest, FieldPath(), warning)
        if not verdict.errors:  # an invalid ProjectConfig is reported, not explained
            spec = checked.get("spec")
            policies = spec.get("promotionPolicies") if isinstance(spec, dict) else None
            project = _name_and_namespace(checked)[1]
            if project and isinstance(policies, list):
                self.policies.append(Policies(project, policies, manifest))

    def _read_stage(self, manifest: _Manifest) -> None:
        """A Stage's Project is its namespace: its own, else `--namespace`."""
        name, namespace = _name_and_namespace(manifest.obj)
        metadata = manifest.obj.get("metadata")
        raw_labels = metadata.get("labels") if isinstance(metadata, dict) else None
        labels = (
            {k: v for k, v in raw_labels.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(raw_labels, dict)
            else {}
        )
        project = namespace or self.options.namespace or ""
        line, _ = at(node_at(manifest.node, _NAME))
        self.stages.append(Stage(project, name, labels, manifest.location.file, line, manifest))

    def _check_promotion(self, manifest: _Manifest) -> None:
        errors, warnings = validate_rollback_annotation(
            is_update=False,
            username=self.options.username,
            obj=manifest.obj,  # type: ignore[arg-type]  # a decoded mapping, as the webhook's
            old_obj=None,
            is_controller=self.is_controller,
        )
        for error in errors:
            if error.type is ErrorType.TYPE_INVALID:
                # Metadata that is not metadata: the webhook answers 400 for the whole object.
                self._add("error", manifest, FieldPath(), malformed_message(error), "BadRequest")
            else:
                self._add("error", manifest, error.path, error.message, error.type.reason)
        for warning in warnings:
            self._add("warning", manifest, FieldPath(), warning)

    def _add(
        self,
        severity: Severity,
        manifest: _Manifest,
        path: FieldPath,
        message: str,
        reason: str = "",
    ) -> None:
        name, namespace = _name_and_namespace(manifest.obj)
        node = manifest.node
        line, column = at(node_at(node, path))
        self.report.findings.append(
            Finding(
                severity=severity,
                location=manifest.location,
                kind=_str_or_empty(manifest.obj.get("kind")),
                name=name,
                namespace=namespace,
                field=str(path),
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
        return read_input(path, stdin)
    except Unreadable as exc:
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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check` command to the main CLI's subparsers."""
    command = subparsers.add_parser(
        "check",
        help="check ProjectConfig and Promotion manifests with the webhook's rules, and explain "
        "which promotion policy governs each Stage",
        description=(
            "Check ProjectConfigs and Promotions in YAML/JSON manifests with exactly the "
            "webhook's rules, before they reach a cluster; with Stages among the inputs, show "
            "the promotion policy that governs each and warn about policies that select no "
            "Stage, are shadowed, or use unanchored regexes. Other kinds are skipped. Exit 0 "
            "when clean, 1 when a manifest is invalid (or a warning with --strict), 2 on wrong "
            "usage or unreadable input."
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
        type=CONTROLLER_USERNAME.argument,
        default=DEFAULT_CHECK_USER,
        metavar="USER",
        help=f"the user Promotions are checked for (default {DEFAULT_CHECK_USER}: not the "
        "controller)",
    )
    command.add_argument(
        "--controller-username",
        dest="controller_usernames",
        type=CONTROLLER_USERNAME.argument,
        action="append",
        default=None,
        metavar="USERNAME",
        help=f"username allowed to set the rollback annotation (repeatable; default "
        f"{DEFAULT_CONTROLLER_USERNAME})",
    )
    command.add_argument(
        "--autorollback-schema",
        choices=get_args(AutoRollbackSchema),
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
        "-o",
        "--output",
        choices=OUTPUT_FORMATS,
        default="text",
        help="output format: text, json, sarif (SARIF 2.1.0), junit (JUnit XML) or github "
        "(GitHub Actions annotations); default text",
    )
    command.add_argument(
        "--strict",
        action="store_true",
        help="warnings fail the check too (exit 1)",
    )
    command.set_defaults(func=_check_command(command.prog))


def _check_command(prog: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        paths = [*args.filenames, *args.paths]
        if not paths:
            print(f"{prog}: error: name a file, a directory or - (see --help)", file=sys.stderr)
            return EXIT_USAGE
        if paths.count(STDIN) > 1:
            print(f"{prog}: error: - (stdin) may be named once", file=sys.stderr)
            return EXIT_USAGE
        options = CheckOptions(
            username=args.username,
            controller_usernames=tuple(args.controller_usernames or (DEFAULT_CONTROLLER_USERNAME,)),
            autorollback_schema=args.autorollback_schema,
            namespace=args.namespace or None,
            strict=args.strict,
        )
        report = check_paths(paths, options)
        write_report(report, args.output, out=sys.stdout, err=sys.stderr)
        return report.exit_code

    return run
