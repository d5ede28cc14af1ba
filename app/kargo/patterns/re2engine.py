"""RE2 C++ (google-re2) as the judge of a pattern's structure: the only code that touches it.

Go's `regexp/syntax` parser was ported from RE2's, and they agree on structure: parentheses,
repetition arguments, stacked repetitions and the 1000 repeat product. goregexp.py hands RE2 a
neutral rewrite of the pattern (every atom the literal `x`) and this module turns RE2's verdict
into Go's error code and text. It reaches into `re2._re2`, the extension under the `re2` module,
to parse without compiling and without the module's cache; keeping that here makes this the one
place to change if google-re2 changes it, or if another engine replaces it.
"""

from __future__ import annotations

import re2

from app.kargo.patterns.syntax_errors import GoError
from app.kargo.patterns.syntax_errors import GoRegexpErrorCode as Code

# Go reports these with the whole expression rather than the offending piece.
_WHOLE_EXPRESSION_CODES = frozenset(
    {Code.MISSING_PAREN, Code.UNEXPECTED_PAREN, Code.NESTING_DEPTH, Code.LARGE}
)

# RE2 C++ error texts (re2/regexp.cc), mapped to Go's codes for the same condition.
_RE2_CODES: tuple[tuple[str, Code], ...] = (
    ("missing )", Code.MISSING_PAREN),
    ("unexpected )", Code.UNEXPECTED_PAREN),
    ("no argument for repetition operator", Code.MISSING_REPEAT_ARGUMENT),
    ("bad repetition operator", Code.INVALID_REPEAT_OP),
    ("invalid repetition size", Code.INVALID_REPEAT_SIZE),
    ("pattern too large", Code.LARGE),
    ("invalid escape sequence", Code.INVALID_ESCAPE),
    ("invalid character class range", Code.INVALID_CHAR_RANGE),
    ("invalid character class", Code.INVALID_CHAR_CLASS),
    ("missing ]", Code.MISSING_BRACKET),
    ("trailing \\", Code.TRAILING_BACKSLASH),
    ("invalid perl operator", Code.INVALID_PERL_OP),
    ("invalid UTF-8", Code.INVALID_UTF8),
    ("invalid named capture group", Code.INVALID_NAMED_CAPTURE),
)


def re2_parse_message(pattern: str) -> str | None:
    """Parse `pattern` with RE2 and return its error message, or None when it parses.

    Only RE2's parser is wanted (Go's size limit is emulated by the scanner), so nothing is
    compiled: `RE2::Set::Add` parses without compiling, and only when it fails is an `RE2`
    object built to get the message, which fails in the parser before any compilation. Going
    through the `re2` module's `compile` would also keep up to 128 compiled programs cached.
    `log_errors` is off so RE2 does not write every parse error to stderr.
    """
    options = re2.Options()
    options.log_errors = False
    encoded = pattern.encode("utf-8")
    parser = re2._re2.Set(re2._re2.RE2.Anchor.UNANCHORED, options)
    index: int = int(parser.Add(encoded))
    if index >= 0:
        return None
    compiled = re2._re2.RE2(encoded, options)
    ok: bool = bool(compiled.ok())
    if ok:
        return None
    raw: bytes = bytes(compiled.error())
    return raw.decode("utf-8", "replace")


def re2_structure_error(neutral: str, original: str) -> GoError | None:
    """RE2's verdict on the neutral pattern, as a Go error code and expression."""
    message = re2_parse_message(neutral)
    if message is None:
        return None
    for text, code in _RE2_CODES:
        if message.startswith(text):
            if code in _WHOLE_EXPRESSION_CODES:
                return code, original
            if code is Code.TRAILING_BACKSLASH:
                return code, ""
            rest = message[len(text) :]
            return code, rest[2:] if rest.startswith(": ") else rest
    return Code.INTERNAL_ERROR, message
