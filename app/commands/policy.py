"""The rollback-annotation rule as a ValidatingAdmissionPolicy: the guard inside the API server.

The webhook is the guard a cluster normally runs, but it holds only while it is up and registered
with `failurePolicy: Fail`. A ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1,
Kubernetes 1.30+) is evaluated by the API server itself, in CEL, so it holds while the webhook is
down, being upgraded or registered with `failurePolicy: Ignore`. It enforces the validating
answer of `app.webhooks.promotion.validate_promotion`, decision for decision:

- a user other than the configured usernames may not set `kargo.akuity.io/rollback` on CREATE
  (whatever its value), nor add, change or remove it on UPDATE;
- usernames are compared exactly with `request.userInfo.username` (`in` on a list of string
  literals: no prefixes, regexes or groups; see `app.kargo.identity` for why);
- other keys, look-alikes included, and other operations are not its business.

`tests/test_policy.py` evaluates this CEL over the same table of cases as the webhook's tests and
requires identical decisions. `build_policy` is the single source of the policy: the `policy`
command prints it, and the Helm chart's template is compared with it.

The binding has no `matchResources`: the policy's own constraints apply in every namespace. Unlike
the webhook there is nothing to exclude for self-repair, since no pod has to be reachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

import yaml

from app.commands.exit_codes import EXIT_OK, EXIT_USAGE
from app.commands.match_conditions import cel_string, cel_string_list, promotion_match_conditions
from app.config import CONTROLLER_USERNAME
from app.k8s.names import DNS1123_SUBDOMAIN_MAX_BYTES, is_dns1123_subdomain
from app.kargo.constants import DEFAULT_CONTROLLER_USERNAME, GROUP, PROMOTION_RESOURCE
from app.kargo.constants import ROLLBACK_ANNOTATION as KEY

API_VERSION: Final = "admissionregistration.k8s.io/v1"
POLICY_KIND: Final = "ValidatingAdmissionPolicy"
BINDING_KIND: Final = "ValidatingAdmissionPolicyBinding"
DEFAULT_POLICY_NAME: Final = "kargo-rollback-annotation"

# metadata.name of both objects: a DNS-1123 subdomain, as the API server requires.
_MAX_NAME_CHARS: Final = DNS1123_SUBDOMAIN_MAX_BYTES


def _check_name(name: str) -> None:
    if is_dns1123_subdomain(name):
        raise ValueError(
            f"policy name {name!r} must be a DNS-1123 subdomain (lower-case letters, digits, "
            f"'-' and '.', at most {_MAX_NAME_CHARS} characters)"
        )


def _check_usernames(usernames: Sequence[str]) -> None:
    if isinstance(usernames, str) or not usernames:
        raise ValueError("controller usernames must be a non-empty list of usernames")
    for username in usernames:
        CONTROLLER_USERNAME.parse(
            username
        )  # raises ValueError, worded as for --controller-username


def build_policy(
    usernames: Sequence[str], name: str = DEFAULT_POLICY_NAME, *, match_conditions: bool = True
) -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy and its binding, in that order, as plain dicts.

    With `match_conditions`, the policy carries the webhooks' own conditions
    (`app.commands.match_conditions`): writes that leave the annotation alone, and the
    controller's writes, skip it. Raises `ValueError` for an empty list, a username the webhook
    would refuse, or a bad name.
    """
    _check_usernames(usernames)
    _check_name(name)
    key = cel_string(KEY)
    allowed = cel_string_list(usernames)
    new_map, old_map = "object.metadata.annotations", "oldObject.metadata.annotations"

    # Each variable is total (never an evaluation error): `oldObject` is null on CREATE, so it is
    # read only behind `request.operation == 'UPDATE'`, and a value only behind `in`. The API
    # server evaluates variables lazily; the test evaluates them eagerly, which is the same for
    # total expressions.
    variables = [
        {
            "name": "isController",
            "expression": f"request.userInfo.username in {allowed}",
        },
        {
            "name": "hasNew",
            "expression": f"has({new_map}) && {key} in {new_map}",
        },
        {
            "name": "hasOld",
            "expression": f"request.operation == 'UPDATE' && has({old_map}) && {key} in {old_map}",
        },
        {
            # On UPDATE this is "the same value as before, or absent both times"; on CREATE
            # (hasOld is false) it is "absent".
            "name": "unchanged",
            "expression": (
                "variables.hasNew == variables.hasOld && "
                f"(!variables.hasNew || {new_map}[{key}] == {old_map}[{key}])"
            ),
        },
        {
            "name": "verb",
            "expression": "!variables.hasOld ? 'set' : (variables.hasNew ? 'change' : 'remove')",
        },
    ]
    # The same words as the webhook's 403 (validate_promotion); the API server prefixes
    # `ValidatingAdmissionPolicy '<name>' with binding '<binding>' denied request:`. A message
    # expression that yields a line break (a username with a newline) falls back to `message`.
    message = f"only the Kargo controller may set, change or remove annotation {KEY}"
    message_expression = (
        "'user \"' + request.userInfo.username + '\" may not ' + variables.verb + "
        f"' annotation {KEY}: only the Kargo controller may set, change or remove it'"
    )
    policy: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": POLICY_KIND,
        "metadata": {"name": name},
        "spec": {
            # Fail: an expression that cannot be evaluated denies. The guard stays closed.
            "failurePolicy": "Fail",
            "matchConstraints": {
                # Every version of promotions, now and later: the annotation lives in metadata,
                # which no conversion changes.
                "matchPolicy": "Equivalent",
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [PROMOTION_RESOURCE],
                        "scope": "Namespaced",
                    }
                ],
            },
            **(
                {"matchConditions": promotion_match_conditions(usernames)}
                if match_conditions
                else {}
            ),
            "variables": variables,
            "validations": [
                {
                    "expression": "variables.isController || variables.unchanged",
                    "message": message,
                    "messageExpression": message_expression,
                    "reason": "Forbidden",
                }
            ],
        },
    }
    binding: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": BINDING_KIND,
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    return [policy, binding]


