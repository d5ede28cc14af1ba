"""Settings: built once at start-up from flags and the environment, then passed in, never global.

Each setting is declared once, as a field of the pydantic model `Settings`: its type, its default,
and an `Option` with its help text and parser. A setting with a fixed set of values takes them from
the `Literal` of the layer that owns the concept (`get_args`), never from a second list. The command
line (`cli.py`), the environment variables and the table of docs/reference.md are all derived from
those declarations (`OPTIONS`); a command that takes one of the same flags shares its `Option`
(`CONTROLLER_USERNAME`). Every flag `--some-name` can also be set with the variable `KRW_SOME_NAME`
(lists comma-separated); a flag wins over the environment. A bad value stops the server with one
line that names the setting, before anything listens.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from app.k8s.names import is_dns1123_label
from app.kargo.constants import DEFAULT_CONTROLLER_USERNAME
from app.kargo.projectconfig import AutoRollbackSchema
from app.kargo.rollback import GuardMode
from app.tls.reloader import TLSVersion

# The logging set-up's levels: a setting of the server alone, so declared with it.
LogLevel = Literal["debug", "info", "warning", "error"]

ENV_PREFIX: Final = "KRW_"

# etcd stores an object of at most 1.5 MiB (its default --max-request-bytes; custom resources are
# stored as JSON, the encoding of a review), and an UPDATE's review carries the object and the
# old object plus the envelope: 3.5 MiB holds every review of a write that etcd can accept.
# Larger bodies are refused with 413. Not controller-runtime's 7 MiB, because of memory: decoded,
# a body of tiny JSON values (`[{},{},...]`) takes up to 32 bytes per byte, so 3.5 MiB keeps the
# worst review under 190 MiB of resident memory (the chart's limit is 256 MiB).
DEFAULT_MAX_BODY_BYTES: Final = 3584 * 1024
# Sized to the chart's 256Mi memory limit (the server itself takes about 75 MiB). Bodies still
# arriving cost their raw bytes: 16 MiB holds four reviews of the largest size arriving at once.
DEFAULT_MAX_BODY_BYTES_IN_FLIGHT: Final = 16 * 1024 * 1024
# Bodies being decided cost far more than their bytes: decoded, a body of tiny JSON values takes
# up to about 30 bytes per byte. 5 MiB of them stay under about 150 MiB beside the server's
# 75 MiB: one review of the largest size and 1.5 MiB of others at once; a request alone is always
# decided, whatever its size.
DEFAULT_MAX_DECISION_BYTES: Final = 5 * 1024 * 1024
# An idle TLS connection costs about 50 kB: 1,024 of them about 50 MiB. An API server holds one
# connection per call in flight and keeps some idle; 256 from one address leave room for the
# busiest, while one client alone can take only a quarter of the server.
DEFAULT_MAX_CONNECTIONS: Final = 1024
DEFAULT_MAX_CONNECTIONS_PER_CLIENT: Final = 256


class ConfigError(Exception):
    """A setting has a bad value; `str()` is the one line printed at start-up."""

    def __init__(self, setting: str, message: str) -> None:
        flag = "--" + setting
        env = ENV_PREFIX + setting.upper().replace("-", "_")
        super().__init__(f"{flag} ({env}): {message}")
        self.setting = setting


def _choice(literal: object) -> Callable[[object], str]:
    """The parser of a setting whose values are the members of `literal`, in its order."""
    choices: tuple[str, ...] = get_args(literal)

    def parse(raw: object) -> str:
        if not isinstance(raw, str) or raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {raw!r}")
        return raw

    return parse


def _from_field(raw: object) -> object:
    """An `Option`'s parser until `OPTIONS` derives it from its field's type and range."""
    raise NotImplementedError


def _bounds(info: FieldInfo) -> tuple[float, float]:
    """The field's range, as its pydantic constraints (`Field(ge=..., le=...)`) declare it."""
    low = next(m.ge for m in info.metadata if hasattr(m, "ge"))
    high = next(m.le for m in info.metadata if hasattr(m, "le"))
    return low, high


def _int_range(low: int, high: int) -> Callable[[object], int]:
    """The parser of a whole number within its field's range: a typed value or text."""

    def parse(raw: object) -> int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        else:
            try:
                value = int(str(raw))
            except ValueError:
                raise ValueError(f"must be a whole number; got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}; got {value}")
        return value

    return parse


