from __future__ import annotations

import argparse
import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.commands import certs as certs_command
from app.tls import issuance


def run(*argv: str) -> int:
    """Parse and dispatch the way the main CLI does, with the `certs` command registered."""
    parser = argparse.ArgumentParser(prog="kargo-rollback-webhook")
    subparsers = parser.add_subparsers(dest="command", required=True)
    certs_command.register(subparsers)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def run_exit_code(*argv: str) -> int:
    """Like `run`, for usage errors argparse reports by exiting."""
    try:
        return run(*argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else -1


@pytest.fixture
def certs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "certs"
    code = run(
        "certs",
        "generate",
        "--out",
        str(out),
        "--dns-name",
        "localhost",
        "--ip",
        "127.0.0.1",
        "--service",
        "rollback-webhook",
        "--namespace",
        "kargo",
    )
    assert code == 0
    capsys.readouterr()
    return out


def test_generate_prints_only_the_ca_bundle_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "certs"

    code = run("certs", "generate", "--out", str(out), "--service", "wh", "--namespace", "kargo")

    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.count("\n") == 1
    assert base64.b64decode(captured.out.strip()) == (out / "ca.crt").read_bytes()
    assert "wh.kargo.svc" in captured.err
    assert "created" in captured.err


def test_generate_reuses_the_ca_given_by_flags(
    certs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle_before = base64.b64encode((certs / "ca.crt").read_bytes()).decode()

    code = run(
        "certs",
        "generate",
        "--out",
        str(certs),
        "--dns-name",
        "localhost",
        "--ca-cert",
        str(certs / "ca.crt"),
        "--ca-key",
        str(certs / "ca.key"),
    )

    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.strip() == bundle_before
    assert "re-used" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(("certs", "generate"), "--out", id="generate without --out"),
        pytest.param(
            ("certs", "generate", "--out", "x", "--service", "wh"),
            "--service and --namespace",
            id="service without namespace",
        ),
        pytest.param(
            ("certs", "generate", "--out", "x", "--dns-name", "a", "--ca-cert", "ca.crt"),
            "--ca-cert and --ca-key",
            id="ca cert without key",
        ),
        pytest.param(
            ("certs", "generate", "--out", "x", "--dns-name", "bad_name"),
            "invalid DNS name",
            id="invalid dns name",
        ),
        pytest.param(
            ("certs", "generate", "--out", "x", "--dns-name", "a", "--days", "many"),
            "invalid int value",
            id="days not a number",
        ),
        pytest.param(("certs",), "choose a subcommand", id="no subcommand"),
        pytest.param(("certs", "inspect"), "--cert", id="inspect without --cert"),
        pytest.param(
            ("certs", "inspect", "--cert", "x", "-o", "yaml"), "invalid choice", id="bad output"
        ),
    ],
)
def test_wrong_usage_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)

    code = run_exit_code(*argv)

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert message in captured.err
    assert not (tmp_path / "x").exists()


def test_inspect_exits_0_when_all_checks_pass(
    certs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        "certs",
        "inspect",
        "--cert",
        str(certs / "tls.crt"),
        "--key",
        str(certs / "tls.key"),
        "--ca-bundle",
        str(certs / "ca.crt"),
        "--dns-name",
        "rollback-webhook.kargo.svc",
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "result: all checks passed" in out
    assert "FAIL" not in out


@pytest.mark.parametrize(
    ("extra", "failed_check"),
    [
        pytest.param(("--dns-name", "other.kargo.svc"), "dns name", id="wrong san"),
        pytest.param(("--key", "{other}/tls.key"), "key", id="key from another pair"),
        pytest.param(("--ca-bundle", "{other}/ca.crt"), "chain", id="another ca"),
    ],
)
def test_inspect_exits_1_when_a_check_fails(
    certs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, str],
    failed_check: str,
) -> None:
    other = tmp_path / "other"
    issuance.generate(other, dns_names=["localhost"], ips=[], service=None, namespace=None)

    code = run(
        "certs",
        "inspect",
        "--cert",
        str(certs / "tls.crt"),
        extra[0],
        extra[1].format(other=other),
        "-o",
        "json",
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["failures"] == [failed_check]
    assert report["passed"] is False


def test_inspect_exits_1_for_an_expired_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuance.generate(
        tmp_path,
        dns_names=["localhost"],
        ips=[],
        service=None,
        namespace=None,
        days=1,
        now=datetime(2020, 1, 1, tzinfo=UTC),
    )

    code = run("certs", "inspect", "--cert", str(tmp_path / "tls.crt"))

    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  validity: certificate expired at 2020-01-02" in out


@pytest.mark.parametrize(
    "which",
    ["--cert", "--key", "--ca-bundle"],
)
def test_inspect_exits_2_when_an_input_cannot_be_read(
    certs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    missing = tmp_path / "missing.pem"
    argv = {"--cert": str(certs / "tls.crt")}
    argv[which] = str(missing)

    code = run("certs", "inspect", *[part for item in argv.items() for part in item])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert str(missing) in captured.err


def test_inspect_json_output(certs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        "certs",
        "inspect",
        "--cert",
        str(certs / "tls.crt"),
        "--dns-name",
        "localhost",
        "-o",
        "json",
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["dns_names"][0] == "localhost"
    assert report["ip_addresses"] == ["127.0.0.1"]
    assert report["valid_for_dns_name"] is True
    assert report["key_matches"] is None
    assert report["expired"] is False
    assert report["not_after"].endswith("Z")
    assert [check["name"] for check in report["checks"]] == [
        "validity",
        "subjectAltName",
        "dns name",
    ]
