"""`glob:` stage names: doublestar v4's `ValidatePattern`, which Kargo's `pkg/pattern` calls.

Python's `fnmatch` is not doublestar: it accepts everything. This is a port of doublestar's
validate.go, checked against 1,883 verdicts of the library itself (tests/fixtures/oracle).
"""

from __future__ import annotations

# doublestar.ErrBadPattern's text, which Kargo reports as the detail for a bad glob.
GLOB_SYNTAX_ERROR = "syntax error in pattern"


def glob_error(pattern: str) -> str | None:
    """The error doublestar v4 `ValidatePattern` reports for `pattern`, or None when valid.

    Ported from doublestar's validate.go with '/' as the separator (so '\\' escapes): only a
    trailing lone '\\', an unterminated or empty '[...]' class and unbalanced '{'/'}' are errors.
    Ranges such as `[z-a]` and empty alternatives such as `{}` are not checked.
    """
    return None if _doublestar_valid(pattern) else GLOB_SYNTAX_ERROR


def _doublestar_valid(pattern: str) -> bool:
    # doublestar walks bytes; walking code points is equivalent because every character it
    # treats specially is ASCII, and skipping the first byte of an escaped multi-byte character
    # leaves only continuation bytes, which are never special.
    alt_depth = 0
    n = len(pattern)
    i = 0
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            # Skip the escaped character; a backslash with nothing after it is an error.
            if i + 1 >= n:
                return False
            i += 2
            continue
        if ch == "[":
            i += 1
            if i >= n:
                return False  # class never ends
            if pattern[i] in "^!":
                i += 1
            # An immediately closing ']' makes an empty class (doublestar does not take ']'
            # right after '[' as a literal, unlike POSIX).
            if i >= n or pattern[i] == "]":
                return False
            while i < n:
                if pattern[i] == "\\":
                    i += 1  # the escaped character cannot close the class
                elif pattern[i] == "]":
                    break
                i += 1
            else:
                return False  # class never ends
        elif ch == "{":
            alt_depth += 1
        elif ch == "}":
            if alt_depth == 0:
                return False  # '}' without a matching '{'
            alt_depth -= 1
        i += 1
    return alt_depth == 0