def _seconds(low: float, high: float) -> Callable[[object], float]:
    """The parser of a number of seconds within its field's range: a typed value or text."""

    def parse(raw: object) -> float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        else:
            try:
                value = float(str(raw))
            except ValueError:
                raise ValueError(f"must be a number of seconds; got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g} seconds; got {value:g}")
        return value

    return parse


def _derived_parser(info: FieldInfo) -> Callable[[object], object]:
    """The parser of a number setting, from its type and its pydantic range: the range is
    declared once, on the field, and the message a user gets names it."""
    low, high = _bounds(info)
    if info.annotation is int:
        return _int_range(int(low), int(high))
    if info.annotation is float:
        return _seconds(low, high)
    raise TypeError(f"no parser derived for a setting of type {info.annotation}")


def _host(raw: object) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError("must not be empty")
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        # A host name: DNS labels, compared case-insensitively as DNS does.
        labels = raw.lower().split(".")
        if any(is_dns1123_label(label) for label in labels):
            raise ValueError(f"must be an IP address or host name; got {raw!r}") from None
    return raw


def _readable_file(raw: object) -> Path:
    if not isinstance(raw, str | Path) or not str(raw):
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


def _username(raw: object) -> str:
    if not isinstance(raw, str) or not raw or raw != raw.strip():
        raise ValueError(f"usernames must be non-empty with no surrounding spaces; got {raw!r}")
    return raw


