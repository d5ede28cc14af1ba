"""Go's `regexp/syntax` errors: the codes, the error raised while scanning, and its text.

Kargo reports a bad `regex:` stage name with the text of Go's `*syntax.Error`, so the webhook
builds the same text: "error parsing regexp: <code>: `<expr>`".
"""

from __future__ import annotations

import enum


class GoRegexpErrorCode(enum.StrEnum):
    """Go's `regexp/syntax.ErrorCode` texts."""

    INTERNAL_ERROR = "regexp/syntax: internal error"
    INVALID_CHAR_CLASS = "invalid character class"
    INVALID_CHAR_RANGE = "invalid character class range"
    INVALID_ESCAPE = "invalid escape sequence"
    INVALID_NAMED_CAPTURE = "invalid named capture"
    INVALID_PERL_OP = "invalid or unsupported Perl syntax"
    INVALID_REPEAT_OP = "invalid nested repetition operator"
    INVALID_REPEAT_SIZE = "invalid repeat count"
    INVALID_UTF8 = "invalid UTF-8"
    MISSING_BRACKET = "missing closing ]"
    MISSING_PAREN = "missing closing )"
    MISSING_REPEAT_ARGUMENT = "missing argument to repetition operator"
    TRAILING_BACKSLASH = "trailing backslash at end of expression"
    UNEXPECTED_PAREN = "unexpected )"
    NESTING_DEPTH = "expression nests too deeply"
    LARGE = "expression too large"


# A Go error as the scanner and RE2 report it: the code and the piece of the pattern it quotes.
GoError = tuple[GoRegexpErrorCode, str]


class GoSyntaxError(Exception):
    """A Go `*syntax.Error` raised while scanning."""

    def __init__(self, code: GoRegexpErrorCode, expr: str) -> None:
        super().__init__(code, expr)
        self.code = code
        self.expr = expr


def format_go_error(code: GoRegexpErrorCode, expr: str) -> str:
    """The `Error()` text of Go's `*syntax.Error`, which Kargo reports as it is."""
    return f"error parsing regexp: {code}: `{expr}`"