class _Cel(str):
    """A CEL expression, printed as a literal block so its quotes need no YAML escaping."""


class _PolicyDumper(yaml.SafeDumper):
    pass


def _represent_cel(dumper: yaml.SafeDumper, data: _Cel) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


_PolicyDumper.add_representer(_Cel, _represent_cel)
_CEL_KEYS: Final = frozenset({"expression", "messageExpression"})


def _mark_cel(value: object, key: str = "") -> object:
    if isinstance(value, dict):
        return {k: _mark_cel(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_cel(v) for v in value]
    if key in _CEL_KEYS and isinstance(value, str):
        return _Cel(value)
    return value


def render_policy(usernames: Sequence[str], name: str = DEFAULT_POLICY_NAME) -> str:
    """`build_policy` as a YAML stream; CEL as literal blocks, so it reads as written."""
    return yaml.dump_all(
        [_mark_cel(doc) for doc in build_policy(usernames, name)],
        Dumper=_PolicyDumper,
        sort_keys=False,
        default_flow_style=False,
        width=10_000,
        explicit_start=True,
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `policy` command to the main CLI's subparsers."""
    command = subparsers.add_parser(
        "policy",
        help="print a ValidatingAdmissionPolicy that enforces the rollback-annotation rule",
        description=(
            "Print (YAML, stdout) a ValidatingAdmissionPolicy and its binding "
            f"({API_VERSION}, Kubernetes 1.30+) that enforce the rollback-annotation rule in the "
            "API server itself, so it holds while the webhook is down or registered with "
            "failurePolicy: Ignore. Apply it with: "
            "kargo-rollback-webhook policy | kubectl apply -f -"
        ),
    )
    command.add_argument(
        "--controller-username",
        dest="controller_usernames",
        action="append",
        default=None,
        metavar="USERNAME",
        help=(
            "username allowed to set the annotation, compared exactly with "
            f"request.userInfo.username (repeatable; default {DEFAULT_CONTROLLER_USERNAME})"
        ),
    )
    command.add_argument(
        "--name",
        default=DEFAULT_POLICY_NAME,
        help=f"name of the policy and of its binding (default {DEFAULT_POLICY_NAME})",
    )
    command.set_defaults(func=_policy_command(command.prog))


def _policy_command(prog: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        usernames = args.controller_usernames or [DEFAULT_CONTROLLER_USERNAME]
        try:
            text = render_policy(usernames, args.name)
        except ValueError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        sys.stdout.write(text)
        return EXIT_OK

    return run
