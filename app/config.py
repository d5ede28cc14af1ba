"""Settings: built once at start-up from flags and the environment, then passed in, never global.

Every flag `--some-name` can also be set with the variable `KRW_SOME_NAME` (lists
comma-separated); a flag wins over the environment. A bad value stops the server with one line
that names the setting, before anything listens.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from app.kargo.constants import DEFAULT_CONTROLLER_USERNAME
from app.webhooks.projectconfig import AutoRollbackSchema

RollbackAnnotationMode = Literal["strip", "deny"]
LogLevel = Literal["debug", "info", "warning", "error"]
TlsMinVersion = Literal["1.2", "1.3"]

ENV_PREFIX: Final = "KRW_"

# The API server caps a request body at 3 MiB and etcd an object at 1.5 MiB; a review carries
# the object and the old object plus the envelope. controller-runtime settled on 7 MiB for the
# same reasons (pkg/webhook/admission/http.go); larger bodies are refused with 413.
DEFAULT_MAX_BODY_BYTES: Final = 7 * 1024 * 1024


class ConfigError(Exception):
    """A setting has a bad value; `str()` is the one line printed at start-up."""

    def __init__(self, setting: str, message: str) -> None:
        flag = "--" + setting
        env = ENV_PREFIX + setting.upper().replace("-", "_")
        super().__init__(f"{flag} ({env}): {message}")
        self.setting = setting


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server is configured with; see the README's configuration table."""

    tls_cert_file: Path
    tls_key_file: Path
    host: str = "0.0.0.0"  # noqa: S104 - a webhook serves the API server from outside the pod
    port: int = 8443
    controller_usernames: tuple[str, ...] = (DEFAULT_CONTROLLER_USERNAME,)
    rollback_annotation_mode: RollbackAnnotationMode = "strip"
    autorollback_schema: AutoRollbackSchema = "any"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: LogLevel = "info"
    tls_min_version: TlsMinVersion = "1.2"
    client_ca_file: Path | None = None
    cert_reload_interval: float = 5.0
    drain_seconds: float = 5.0
    shutdown_timeout: float = 10.0
    keep_alive_timeout: float = 120.0
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024
    max_concurrency: int = 256


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its flag name, how to parse it, and its default."""

    name: str
    help: str
    parse: Callable[[str], object]
    default: object = None
    repeatable: bool = False
    required: bool = False
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper().replace("-", "_")

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {raw!r}")
        return raw

    return parse


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number; got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}; got {value}")
        return value

    return parse


def _seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number of seconds; got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g} seconds; got {value:g}")
        return value

    return parse


def _host(raw: str) -> str:
    if not raw:
        raise ValueError("must not be empty")
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        labels = raw.split(".")
        if not all(label and label.replace("-", "").isalnum() for label in labels):
            raise ValueError(f"must be an IP address or host name; got {raw!r}") from None
    return raw


def _readable_file(raw: str) -> Path:
    if not raw:
        raise ValueError("must not be empty")
    path = Path(raw)
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        raise ValueError(f"file not found: {raw}") from None
    except IsADirectoryError:
        raise ValueError(f"is a directory, not a file: {raw}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {raw}: {exc.strerror}") from None
    return path


def _username(raw: str) -> str:
    if not raw or raw != raw.strip():
        raise ValueError(f"usernames must be non-empty with no surrounding spaces; got {raw!r}")
    return raw


OPTIONS: Final[tuple[Option, ...]] = (
    Option("host", "address to listen on", _host, "0.0.0.0"),  # noqa: S104
    Option("port", "HTTPS port", _int_range(1, 65535), 8443),
    Option("tls-cert-file", "serving certificate (PEM)", _readable_file, required=True),
    Option(
        "tls-key-file", "serving certificate's private key (PEM)", _readable_file, required=True
    ),
    Option(
        "controller-username",
        "username allowed to set the rollback annotation (repeatable)",
        _username,
        (DEFAULT_CONTROLLER_USERNAME,),
        repeatable=True,
    ),
    Option(
        "rollback-annotation-mode",
        "strip: the mutating webhook strips/restores; deny: only deny",
        _choice("strip", "deny"),
        "strip",
    ),
    Option(
        "autorollback-schema",
        "which autoRollback shape(s) to accept",
        _choice("any", "seed", "upstream"),
        "any",
    ),
    Option(
        "max-body-bytes",
        "largest AdmissionReview body accepted",
        _int_range(1024, 64 * 1024 * 1024),
        DEFAULT_MAX_BODY_BYTES,
    ),
    Option("log-level", "log level", _choice("debug", "info", "warning", "error"), "info"),
    Option("tls-min-version", "minimum TLS version", _choice("1.2", "1.3"), "1.2"),
    Option("client-ca-file", "CA bundle to verify client certificates", _readable_file, None),
    Option(
        "cert-reload-interval",
        "seconds between certificate file checks",
        _seconds(0.1, 3600),
        5.0,
    ),
    Option(
        "drain-seconds",
        "seconds to keep serving after SIGTERM while /readyz fails",
        _seconds(0, 600),
        5.0,
    ),
    Option(
        "shutdown-timeout",
        "seconds to finish in-flight requests after the drain",
        _seconds(0, 600),
        10.0,
    ),
    Option(
        "keep-alive-timeout",
        "seconds an idle keep-alive connection stays open",
        _seconds(1, 3600),
        120.0,
    ),
    Option(
        "header-timeout",
        "seconds a client has to send the request headers",
        _seconds(0.1, 300),
        10.0,
    ),
    Option("body-timeout", "seconds a client has to send the body", _seconds(0.1, 300), 10.0),
    Option(
        "max-header-bytes",
        "largest request head accepted",
        _int_range(1024, 1024 * 1024),
        64 * 1024,
    ),
    Option(
        "max-concurrency",
        "requests handled at once; more get a fast 503",
        _int_range(1, 100_000),
        256,
    ),
)


def resolve(flags: Mapping[str, object], environ: Mapping[str, str]) -> Settings:
    """Build Settings: a flag (already a raw string or list of strings) wins over `KRW_*`."""
    values: dict[str, object] = {}
    for option in OPTIONS:
        raw = flags.get(option.attr)
        source: Sequence[str] | str | None
        if raw is not None:
            source = raw if isinstance(raw, list | str) else str(raw)
        elif option.env in environ:
            env_value = environ[option.env]
            source = [p.strip() for p in env_value.split(",")] if option.repeatable else env_value
        else:
            source = None

        if source is None:
            if option.required:
                raise ConfigError(option.name, "is required")
            values[option.attr] = option.default
            continue
        try:
            if option.repeatable:
                items = [source] if isinstance(source, str) else list(source)
                parsed = tuple(option.parse(item) for item in items)
                if not parsed:
                    raise ValueError("must name at least one value")
                values[option.attr] = parsed
            else:
                if not isinstance(source, str):
                    source = source[-1]
                values[option.attr] = option.parse(source)
        except ValueError as exc:
            raise ConfigError(option.name, str(exc)) from None

    usernames = values.pop("controller_username")
    values["controller_usernames"] = usernames
    return Settings(**values)  # type: ignore[arg-type]
