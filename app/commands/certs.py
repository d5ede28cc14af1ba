"""The `certs` subcommands: `certs generate` and `certs inspect`.

Output contract, so the commands compose in scripts and Makefiles:
- `generate` prints the base64 caBundle as the only line on stdout (`CA_BUNDLE=$(... certs
  generate ...)`); what was written goes to stderr.
- `inspect` exits 0 when every requested check passes, 1 when one fails, 2 when an input cannot
  be read or the command is used wrongly, so `certs inspect ... || rotate` works.
- Wrong usage is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from app.commands.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from app.tls import inspection, issuance
from app.tls.inspection import InspectionReport
from app.tls.issuance import GeneratedCerts
from app.tls.pair import CertificateError


class _OneLineUsageParser(argparse.ArgumentParser):
    """Reports wrong usage as one line, not argparse's usage block, as the contract says."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _usage_error(prog: str, message: str) -> int:
    print(f"{prog}: error: {message} (see --help)", file=sys.stderr)
    return EXIT_USAGE


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `certs` command and its subcommands to the main CLI's subparsers."""
    certs = subparsers.add_parser(
        "certs",
        help="generate and inspect the webhook's TLS certificates",
        description="Generate a CA and serving certificate, or inspect a certificate.",
    )
    certs_prog = certs.prog

    def missing_subcommand(_: argparse.Namespace) -> int:
        return _usage_error(certs_prog, "choose a subcommand: generate, inspect")

    certs.set_defaults(func=missing_subcommand)
    commands = certs.add_subparsers(
        title="subcommands", metavar="{generate,inspect}", parser_class=_OneLineUsageParser
    )

    generate = commands.add_parser(
        "generate",
        help="write ca.crt, ca.key, tls.crt, tls.key; print the caBundle",
        description=(
            "Write a CA and a serving certificate into DIR and print the base64 caBundle on"
            " stdout. A new CA is created unless --ca-cert/--ca-key name one to re-use."
        ),
    )
    generate.add_argument("--out", required=True, type=Path, metavar="DIR")
    generate.add_argument("--dns-name", action="append", default=[], metavar="NAME")
    generate.add_argument("--ip", action="append", default=[], metavar="IP")
    generate.add_argument("--service", metavar="NAME", help="adds <svc>, <svc>.<ns>, ... SANs")
    generate.add_argument("--namespace", metavar="NS")
    generate.add_argument("--days", type=int, default=365, metavar="N")
    generate.add_argument("--ca-cert", type=Path, metavar="FILE", help="re-use this CA")
    generate.add_argument("--ca-key", type=Path, metavar="FILE")
    generate.set_defaults(func=_generate_command(generate.prog))

    inspect = commands.add_parser(
        "inspect",
        help="describe a certificate and check it against a key, CA bundle and DNS name",
        description=(
            "Exit 0 when every requested check passes, 1 when one fails, 2 when an input"
            " cannot be read."
        ),
    )
    inspect.add_argument("--cert", required=True, type=Path, metavar="FILE")
    inspect.add_argument("--key", type=Path, metavar="FILE")
    inspect.add_argument("--ca-bundle", type=Path, metavar="FILE")
    inspect.add_argument("--dns-name", metavar="NAME")
    inspect.add_argument("-o", "--output", choices=["text", "json"], default="text")
    inspect.set_defaults(func=_inspect_command(inspect.prog))


def _generate_command(prog: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if (args.service is None) != (args.namespace is None):
            return _usage_error(prog, "--service and --namespace must be given together")
        if (args.ca_cert is None) != (args.ca_key is None):
            return _usage_error(prog, "--ca-cert and --ca-key must be given together")
        try:
            result = issuance.generate(
                args.out,
                dns_names=args.dns_name,
                ips=args.ip,
                service=args.service,
                namespace=args.namespace,
                days=args.days,
                ca_cert=args.ca_cert,
                ca_key=args.ca_key,
            )
        except (ValueError, CertificateError) as exc:
            return _usage_error(prog, str(exc))
        except OSError as exc:
            print(f"{prog}: error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
            return EXIT_FAILED
        print(_generate_summary(result), file=sys.stderr)
        print(result.ca_bundle)
        return EXIT_OK

    return run


def _generate_summary(result: GeneratedCerts) -> str:
    ca = result.ca_certificate
    how = "created" if result.ca_created else "re-used"
    dns, ips = inspection.subject_alternative_names(result.certificate)
    return "\n".join(
        [
            f"CA: {how} {ca.subject.rfc4514_string()}, valid until"
            f" {ca.not_valid_after_utc:%Y-%m-%d}: {result.ca_cert_file}, {result.ca_key_file}",
            f"serving certificate: valid until {result.certificate.not_valid_after_utc:%Y-%m-%d}"
            f": {result.cert_file}, {result.key_file}",
            f"  DNS names: {', '.join(dns) or 'none'}",
            f"  IP addresses: {', '.join(ips) or 'none'}",
            "caBundle (base64 of ca.crt) printed on stdout",
        ]
    )


def _inspect_command(prog: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            report = inspection.inspect(
                args.cert, key=args.key, ca_bundle=args.ca_bundle, dns_name=args.dns_name
            )
        except CertificateError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.output == "json":
            print(json.dumps(report_as_json(report), indent=2))
        else:
            print(report_as_text(report))
        return EXIT_OK if report.passed else EXIT_FAILED

    return run


def _timestamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def report_as_json(report: InspectionReport) -> dict[str, object]:
    """The report as JSON-ready data; keys are the report's field names."""
    return {
        "cert_file": str(report.cert_file),
        "subject": report.subject,
        "issuer": report.issuer,
        "serial_number": f"{report.serial_number:x}",
        "dns_names": list(report.dns_names),
        "ip_addresses": list(report.ip_addresses),
        "not_before": _timestamp(report.not_before),
        "not_after": _timestamp(report.not_after),
        "expired": report.expired,
        "key_matches": report.key_matches,
        "chains_to_ca": report.chains_to_ca,
        "valid_for_dns_name": report.valid_for_dns_name,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in report.checks],
        "failures": [c.name for c in report.failures],
        "passed": report.passed,
    }


def report_as_text(report: InspectionReport) -> str:
    rows = [
        ("certificate", str(report.cert_file)),
        ("subject", report.subject or "(empty)"),
        ("issuer", report.issuer),
        ("serial", f"{report.serial_number:x}"),
        ("DNS names", ", ".join(report.dns_names) or "none"),
        ("IP addresses", ", ".join(report.ip_addresses) or "none"),
        ("not before", _timestamp(report.not_before)),
        ("not after", _timestamp(report.not_after)),
    ]
    lines = [f"{label + ':':<14}{value}" for label, value in rows]
    lines.append("checks:")
    lines += [f"  {'ok' if c.passed else 'FAIL':<5} {c.name}: {c.detail}" for c in report.checks]
    lines.append("result: " + ("all checks passed" if report.passed else "FAILED"))
    return "\n".join(lines)