@dataclass(frozen=True, slots=True)
class Option:
    """One setting as the command line and the environment see it.

    Declared on its `Settings` field with its help text and parser, and with how its flag
    differs from its field (`--controller-username`, repeatable, fills `controller_usernames`);
    `OPTIONS` completes each from its field (name, default, whether required).
    """

    help: str
    # Derived from the field for a number (its type and its `Field(ge=..., le=...)` range).
    parse: Callable[[object], object] = _from_field
    flag_name: str | None = None
    repeatable: bool = False
    # From the field, filled in by `_options`:
    attr_field: str = ""
    default: object = None
    required: bool = False

    @property
    def name(self) -> str:
        return self.flag_name or self.attr_field.replace("_", "-")

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper().replace("-", "_")

    @property
    def attr(self) -> str:
        """The key of this setting in the parsed flags (argparse's `dest`)."""
        return self.name.replace("-", "_")

    @property
    def metavar(self) -> str:
        """The value's name in `--help`: the flag's last word (`--tls-cert-file FILE`)."""
        return self.name.split("-")[-1].upper()

    def argument(self, raw: str) -> str:
        """An argparse `type` for a command sharing this flag: the value checked as the server
        checks it, returned as typed; a bad one is argparse's usage error, worded the same."""
        try:
            self.parse(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return raw


class Settings(BaseModel):
    """Everything the server is configured with; see the configuration table in docs/reference.md.

    `resolve` parses what a user typed with each field's `Option`; code (tests, benchmarks) may
    build one directly from typed values, which pydantic checks against the field types.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # All interfaces: the API server calls the pod from outside it.
    host: Annotated[str, Option("address to listen on", _host)] = "0.0.0.0"  # noqa: S104
    port: Annotated[
        int,
        Field(ge=1, le=65535),
        Option("HTTPS port"),
    ] = 8443
    tls_cert_file: Annotated[Path, Option("serving certificate (PEM)", _readable_file)]
    tls_key_file: Annotated[Path, Option("serving certificate's private key (PEM)", _readable_file)]
    controller_usernames: Annotated[
        tuple[str, ...],
        Option(
            "username allowed to set the rollback annotation (repeatable)",
            _username,
            flag_name="controller-username",
            repeatable=True,
        ),
    ] = (DEFAULT_CONTROLLER_USERNAME,)
    rollback_annotation_mode: Annotated[
        GuardMode,
        Option(
            "strip: the mutating webhook strips/restores; deny: only deny",
            _choice(GuardMode),
        ),
    ] = "strip"
    autorollback_schema: Annotated[
        AutoRollbackSchema,
        Option("which autoRollback shape(s) to accept", _choice(AutoRollbackSchema)),
    ] = "any"
    max_body_bytes: Annotated[
        int,
        Field(ge=1024, le=64 * 1024 * 1024),
        Option("largest AdmissionReview body accepted"),
    ] = DEFAULT_MAX_BODY_BYTES
    log_level: Annotated[LogLevel, Option("log level", _choice(LogLevel))] = "info"
    tls_min_version: Annotated[TLSVersion, Option("minimum TLS version", _choice(TLSVersion))] = (
        "1.2"
    )
    client_ca_file: Annotated[
        Path | None, Option("CA bundle to verify client certificates", _readable_file)
    ] = None
    cert_reload_interval: Annotated[
        float,
        Field(ge=0.1, le=3600),
        Option("seconds between certificate file checks"),
    ] = 5.0
    drain_seconds: Annotated[
        float,
        Field(ge=0, le=600),
        Option("seconds to keep serving after SIGTERM while /readyz fails"),
    ] = 5.0
    shutdown_timeout: Annotated[
        float,
        Field(ge=0, le=600),
        Option("seconds to finish in-flight requests after the drain"),
    ] = 10.0
    keep_alive_timeout: Annotated[
        float,
        Field(ge=1, le=3600),
        Option("seconds an idle keep-alive connection stays open"),
    ] = 120.0
    header_timeout: Annotated[
        float,
        Field(ge=0.1, le=300),
        Option("seconds a client has to send the request headers"),
    ] = 10.0
    body_timeout: Annotated[
        float,
        Field(ge=0.1, le=300),
        Option("seconds a client has to send the body"),
    ] = 10.0
    handshake_timeout: Annotated[
        float,
        Field(ge=0.1, le=60),
        Option("seconds a client has to finish the TLS handshake"),
    ] = 5.0
    write_timeout: Annotated[
        float,
        Field(ge=0.1, le=300),
        Option("seconds an answer may wait for a client that does not read it"),
    ] = 10.0
    max_header_bytes: Annotated[
        int,
        Field(ge=1024, le=1024 * 1024),
        Option("largest request head accepted"),
    ] = 64 * 1024
    max_concurrency: Annotated[
        int,
        Field(ge=1, le=100_000),
        Option("requests decided at once (counted from a complete body); more get a 429 denial"),
    ] = 256
    max_body_bytes_in_flight: Annotated[
        int,
        Field(ge=64 * 1024, le=4 * 1024 * 1024 * 1024),
        Option("body bytes still arriving; past this the oldest arriving body is dropped"),
    ] = DEFAULT_MAX_BODY_BYTES_IN_FLIGHT
    max_decision_bytes: Annotated[
        int,
        Field(ge=64 * 1024, le=4 * 1024 * 1024 * 1024),
        Option("body bytes of requests decided at once (one request always may); more get a 429"),
    ] = DEFAULT_MAX_DECISION_BYTES
    max_connections: Annotated[
        int,
        Field(ge=1, le=1_000_000),
        Option("open connections; past this an idle or slow one is closed"),
    ] = DEFAULT_MAX_CONNECTIONS
    max_connections_per_client: Annotated[
        int,
        Field(ge=1, le=1_000_000),
        Option("open connections from one address; past this one of its own is closed"),
    ] = DEFAULT_MAX_CONNECTIONS_PER_CLIENT


def _options() -> tuple[Option, ...]:
    options = []
    for field_name, info in Settings.model_fields.items():
        (declared,) = [m for m in info.metadata if isinstance(m, Option)]
        options.append(
            replace(
                declared,
                parse=_derived_parser(info) if declared.parse is _from_field else declared.parse,
                attr_field=field_name,
                default=None if info.is_required() else info.default,
                required=info.is_required(),
            )
        )
    return tuple(options)


OPTIONS: Final[tuple[Option, ...]] = _options()
# The option `check` and `policy` share with `serve`: who the controller is.
CONTROLLER_USERNAME: Final = next(o for o in OPTIONS if o.attr_field == "controller_usernames")


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
            continue
        try:
            if option.repeatable:
                items = [source] if isinstance(source, str) else list(source)
                if not items:
                    raise ValueError("must name at least one value")
                values[option.attr_field] = tuple(option.parse(item) for item in items)
            else:
                values[option.attr_field] = option.parse(
                    source if isinstance(source, str) else source[-1]
                )
        except ValueError as exc:
            raise ConfigError(option.name, str(exc)) from None
    return Settings.model_validate(values)
