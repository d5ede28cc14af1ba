"""The `kargo-rollback-webhook` command: serve, certs, check, policy."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from app.commands import certs, check, policy
from app.commands.exit_codes import EXIT_OK, EXIT_USAGE
from app.config import OPTIONS, ConfigError, resolve

PROG = "kargo-rollback-webhook"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Admission webhook for Kargo: validates ProjectConfigs and guards the "
        "rollback annotation on Promotions.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the HTTPS admission server",
        description="Run the HTTPS admission server. Every flag can also be set with the "
        "environment variable KRW_<FLAG> (e.g. KRW_TLS_CERT_FILE); a flag wins.",
    )
    for option in OPTIONS:
        serve.add_argument(
            option.flag,
            dest=option.attr,
            action="append" if option.repeatable else "store",
            default=None,
            metavar=option.metavar,
            help=f"{option.help} (env {option.env}; default {_show_default(option.default)})",
        )
    serve.set_defaults(func=_serve)

    certs.register(commands)
    check.register(commands)
    policy.register(commands)
    return parser


def _show_default(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _serve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    settings = resolve(vars(args), os.environ if environ is None else environ)
    # Imported here so that `certs` and `check` start without loading the server stack.
    from app.server import serve  # noqa: PLC0415

    serve(settings)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
