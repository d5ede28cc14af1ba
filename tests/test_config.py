"""Settings from flags and the environment; bad values are one line naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from app.cli import main
from app.config import DEFAULT_MAX_BODY_BYTES, OPTIONS, ConfigError, Option, Settings, resolve
from app.kargo.projectconfig import AutoRollbackSchema
from app.kargo.rollback import GuardMode
from app.tls.reloader import TLSVersion

NUMBER_FIELDS = {
    name for name, info in Settings.model_fields.items() if info.annotation in (int, float)
}


@pytest.fixture
def pem_files(tmp_path: Path) -> tuple[str, str]:
    cert = tmp_path / "tls.crt"
    key = tmp_path / "tls.key"
    cert.write_text("cert")
    key.write_text("key")
    return str(cert), str(key)


def _flags(cert: str, key: str, **extra: object) -> dict[str, object]:
    flags: dict[str, object] = {"tls_cert_file": cert, "tls_key_file": key}
    flags.update(extra)
    return flags


def test_defaults(pem_files: tuple[str, str]) -> None:
    s = resolve(_flags(*pem_files), {})
    assert s.host == "0.0.0.0"
    assert s.port == 8443
    assert s.controller_usernames == ("system:serviceaccount:kargo:kargo-controller",)
    assert s.rollback_annotation_mode == "strip"
    assert s.autorollback_schema == "any"
    assert s.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert s.log_level == "info"


def test_environment_sets_values_and_lists_are_comma_separated(
    pem_files: tuple[str, str],
) -> None:
    env = {
        "KRW_TLS_CERT_FILE": pem_files[0],
        "KRW_TLS_KEY_FILE": pem_files[1],
        "KRW_PORT": "9443",
        "KRW_CONTROLLER_USERNAME": "a:b, c:d",
        "KRW_ROLLBACK_ANNOTATION_MODE": "deny",
        "KRW_AUTOROLLBACK_SCHEMA": "seed",
    }
    s = resolve({}, env)
    assert s.port == 9443
    assert s.controller_usernames == ("a:b", "c:d")
    assert s.rollback_annotation_mode == "deny"
    assert s.autorollback_schema == "seed"


def test_a_flag_wins_over_the_environment(pem_files: tuple[str, str]) -> None:
    s = resolve(
        _flags(*pem_files, port="10443", controller_username=["x:y"]),
        {"KRW_PORT": "9443", "KRW_CONTROLLER_USERNAME": "a:b"},
    )
    assert s.port == 10443
    assert s.controller_usernames == ("x:y",)


@pytest.mark.parametrize(
    ("extra", "env", "setting", "message"),
    [
        pytest.param({"tls_cert_file": None}, {}, "tls-cert-file", "is required", id="no cert"),
        pytest.param(
            {"tls_cert_file": "/nonexistent/x.crt"},
            {},
            "tls-cert-file",
            "file not found",
            id="missing cert file",
        ),
        pytest.param(
            {"tls_key_file": "/"}, {}, "tls-key-file", "is a directory", id="key is a directory"
        ),
        pytest.param(
            {"controller_username": [""]},
            {},
            "controller-username",
            "non-empty",
            id="empty username",
        ),
        pytest.param(
            {},
            {"KRW_CONTROLLER_USERNAME": "a,,b"},
            "controller-username",
            "non-empty",
            id="empty username in the environment list",
        ),
        pytest.param(
            {"rollback_annotation_mode": "warn"},
            {},
            "rollback-annotation-mode",
            "must be one of strip, deny",
            id="unknown mode",
        ),
        pytest.param(
            {},
            {"KRW_AUTOROLLBACK_SCHEMA": "v2"},
            "autorollback-schema",
            "must be one of",
            id="unknown schema from the environment",
        ),
        pytest.param({"port": "0"}, {}, "port", "between 1 and 65535", id="port zero"),
        pytest.param({"port": "https"}, {}, "port", "whole number", id="port not a number"),
        pytest.param(
            {"max_body_bytes": "10"}, {}, "max-body-bytes", "between", id="tiny body limit"
        ),
        pytest.param({"host": "a b"}, {}, "host", "IP address or host name", id="bad host"),
    ],
)
def test_bad_values_name_the_setting(
    pem_files: tuple[str, str],
    extra: dict[str, object],
    env: dict[str, str],
    setting: str,
    message: str,
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({**_flags(*pem_files), **extra}, env)
    assert info.value.setting == setting
    line = str(info.value)
    assert "\n" not in line
    assert line.startswith(f"--{setting} (KRW_{setting.upper().replace('-', '_')}): ")
    assert message in line


def test_serve_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "--tls-cert-file", "/nonexistent.crt", "--tls-key-file", "/x.key"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--tls-cert-file (KRW_TLS_CERT_FILE): file not found" in err


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.attr_field in NUMBER_FIELDS])
def test_a_number_settings_range_is_declared_once_on_its_field(option: Option) -> None:
    """The flag's range is the field's pydantic constraint: one past either end is refused by
    both, the flag naming the setting, the typed model with pydantic's own error."""
    info = Settings.model_fields[option.attr_field]
    low = next(m.ge for m in info.metadata if hasattr(m, "ge"))
    high = next(m.le for m in info.metadata if hasattr(m, "le"))
    step = 1 if info.annotation is int else 0.01
    assert option.parse(str(low)) == low
    assert option.parse(str(high)) == high
    for outside in (low - step, high + step):
        with pytest.raises(ValueError, match="must be between"):
            option.parse(str(outside))
        with pytest.raises(ValidationError):
            Settings(
                tls_cert_file=Path("x"), tls_key_file=Path("x"), **{option.attr_field: outside}
            )


def test_choices_come_from_the_owning_literals() -> None:
    parsers = {o.attr_field: o.parse for o in OPTIONS}
    for field, literal in (
        ("rollback_annotation_mode", GuardMode),
        ("autorollback_schema", AutoRollbackSchema),
        ("tls_min_version", TLSVersion),
    ):
        for value in get_args(literal):
            assert parsers[field](value) == value
        with pytest.raises(ValueError, match="must be one of " + ", ".join(get_args(literal))):
            parsers[field]("other")
