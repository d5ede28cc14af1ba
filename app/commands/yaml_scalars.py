"""YAML scalars as Kubernetes reads them: go-yaml v2's resolution, then sigs.k8s.io/yaml's JSON.

kubectl and Argo CD turn YAML into JSON with sigs.k8s.io/yaml, which decodes with go-yaml v2
(YAML 1.1 rules, not PyYAML's, and not YAML 1.2's) into untyped Go values and then writes them
as JSON. (Flux's kustomize-controller is different: kustomize parses with kyaml, go-yaml v3 and
YAML 1.2, where `y` or `on` stay strings; docs/check.md says so.) `check` must see the JSON the API
server will see, so a plain `stage: y` is the boolean `true` here too. The rules below are
go-yaml v2's `resolve.go` (as vendored in sigs.k8s.io/yaml's goyaml.v2), restated as facts;
`tests/commands/test_yaml_scalars.py` holds them as a table:

- A plain scalar is resolved by its first character. `yYnNtTfFoO~` may only be one of the fixed
  words (`y Y yes Yes YES true True TRUE on On ON` are true, `n N no No NO false False FALSE off
  Off OFF` false, `~ null Null NULL` and the empty scalar null); any other spelling (`yES`,
  `nULL`) is a string. `.` may be `.inf .Inf .INF .nan .NaN .NAN` or a decimal float (`.5`,
  `.5e3`). `+ - 0-9` may be `+.inf`-style infinities, an integer, or a float; anything else is
  a string (no sexagesimal `1:20`, unlike PyYAML).
- Integers follow Go's `strconv.ParseInt(s, 0, 64)` after every `_` is removed: an optional sign,
  then `0b`, `0o`, `0x` (either case) or a leading `0` for octal, else decimal. Past int64 an
  unsigned value up to 2^64-1 is still an integer; past that it is a float when it looks like
  one (decimal digits, so `0777…` too), else text: a `0x`, `0o` or `0b` integer beyond uint64
  stays a string. Released go-yaml v2 (v2.4.0, which sigs.k8s.io/yaml v1.4.0 vendors as
  goyaml.v2, and which kubectl reads with) has no big-integer fallback in `resolve`: it ends in
  `return yaml_STR_TAG, in`. (A `big.Int` branch appears only in later sigs.k8s.io/yaml.)
- Floats need `^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (so `1e3` and `1.` are
  floats, `08` and `09` too, being bad octal), and must be finite: `1e400` stays a string.
- Timestamps are recognised but, decoded into untyped values, kept as their text.
- Quoted scalars are strings, and so is a scalar with the non-specific tag `!` (`! true`):
  go-yaml v2's `resolve` returns the text for any tag outside `resolvableTag`'s list, and `!` is
  not in it. An explicit tag among `!!str !!bool !!int !!float !!null
  !!timestamp` must agree with the resolution (an `!!int` may be read as `!!float`, not the
  reverse); `!!binary` is the string of its base64 bytes; any other tag, local or global, is
  ignored and the text kept.

Then sigs.k8s.io/yaml's JSON: a mapping key becomes a string (`true`/`false`, an integer's
decimal digits, a float as Go's `FormatFloat(f, 'g', -1, 32)`, `.inf`, `-.inf`, `.nan`); a null
key, an unsigned or big integer key, and a key that is a mapping or a list are errors. A NaN or
infinite value cannot be written as JSON, so the document is refused, as kubectl refuses it. A
float is written in JSON without a fraction when it has none (`1e3` is `1000`), and the API
server reads that back as an integer, so here it is one too.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
import struct
from typing import Final

# A decoded scalar: what go-yaml v2 gives (a timestamp as its text).
GoValue = str | int | float | bool | None
JSONScalar = str | int | float | bool | None

YAML_TAG_PREFIX: Final = "tag:yaml.org,2002:"
STR_TAG: Final = YAML_TAG_PREFIX + "str"
BOOL_TAG: Final = YAML_TAG_PREFIX + "bool"
INT_TAG: Final = YAML_TAG_PREFIX + "int"
FLOAT_TAG: Final = YAML_TAG_PREFIX + "float"
NULL_TAG: Final = YAML_TAG_PREFIX + "null"
TIMESTAMP_TAG: Final = YAML_TAG_PREFIX + "timestamp"
BINARY_TAG: Final = YAML_TAG_PREFIX + "binary"
MERGE_TAG: Final = YAML_TAG_PREFIX + "merge"
SEQUENCE_TAG: Final = YAML_TAG_PREFIX + "seq"
MAPPING_TAG: Final = YAML_TAG_PREFIX + "map"
# The tag the loader gives a plain scalar that carries none: resolved here, not by PyYAML.
PLAIN_TAG: Final = "kargo-rollback-webhook:plain"
# YAML's non-specific tag, `! value`: PyYAML resolves it like an untagged plain scalar, go-yaml
# v2 keeps the text. The loader marks such scalars with it (`app.commands.manifests`).
NON_SPECIFIC_TAG: Final = "!"

_RESOLVABLE: Final = frozenset({STR_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG, NULL_TAG, TIMESTAMP_TAG})

_WORDS: Final[dict[str, JSONScalar]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_SIGN_OR_DIGIT: Final = frozenset("+-0123456789")
_WORD_ONLY: Final = frozenset("yYnNtTfFoO~")

# Go's strconv.ParseUint(s, 0, 64) syntax (the sign is split off first, as ParseInt does).
_GO_UNSIGNED: Final = re.compile(
    r"0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*", re.ASCII
)
_YAML_STYLE_FLOAT: Final = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", re.ASCII
)
_DOT_FLOAT: Final = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?", re.ASCII)  # ParseFloat from "."
_INT64: Final = range(-(2**63), 2**63)
_UINT64_MAX: Final = 2**64 - 1

# go-yaml v2's timestamp layouts: "2006-1-2T15:4:5.999999999Z07:00" (also with a lower-case t),
# "2006-1-2 15:4:5.999999999" and "2006-1-2". Go's numeric fields take one or two digits.
_TIMESTAMP: Final = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?:[Tt](?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2}):(?P<s>[0-9]{1,2})(?:\.[0-9]+)?"
    r"(?:Z|[-+][0-9]{2}:[0-9]{2}))"
    r"|(?: (?P<h2>[0-9]{1,2}):(?P<mi2>[0-9]{1,2}):(?P<s2>[0-9]{1,2})(?:\.[0-9]+)?))?",
    re.ASCII,
)


class ScalarError(ValueError):
    """A scalar that go-yaml v2 or sigs.k8s.io/yaml refuses; the whole document fails."""


def decode(tag: str, value: str) -> GoValue:
    """The Go value go-yaml v2 decodes a scalar with `tag` into (`PLAIN_TAG`: untagged plain)."""
    if tag == BINARY_TAG:
        return _binary(value)
    if tag == PLAIN_TAG:
        return _resolve_plain(value)[1]
    if tag not in _RESOLVABLE:
        return value  # unknown and non-specific tags: the text, as go-yaml v2 keeps it
    if tag == STR_TAG:
        return value
    resolved_tag, resolved = _resolve_plain(value, timestamps=tag == TIMESTAMP_TAG)
    if resolved_tag == tag:
        return resolved
    # go-yaml reads an int or int64 as a float when tagged so, not a uint64.
    if tag == FLOAT_TAG and resolved_tag == INT_TAG and isinstance(resolved, int):
        return _int64_as_float(resolved, value)
    raise ScalarError(f"cannot decode {_short(resolved_tag)} `{value}` as a {_short(tag)}")


def _int64_as_float(number: int, value: str) -> float:
    if number not in _INT64:
        raise ScalarError(f"cannot decode !!int `{value}` as a !!float")
    return float(number)


def json_value(value: GoValue) -> JSONScalar:
    """A decoded value as sigs.k8s.io/yaml writes it into JSON, and as the API server reads it
    back: an integral float is written without a fraction (`1e3` is `1000`) and read as an
    integer; a NaN or an infinity cannot be written at all."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ScalarError(f"{go_format_float32(value)} cannot be written as JSON")
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
    return value


def json_key(key: GoValue) -> str:
    """A decoded mapping key as sigs.k8s.io/yaml writes it into JSON."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        if key in _INT64:
            return str(key)
        raise ScalarError(f"unsupported map key {key}: beyond int64")
    if isinstance(key, float):
        return go_format_float32(key)
    raise ScalarError("unsupported map key null: keys must be strings")


def is_merge_key(tag: str, value: str) -> bool:
    """`<<` untagged and plain, or tagged `!` or `!!merge`: the YAML 1.1 merge key go-yaml v2
    honours (its `isMerge`: the value `<<`, and the event "plain implicit", as `!` is, or the
    merge tag)."""
    return value == "<<" and tag in (PLAIN_TAG, NON_SPECIFIC_TAG, MERGE_TAG)


def _resolve_plain(value: str, *, timestamps: bool = True) -> tuple[str, GoValue]:
    """go-yaml v2's resolution of a plain scalar: its tag and its Go value as Python's."""
    if value in _WORDS:
        word = _WORDS[value]
        if word is None:
            return NULL_TAG, None
        return (BOOL_TAG if isinstance(word, bool) else FLOAT_TAG), word
    first = value[0]
    if first == ".":
        if _DOT_FLOAT.fullmatch(value):
            number = float(value)
            if math.isfinite(number):
                return FLOAT_TAG, number
        return STR_TAG, value
    if first in _WORD_ONLY or first not in _SIGN_OR_DIGIT:
        return STR_TAG, value
    if timestamps and _is_timestamp(value):
        return TIMESTAMP_TAG, value
    plain = value.replace("_", "")
    sign, digits = (plain[0], plain[1:]) if plain[:1] in ("+", "-") else ("", plain)
    if _GO_UNSIGNED.fullmatch(digits):
        number = _parse_unsigned(digits)
        signed = -number if sign == "-" else number
        if signed in _INT64:
            return INT_TAG, signed
        if not sign and number <= _UINT64_MAX:
            return INT_TAG, number
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        number_f = float(plain)
        if math.isfinite(number_f):  # Go's ParseFloat fails on overflow
            return FLOAT_TAG, number_f
    return STR_TAG, value  # beyond uint64 and not float-like (0x, 0o, 0b): text, as in v2.4.0


def _parse_unsigned(digits: str) -> int:
    prefix = digits[:2].lower()
    if prefix == "0b":
        return int(digits[2:], 2)
    if prefix == "0o":
        return int(digits[2:], 8)
    if prefix == "0x":
        return int(digits[2:], 16)
    if digits.startswith("0"):
        return int(digits, 8)  # Go's leading-zero octal ("0" itself included)
    return int(digits)


def _is_timestamp(value: str) -> bool:
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return False
    hour = match["h"] or match["h2"]
    minute = match["mi"] or match["mi2"]
    second = match["s"] or match["s2"]
    try:
        datetime.date(int(match["y"]), int(match["mo"]), int(match["d"]))
    except ValueError:
        return False
    if hour is None:
        return True
    return int(hour) < 24 and int(minute) < 60 and int(second) < 60


def _binary(value: str) -> str:
    """`!!binary`: Go's strict standard base64 (only line breaks ignored), bytes as a string."""
    try:
        data = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        raise ScalarError("!!binary value contains invalid base64 data") from None
    return data.decode("utf-8", "replace")


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(YAML_TAG_PREFIX)


def go_format_float32(number: float) -> str:
    """Go's `strconv.FormatFloat(number, 'g', -1, 32)`: the shortest digits that read back as
    the same float32, in exponent form when the exponent is below -4 or at least 6 (`1e+06`),
    with YAML's spellings for the non-finite values, as sigs.k8s.io/yaml writes a float key."""
    if math.isnan(number):
        return ".nan"
    if math.isinf(number):
        return ".inf" if number > 0 else "-.inf"
    try:
        single: float = struct.unpack("f", struct.pack("f", number))[0]
    except OverflowError:
        single = math.copysign(math.inf, number)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"  # beyond float32: Go rounds to ±Inf
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    for precision in range(1, 10):
        text = f"{single:.{precision - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exponent_text = text.split("e")
    negative = mantissa.startswith("-")
    digits = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exponent = int(exponent_text)
    sign = "-" if negative else ""
    if exponent < -4 or exponent >= 6:
        fraction = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    point = exponent + 1  # digits before the decimal point
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"
