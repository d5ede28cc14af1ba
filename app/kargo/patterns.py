"""Stage name selectors: exact names, `glob:` (doublestar) and `regex:`/`regexp:` (Go RE2).

Kargo's ProjectConfig webhook treats a `stageSelector.name` containing ':' as a pattern and rejects
it when `pkg/pattern.ParseNamePattern` fails: `glob:` goes through
`github.com/bmatcuk/doublestar/v4.ValidatePattern`, `regex:`/`regexp:` through Go's
`regexp.Compile`. To reject exactly what Kargo rejects, with Kargo's message, this module ports
doublestar's validator and reproduces Go's `regexp/syntax` parser:

* The lexical layer (escapes, character classes, `\\Q...\\E`, group openers, flags, repeat
  counts, `\\p{...}` names) is a port of Go's parse.go, because that is where Go and RE2 C++
  differ: Go rejects `\\C`, non-ASCII capture names and `x{99999999999}`, accepts `\\p{greek}`,
  `\\p{Letter}` and `\\p{ASCII}`, and words some errors differently (`(?<=x)` is an "invalid
  named capture").
* The structural layer (parentheses, repetition arguments, nested repetition, the 1000 repeat
  product) is left to google-re2's parser (RE2 C++, which Go's parser was ported from), fed a
  neutral rewrite of the pattern in which every atom is the literal `x`. Nothing is compiled.
* Go's parse-time limits that RE2 lacks, nesting depth ("expression nests too deeply") and
  program size ("expression too large"), are estimated alongside the lexer.

Errors read exactly like Go's `*syntax.Error`: "error parsing regexp: <code>: `<expr>`".

Known differences from Go, all beyond any realistic stage selector: Go's budget of 32M runes
across character classes (only reachable with tens of thousands of `\\pL`) is not applied; a
`{0}` repetition exempts its operand from Go's repeat product but not from RE2's, so
`((a{1000}){0}){2}` is rejected; depth and size are estimated from below, so a pattern right at
Go's limits may pass here. Unicode names follow Go 1.25+ tables at Unicode 15.1.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

import re2

from app.admission.fieldpath import FieldError, FieldPath, go_quote, invalid

# doublestar.ErrBadPattern's text, which Kargo reports as the detail for a bad glob.
GLOB_SYNTAX_ERROR = "syntax error in pattern"

_GLOB_PREFIX_ID = "glob"
_REGEX_IDS = frozenset({"regex", "regexp"})

# Patterns repeat across requests (every update of a ProjectConfig re-sends all of them), so
# regex results are memoised. Only patterns up to this length are cached, so that a few huge
# patterns cannot pin megabytes each in the cache.
_CACHE_SIZE = 4096
_CACHE_MAX_PATTERN_CHARS = 4096


def is_pattern(name: str) -> bool:
    """Whether Kargo treats `name` as a pattern (it contains ':') rather than an exact name."""
    return ":" in name


def validate_name_selector(path: FieldPath, name: str) -> list[FieldError]:
    """Validate `stageSelector.name`; `path` is the path of that field."""
    # An empty name places no constraint; a name without ':' is an exact Stage name, which Kargo
    # does not check here either.
    if not name or not is_pattern(name):
        return []
    identifier, pattern = name.split(":", 1)
    if identifier == _GLOB_PREFIX_ID:
        detail = glob_error(pattern)
    elif identifier in _REGEX_IDS:
        detail = regex_error(pattern)
    else:
        detail = (
            f"invalid pattern identifier {go_quote(identifier)}: "
            'must be "regex", "regexp" or "glob"'
        )
    return [] if detail is None else [invalid(path, name, detail)]


# --------------------------------------------------------------------------------------------
# glob: doublestar v4 ValidatePattern
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# regex: Go regexp.Compile
# --------------------------------------------------------------------------------------------


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


_Code = GoRegexpErrorCode

# Go reports these with the whole expression rather than the offending piece.
_WHOLE_EXPRESSION_CODES = frozenset(
    {_Code.MISSING_PAREN, _Code.UNEXPECTED_PAREN, _Code.NESTING_DEPTH, _Code.LARGE}
)


def regex_error(pattern: str) -> str | None:
    """The error Go's `regexp.Compile(pattern)` returns, as its `Error()` text, or None."""
    if len(pattern) <= _CACHE_MAX_PATTERN_CHARS:
        return _regex_error_cached(pattern)
    return _regex_error(pattern)


def _format(code: GoRegexpErrorCode, expr: str) -> str:
    return f"error parsing regexp: {code}: `{expr}`"


def _regex_error(pattern: str) -> str | None:
    # Kargo receives the object through Go's JSON decoder, which replaces unpaired UTF-16
    # surrogates with U+FFFD; a Python str can still hold them, so do the same.
    if _has_surrogates(pattern):
        pattern = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in pattern)
    scan = _Scanner(pattern).scan()
    if scan.error is None:
        found = _re2_structure_error(scan.neutral, pattern)
        return None if found is None else _format(*found)
    # The scanner stopped at the first error only it can see. RE2 sees the structural errors;
    # any in the part before the scanner's error came first in Go's left-to-right parse. Open
    # groups are closed so that RE2 does not report the cut-off as a missing ')'.
    earlier = _re2_structure_error(scan.neutral + ")" * scan.open_groups, pattern)
    return _format(*(earlier if earlier is not None else scan.error))


_regex_error_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(_regex_error)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# ---- RE2 -----------------------------------------------------------------------------------

# RE2 C++ error texts (re2/regexp.cc), mapped to Go's codes for the same condition.
_RE2_CODES: tuple[tuple[str, GoRegexpErrorCode], ...] = (
    ("missing )", _Code.MISSING_PAREN),
    ("unexpected )", _Code.UNEXPECTED_PAREN),
    ("no argument for repetition operator", _Code.MISSING_REPEAT_ARGUMENT),
    ("bad repetition operator", _Code.INVALID_REPEAT_OP),
    ("invalid repetition size", _Code.INVALID_REPEAT_SIZE),
    ("pattern too large", _Code.LARGE),
    ("invalid escape sequence", _Code.INVALID_ESCAPE),
    ("invalid character class range", _Code.INVALID_CHAR_RANGE),
    ("invalid character class", _Code.INVALID_CHAR_CLASS),
    ("missing ]", _Code.MISSING_BRACKET),
    ("trailing \\", _Code.TRAILING_BACKSLASH),
    ("invalid perl operator", _Code.INVALID_PERL_OP),
    ("invalid UTF-8", _Code.INVALID_UTF8),
    ("invalid named capture group", _Code.INVALID_NAMED_CAPTURE),
)


def _re2_parse_message(pattern: str) -> str | None:
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


def _re2_structure_error(neutral: str, original: str) -> tuple[GoRegexpErrorCode, str] | None:
    """RE2's verdict on the neutral pattern, as a Go error code and expression."""
    message = _re2_parse_message(neutral)
    if message is None:
        return None
    for text, code in _RE2_CODES:
        if message.startswith(text):
            if code in _WHOLE_EXPRESSION_CODES:
                return code, original
            if code is _Code.TRAILING_BACKSLASH:
                return code, ""
            rest = message[len(text) :]
            return code, rest[2:] if rest.startswith(": ") else rest
    return _Code.INTERNAL_ERROR, message


# ---- Go regexp/syntax lexical layer ----------------------------------------------------------


class _SyntaxError(Exception):
    """A Go `*syntax.Error` raised while scanning."""

    def __init__(self, code: GoRegexpErrorCode, expr: str) -> None:
        super().__init__(code, expr)
        self.code = code
        self.expr = expr


@dataclass(frozen=True, slots=True)
class _ScanResult:
    """The neutral rewrite of the pattern, up to the first error the scanner found (if any)."""

    neutral: str
    open_groups: int
    error: tuple[GoRegexpErrorCode, str] | None


_MAX_RUNE = 0x10FFFF
_MAX_REPEAT = 1000  # regexp/syntax maxRepeat
_MAX_HEIGHT = 1000  # regexp/syntax maxHeight
_REPEAT_INT_OVERFLOW = 100_000_000  # parseInt gives up (returns -1) at 1e8

_PERL_CLASS_LETTERS = frozenset("dDsSwW")
_EMPTY_WIDTH_ESCAPES = frozenset("AbBz")
_C_ESCAPES = {"a": 0x07, "f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
_POSIX_CLASSES = frozenset(
    f"[:{neg}{name}:]"
    for neg in ("", "^")
    for name in (
        "alnum",
        "alpha",
        "ascii",
        "blank",
        "cntrl",
        "digit",
        "graph",
        "lower",
        "print",
        "punct",
        "space",
        "upper",
        "word",
        "xdigit",
    )
)
# Special characters of the top-level syntax; anything else is a literal. (Python's `re` only
# finds the next one quickly; it plays no part in judging the pattern.)
_TOP_LEVEL_SPECIALS = frozenset("\\[](){}|*+?.^$")
_NEXT_SPECIAL = re.compile(r"[\\\[\](){}|*+?.^$]")


def _isalnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _unhex(ch: str) -> int:
    if "0" <= ch <= "9":
        return ord(ch) - 0x30
    if "a" <= ch <= "f":
        return ord(ch) - 0x61 + 10
    if "A" <= ch <= "F":
        return ord(ch) - 0x41 + 10
    return -1


@dataclass(slots=True)
class _GroupOutput:
    """What `_Scanner` knows about an open group's piece of the neutral pattern."""

    start: int
    capturing: bool
    alternation: bool = False
    first_is_operand: bool | None = None


class _Scanner:
    """Go's `regexp/syntax.parse` with the Perl flags `regexp.Compile` uses, lexical part.

    Walks the pattern as Go does, raising Go's error for anything wrong within a token, and
    writes the neutral pattern handed to RE2: every atom (literal, escape, class, `.`) becomes
    `x`, every group opener becomes a plain `(` (inert non-capturing groups are dropped), a
    flags-only group becomes `(?s)`, and anchors, `|`, `)` and repetition operators are copied.
    RE2 then judges the structure as it would the original, and its error texts for
    repetitions quote only operator text, which is unchanged.
    """

    def __init__(self, pattern: str) -> None:
        self.s = pattern
        self.n = len(pattern)
        self.out: list[str] = []
        # Per open group: where its '(' is in `out`, whether it is non-capturing, whether it
        # holds a top-level '|', and whether its first piece is an operand (None: none yet).
        self.groups: list[_GroupOutput] = []
        self.open_groups = 0
        # Go's lastRepeat: whether the previous token was a repetition operator. Go reports a
        # stacked operator (`a**`) before applying it, so the depth tracker must not apply it.
        self.after_repeat = False
        self.depth = _DepthTracker(pattern)
        self._posix_end = (len(pattern) + 1, -1)

    def scan(self) -> _ScanResult:
        try:
            self._parse()
        except _SyntaxError as err:
            return _ScanResult("".join(self.out), self.open_groups, (err.code, err.expr))
        return _ScanResult("".join(self.out), self.open_groups, None)

    def _parse(self) -> None:
        s, n, depth = self.s, self.n, self.depth
        i = 0
        while i < n:
            ch = s[i]
            after_repeat, self.after_repeat = self.after_repeat, False
            if ch not in _TOP_LEVEL_SPECIALS:
                # A run of plain characters: each is its own literal in Go, and only the last
                # can take a following repetition operator.
                found = _NEXT_SPECIAL.search(s, i + 1)
                j = n if found is None else found.start()
                depth.literals(s[i:j])
                self._emit("x" * (j - i))
                i = j
            elif ch == "(":
                if i + 1 < n and s[i + 1] == "?":
                    i = self._parse_perl_flags(i)
                else:
                    depth.open_group(capture=True, fold=depth.fold)
                    self._open_group(capturing=True)
                    i += 1
            elif ch == "|":
                depth.vertical_bar()
                if self.groups:
                    self.groups[-1].alternation = True
                self._emit("|", operand=False)
                i += 1
            elif ch == ")":
                depth.close_group()
                self._close_group(i)
                i += 1
            elif ch in "^$":
                depth.push(_Node(_EMPTY_WIDTH))
                self._emit(ch)
                i += 1
            elif ch == ".":
                depth.push(_Node(_CLASS, lead=_WILDCARD))
                self._emit("x")
                i += 1
            elif ch == "[":
                i = self._parse_class(i)
                depth.class_literal()
                self._emit("x")
            elif ch in "*+?":
                j = i + 1
                if j < n and s[j] == "?":
                    j += 1  # non-greedy
                lo, hi = {"*": (0, -1), "+": (1, -1), "?": (0, 1)}[ch]
                if not after_repeat:  # else an error, which RE2 reports
                    depth.repeat(lo, hi, counted=False)
                self._emit_operator(s[i:j])
                self.after_repeat = True
                i = j
            elif ch == "{":
                i = self._parse_brace(i, after_repeat=after_repeat)
            elif ch == "\\":
                i = self._parse_backslash(i)
            else:  # ']' and '}' on their own are literals
                depth.literals(ch)
                self._emit("x")
                i += 1
        depth.finish()

    # -- repetition ---------------------------------------------------------------------------

    def _parse_brace(self, i: int, *, after_repeat: bool) -> int:
        """A `{` at `i`: a counted repetition if it parses as one, else a literal '{'."""
        s = self.s
        parsed = self._parse_repeat(i)
        if parsed is None:
            self.depth.literals("{")
            self._emit("x")
            return i + 1
        lo, hi, end = parsed
        if lo < 0 or lo > _MAX_REPEAT or hi > _MAX_REPEAT or (hi >= 0 and lo > hi):
            # Checked before the operand or operator nesting, as Go does.
            raise _SyntaxError(_Code.INVALID_REPEAT_SIZE, s[i:end])
        j = end + 1 if end < self.n and s[end] == "?" else end
        if not after_repeat:  # else an error, which RE2 reports
            self.depth.repeat(lo, hi, counted=True)
        self._emit_operator(s[i:j])
        self.after_repeat = True
        return j

    # -- output -------------------------------------------------------------------------------

    def _emit(self, piece: str, *, operand: bool = True) -> None:
        """Append a piece of the neutral pattern; `operand` says whether it can take a
        repetition operator, which decides whether its group can be dropped."""
        if self.groups and self.groups[-1].first_is_operand is None:
            self.groups[-1].first_is_operand = operand
        self.out.append(piece)

    def _emit_operator(self, text: str) -> None:
        """Copy a repetition operator into the neutral pattern.

        Right after a group's '(' a '?' would turn into RE2's `(?` syntax; an empty `\\Q\\E`
        between them pushes nothing, so RE2 still finds the operator without an argument.
        """
        if self.out and self.out[-1] == "(" and text.startswith("?"):
            self.out.append("\\Q\\E")
        self._emit(text, operand=False)

    def _open_group(self, *, capturing: bool) -> None:
        self._emit("(")
        self.groups.append(_GroupOutput(len(self.out) - 1, capturing=capturing))
        self.open_groups += 1

    def _close_group(self, i: int) -> None:
        """Emit the ')' at `i`, dropping the group from the neutral pattern when it is inert.

        A non-capturing group without '|' that starts with an operand and takes no repetition
        operator changes nothing RE2 checks, and Go flattens it away; dropping it keeps RE2,
        whose parser is quadratic in nesting depth, from seeing the deep nesting Go allows.
        """
        if not self.groups:
            self.out.append(")")  # unexpected: RE2 reports it
            return
        group = self.groups.pop()
        self.open_groups -= 1
        # Flag groups and empty quotes push nothing, so an operator after them still applies
        # to this group: `(?:a{9})(?i){1000}` repeats the whole group.
        j = self._skip_pushing_nothing(i + 1)
        followed_by_operator = j < self.n and (
            self.s[j] in "*+?" or (self.s[j] == "{" and self._parse_repeat(j) is not None)
        )
        if (
            not group.capturing
            and not group.alternation
            and group.first_is_operand
            and not followed_by_operator
        ):
            self.out[group.start] = ""
            return
        self.out.append(")")

    def _skip_pushing_nothing(self, j: int) -> int:
        """Skip the well-formed flag groups (`(?i)`, `(?-s)`, `(?)`) and empty `\\Q\\E` at `j`."""
        s, n = self.s, self.n
        while True:
            if s.startswith("\\Q\\E", j):
                j += 4
                continue
            if not s.startswith("(?", j):
                return j
            k = j + 2
            while k < n and s[k] in "imsU":
                k += 1
            if k < n and s[k] == "-":
                k += 1
                flags_from = k
                while k < n and s[k] in "imsU":
                    k += 1
                if k == flags_from:
                    return j  # `(?-)` and `(?i-)` are errors, reported when scanned
            if k >= n or s[k] != ")":
                return j
            j = k + 1

    def _parse_repeat(self, i: int) -> tuple[int, int, int] | None:
        """Go's parseRepeat: `{min}`, `{min,}` or `{min,max}` at `i` -> (min, max, end) or None.

        max is -1 for `{min,}`; min is -1 when a number is too big to parse.
        """
        s, n = self.s, self.n
        j = i + 1
        parsed = self._parse_int(j)
        if parsed is None:
            return None
        lo, j = parsed
        if j >= n:
            return None
        if s[j] != ",":
            hi = lo
        else:
            j += 1
            if j >= n:
                return None
            if s[j] == "}":
                hi = -1
            else:
                parsed = self._parse_int(j)
                if parsed is None:
                    return None
                hi, j = parsed
                if hi < 0:
                    lo = -1
        if j >= n or s[j] != "}":
            return None
        return lo, hi, j + 1

    def _parse_int(self, i: int) -> tuple[int, int] | None:
        """Go's parseInt: decimal digits without a leading zero; -1 once the value reaches 1e8
        with digits still to come (Go's overflow guard)."""
        s, n = self.s, self.n
        if i >= n or not ("0" <= s[i] <= "9"):
            return None
        if i + 1 < n and s[i] == "0" and "0" <= s[i + 1] <= "9":
            return None
        j = i
        while j < n and "0" <= s[j] <= "9":
            j += 1
        value = 0
        for digit in s[i:j]:
            if value >= _REPEAT_INT_OVERFLOW:
                value = -1
                break
            value = value * 10 + ord(digit) - 0x30
        return value, j

    # -- groups and flags ---------------------------------------------------------------------

    def _parse_perl_flags(self, i: int) -> int:
        """Go's parsePerlFlags for `(?` at `i`: a named group, a flag group or an error."""
        s, n = self.s, self.n
        rest = n - i
        starts_with_p = rest > 4 and s[i + 2] == "P" and s[i + 3] == "<"
        starts_with_name = rest > 3 and s[i + 2] == "<"
        if starts_with_p or starts_with_name:
            # Also how Go reads a lookbehind `(?<=...)`: as a named group that never ends.
            name_start = i + (4 if starts_with_p else 3)
            end = s.find(">", i)
            if end < 0:
                raise _SyntaxError(_Code.INVALID_NAMED_CAPTURE, s[i:])
            name = s[name_start:end]
            if not name or not all(c == "_" or _isalnum(c) for c in name):
                # Go allows only [A-Za-z0-9_]; RE2 C++ also allows Unicode word characters.
                raise _SyntaxError(_Code.INVALID_NAMED_CAPTURE, s[i : end + 1])
            self.depth.open_group(capture=True, fold=self.depth.fold)
            self._open_group(capturing=True)
            return end + 1

        fold = self.depth.fold
        sign = 1
        saw_flag = False
        j = i + 2
        while j < n:
            c = s[j]
            j += 1
            if c in "imsU":
                if c == "i":
                    fold = sign > 0
                saw_flag = True
            elif c == "-":
                if sign < 0:
                    break
                sign = -1
                saw_flag = False
            elif c in ":)":
                if sign < 0 and not saw_flag:
                    break
                if c == ":":
                    self.depth.open_group(capture=False, fold=fold)
                    # A plain '(' for RE2 too: it judges the structure the same way.
                    self._open_group(capturing=False)
                else:
                    self.depth.fold = fold
                    # Pushes nothing but, like Go, ends any run of repetition operators.
                    self._emit("(?s)", operand=False)
                return j
            else:
                break
        raise _SyntaxError(_Code.INVALID_PERL_OP, s[i:j])

    # -- escapes ------------------------------------------------------------------------------

    def _parse_backslash(self, i: int) -> int:
        """A top-level `\\` at `i`."""
        s, n, depth = self.s, self.n, self.depth
        if i + 1 < n:
            c = s[i + 1]
            if c in _EMPTY_WIDTH_ESCAPES:
                depth.push(_Node(_EMPTY_WIDTH))
                self._emit(s[i : i + 2])
                return i + 2
            if c == "C":
                # Any byte: RE2 C++ supports it, Go does not.
                raise _SyntaxError(_Code.INVALID_ESCAPE, s[i : i + 2])
            if c == "Q":
                end = s.find("\\E", i + 2)
                literal = s[i + 2 :] if end < 0 else s[i + 2 : end]
                if literal:
                    depth.literals(literal)
                    self._emit("x" * len(literal))
                else:
                    # Pushes nothing, but ends a run of repetition operators, in RE2 as in Go.
                    self._emit("\\Q\\E", operand=False)
                return n if end < 0 else end + 2
            if c in "pP":
                j = self._parse_unicode_class(i)
                depth.class_literal()
                self._emit("x")
                return j
            if c in _PERL_CLASS_LETTERS:
                depth.class_literal()
                self._emit("x")
                return i + 2
        rune, j = self._parse_escape(i)
        depth.literals(chr(rune) if rune <= _MAX_RUNE and not 0xD800 <= rune <= 0xDFFF else "x")
        self._emit("x")
        return j

    def _parse_escape(self, i: int) -> tuple[int, int]:
        """Go's parseEscape for `\\` at `i` -> (rune, end)."""
        s, n = self.s, self.n
        j = i + 1
        if j >= n:
            raise _SyntaxError(_Code.TRAILING_BACKSLASH, "")
        c = s[j]
        j += 1
        if c.isascii() and not _isalnum(c):
            return ord(c), j  # escaped punctuation is itself
        if "1" <= c <= "7" and (j >= n or not "0" <= s[j] <= "7"):
            # A single non-zero digit is a backreference, which Go does not support.
            raise _SyntaxError(_Code.INVALID_ESCAPE, s[i:j])
        if "0" <= c <= "7":
            rune = ord(c) - 0x30
            for _ in range(2):
                if j >= n or not "0" <= s[j] <= "7":
                    break
                rune = rune * 8 + ord(s[j]) - 0x30
                j += 1
            return rune, j
        if c == "x":
            return self._parse_hex_escape(i, j)
        if c in _C_ESCAPES:
            return _C_ESCAPES[c], j
        raise _SyntaxError(_Code.INVALID_ESCAPE, s[i:j])

    def _parse_hex_escape(self, i: int, j: int) -> tuple[int, int]:
        """`\\xHH` or `\\x{H...}`; `j` is just past the 'x'."""
        s, n = self.s, self.n
        if j >= n:
            raise _SyntaxError(_Code.INVALID_ESCAPE, s[i:j])
        c = s[j]
        j += 1
        if c == "{":
            digits = 0
            rune = 0
            while True:
                if j >= n:
                    raise _SyntaxError(_Code.INVALID_ESCAPE, s[i:j])
                c = s[j]
                j += 1
                if c == "}":
                    break
                value = _unhex(c)
                if value < 0:
                    raise _SyntaxError(_Code.INVALID_ESCAPE, s[i:j])
                rune = rune * 16 + value
                if rune > _MAX_RUNE:
                    raise _SyntaxError(_Code.INVALID_ESCAPE, s[i:j])
                digits += 1
            if digits == 0:
                raise _SyntaxError(_Code.INVALID_ESCAPE, s[i:j])
            return rune, j
        high = _unhex(c)
        # Go reads a second rune even past the end (getting U+FFFD, consuming nothing).
        low = -1
        if j < n:
            low = _unhex(s[j])
            j += 1
        if high < 0 or low < 0:
            raise _SyntaxError(_Code.INVALID_ESCAPE, s[i:j])
        return high * 16 + low, j

    def _parse_unicode_class(self, i: int) -> int:
        """Go's parseUnicodeClass for `\\p`/`\\P` at `i`; returns the end of the class."""
        s, n = self.s, self.n
        j = i + 2
        if j >= n:
            seq, name = s[i:j], ""
        elif s[j] != "{":
            seq, name = s[i : j + 1], s[j]
            j += 1
        else:
            end = s.find("}", i)
            if end < 0:
                raise _SyntaxError(_Code.INVALID_CHAR_RANGE, s[i:])
            seq, name = s[i : end + 1], s[i + 3 : end]
            j = end + 1
        if name.startswith("^"):
            name = name[1:]
        if not _is_go_unicode_class(name):
            raise _SyntaxError(_Code.INVALID_CHAR_RANGE, seq)
        return j

    # -- character classes --------------------------------------------------------------------

    def _parse_class(self, i: int) -> int:
        """Go's parseClass for `[` at `i`; returns the index just past the closing ']'."""
        s, n = self.s, self.n
        j = i + 1
        if j < n and s[j] == "^":
            j += 1
        first = True  # ']' right after '[' or '[^' is a literal
        while j >= n or s[j] != "]" or first:
            first = False
            if n - j > 2 and s[j] == "[" and s[j + 1] == ":":
                end = self._find_posix_end(j + 2)
                if end >= 0:
                    name = s[j : end + 2]
                    if name not in _POSIX_CLASSES:
                        raise _SyntaxError(_Code.INVALID_CHAR_RANGE, name)
                    j = end + 2
                    continue
            if j + 1 < n and s[j] == "\\":
                if s[j + 1] in "pP":
                    j = self._parse_unicode_class(j)
                    continue
                if s[j + 1] in _PERL_CLASS_LETTERS:
                    j += 2
                    continue
            start = j
            lo, j = self._parse_class_char(j, i)
            if n - j >= 2 and s[j] == "-" and s[j + 1] != "]":
                hi, j = self._parse_class_char(j + 1, i)
                if hi < lo:
                    raise _SyntaxError(_Code.INVALID_CHAR_RANGE, s[start:j])
        return j + 1

    def _find_posix_end(self, start: int) -> int:
        """`s.find(":]", start)`, remembering the last answer: a pattern full of "[:" with no
        ":]" would otherwise be searched to its end once per "[:"."""
        searched_from, found = self._posix_end
        if searched_from <= start and (found < 0 or found >= start):
            return found
        found = self.s.find(":]", start)
        self._posix_end = (start, found)
        return found

    def _parse_class_char(self, j: int, class_start: int) -> tuple[int, int]:
        if j >= self.n:
            # Go quotes from the '[' to the end of the pattern.
            raise _SyntaxError(_Code.MISSING_BRACKET, self.s[class_start:])
        if self.s[j] == "\\":
            # Only single-character escapes here: `[\C]`, `[\Q]`, `[\b]` and `[a-\d]` are
            # invalid escapes in Go (and in RE2).
            return self._parse_escape(j)
        return ord(self.s[j]), j + 1


# ---- Unicode class names (Go 1.25+) ----------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# unicode.Categories (with LC and Cn, added in Go 1.25), unicode.CategoryAliases and
# unicode.Scripts at Unicode 15.1, the tables of the Go release Kargo builds with.
_GO_CATEGORIES = _words(
    """
    C Cc Cf Cn Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So
    Z Zl Zp Zs
    """
)
_GO_CATEGORY_ALIASES = _words(
    """
    Other Control cntrl Format Unassigned Private_Use Surrogate Letter Cased_Letter
    Lowercase_Letter Modifier_Letter Other_Letter Titlecase_Letter Uppercase_Letter Mark
    Combining_Mark Spacing_Mark Enclosing_Mark Nonspacing_Mark Number Decimal_Number digit
    Letter_Number Other_Number Punctuation punct Connector_Punctuation Dash_Punctuation
    Close_Punctuation Final_Punctuation Initial_Punctuation Other_Punctuation Open_Punctuation
    Symbol Currency_Symbol Modifier_Symbol Math_Symbol Other_Symbol Separator Line_Separator
    Paragraph_Separator Space_Separator
    """
)
_GO_SCRIPTS = _words(
    """
    Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak
    Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian
    Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot
    Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs
    Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi
    Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic
    Inherited Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi
    Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu
    Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen
    Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs
    Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa
    Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian
    Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage
    Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic
    Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng
    Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil
    Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho
    Warang_Citi Yezidi Yi Zanabazar_Square
    """
)


def _canonical_name(name: str) -> str:
    """Go's canonicalName: drop '_', '-' and ' '; first letter upper case, the rest lower."""
    out: list[str] = []
    first = True
    for c in name:
        if c in "_- ":
            continue
        if first:
            out.append(c.upper() if "a" <= c <= "z" else c)
            first = False
        else:
            out.append(c.lower() if "A" <= c <= "Z" else c)
    return "".join(out)


# Go canonicalises the name, then looks it up in unicode.Categories and unicode.Scripts as they
# are keyed, and in a canonicalised copy of unicode.CategoryAliases only. So a script whose key is
# not itself canonical (`Old_Italic`, `SignWriting`) is unreachable in Go 1.26 by any spelling:
# `\p{Old_Italic}` is an error there, as the Go oracle test shows.
_GO_UNICODE_CLASS_NAMES = frozenset(
    {"Any", "Assigned", "Ascii", "Lc"}
    | _GO_CATEGORIES
    | _GO_SCRIPTS
    | {_canonical_name(n) for n in _GO_CATEGORY_ALIASES}
)


def _is_go_unicode_class(name: str) -> bool:
    """Whether Go's unicodeTable knows `name` (matched loosely, per Unicode TR18, since 1.25;
    scripts only by a one-word name, see above).

    RE2 C++ only takes exact category and script names, so `\\p{greek}`, `\\p{Letter}` and
    `\\p{ASCII}` are Go-only.
    """
    return _canonical_name(name) in _GO_UNICODE_CLASS_NAMES


# ---- Go's limits on nesting depth and size -----------------------------------------------------

_LITERAL, _CLASS, _EMPTY_WIDTH, _EMPTY, _CAPTURE, _REPEAT, _CONCAT, _ALTERNATE = range(8)
_WILDCARD = ("any",)
_MAX_SIZE = (128 << 20) // 40  # regexp/syntax maxSize: 128 MiB of 40-byte instructions


class _Node:
    """A node of an approximation of Go's parse tree, kept for its height and size.

    Concatenations and alternations keep a summary of their children instead of the children,
    which is all that flattening them into a parent needs; copying child lists would make deep
    chains of non-capturing groups (which Go flattens, so they are legal) quadratic.
    """

    __slots__ = (
        "count",
        "factorable",
        "first",
        "fold",
        "height",
        "kind",
        "largest",
        "last",
        "lead",
        "runes",
        "size",
        "tallest",
        "total",
    )

    def __init__(
        self,
        kind: int,
        height: int = 1,
        size: int = 1,
        *,
        runes: int = 0,
        fold: bool | None = False,
        lead: tuple[object, ...] | None = None,
    ) -> None:
        self.kind = kind
        self.height = height
        # Go's calcSize estimate of the compiled program.
        self.size = size
        self.runes = runes
        # Case folding of a literal; None for one that came from a class, which may merge with
        # any literal (Go makes some classes literals with or without folding).
        self.fold = fold
        # What the node starts with, for guessing whether Go's factoring of alternations
        # could apply; _WILDCARD matches any other literal-like start.
        self.lead = lead
        # Alternations only: first and last alternative, how many, the tallest and largest,
        # their total size, and whether any two neighbours might be factored.
        self.first: _Node | None = None
        self.last: _Node | None = None
        self.count = 0
        self.tallest = 0
        self.largest = 0
        self.total = 0
        self.factorable = False


def _is_class_like(node: _Node) -> bool:
    """Go's isCharClass: alternatives like these merge into one class node."""
    return node.kind == _CLASS or (node.kind == _LITERAL and node.runes == 1)


def _may_factor(a: _Node, b: _Node) -> bool:
    if a.lead is None or b.lead is None:
        return False
    return a.lead is _WILDCARD or b.lead is _WILDCARD or a.lead == b.lead


class _Frame:
    __slots__ = ("branches", "capture", "items", "saved_fold")

    def __init__(self, capture: bool, saved_fold: bool) -> None:
        self.capture = capture
        self.saved_fold = saved_fold
        self.items: list[_Node] = []
        self.branches: list[_Node] = []


class _Alternatives:
    """Go's alternate() and factor() rounds 3 and 4, on a stream of alternatives."""

    def __init__(self) -> None:
        self.first: _Node | None = None
        self.last: _Node | None = None
        self.count = 0
        self.tallest = 0
        self.largest = 0
        self.total = 0
        self.factorable = False

    def add(self, node: _Node) -> None:
        last = self.last
        if last is not None:
            if _is_class_like(last) and _is_class_like(node):
                # Neighbouring single characters and classes merge into one class.
                merged = _Node(_CLASS, lead=_WILDCARD)
                if self.first is last:
                    self.first = merged
                self.last = merged
                self.total -= last.size - 1
                return
            if last.kind == node.kind == _EMPTY:
                return  # runs of empty alternatives collapse
            if _may_factor(last, node):
                self.factorable = True
        if self.first is None:
            self.first = node
        self.last = node
        self.count += 1
        self.tallest = max(self.tallest, node.height)
        self.largest = max(self.largest, node.size)
        self.total += node.size

    def splice(self, alternation: _Node) -> None:
        """Add the alternatives of a nested alternation, which Go flattens into this one."""
        assert alternation.first is not None
        assert alternation.last is not None
        self.add(alternation.first)
        self.count += alternation.count - 1
        self.tallest = max(self.tallest, alternation.tallest)
        self.largest = max(self.largest, alternation.largest)
        self.total += alternation.total - alternation.first.size
        self.factorable = self.factorable or alternation.factorable
        self.last = alternation.last

    def node(self) -> _Node:
        assert self.last is not None
        if self.count == 1:
            return self.last
        if self.factorable:
            # Factoring shares prefixes, so Go's node is lower and smaller; count neither the
            # level nor the separate copies.
            height, size = self.tallest, self.largest
        else:
            height, size = self.tallest + 1, self.total + self.count - 1
        node = _Node(_ALTERNATE, height, size)
        node.first, node.last, node.count = self.first, self.last, self.count
        node.tallest, node.largest, node.total = self.tallest, self.largest, self.total
        node.factorable = self.factorable
        return node


def _repeat_size(lo: int, hi: int, sub: int) -> int:
    """Go's calcSize for x*, x+, x? and x{lo,hi} (hi -1 for no maximum)."""
    if hi != -1:
        return max(1, hi * sub + (hi - lo))  # x{2,5} is xx(x(x(x)?)?)?
    return 2 + sub if lo == 0 else 1 + lo * sub


class _DepthTracker:
    """Go's parse-time limits RE2 C++ does not have: nesting depth and program size.

    Go refuses a regexp more than 1000 levels deep ("expression nests too deeply") or whose
    program would exceed 128 MiB ("expression too large"); RE2 has no depth limit and sizes
    programs differently, so both are estimated here while scanning, following how Go builds its
    tree: literals merge into strings, concatenations and alternations flatten into their
    parents, alternatives of single characters merge into one class, and capture groups and
    repetitions each add a level. Go's factoring of common prefixes out of alternations is not
    modelled; where it could apply, neither the level nor the duplicated size is counted.
    Wherever the model is unsure it errs low, so it may miss a pattern Go refuses but should not
    refuse one Go accepts. When the structure is broken (an unexpected ')'), tracking stops: Go
    fails there first, and RE2 reports that.

    Go only starts measuring size once the number of nodes it has allocated times the product of
    all repeat counts seen reaches the budget (so a plain literal of any length passes); the node
    count here approximates Go's allocations from below, so measuring starts no earlier.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.fold = False
        self.frames = [_Frame(capture=False, saved_fold=False)]
        self.broken = False
        self.allocated = 0
        self.repeats = 1
        self.measuring = False

    def _limits(self, node: _Node) -> _Node:
        """Go's checkLimits, run on every node it pushes or builds: size first, then height."""
        if not self.measuring and self.allocated >= _MAX_SIZE // self.repeats:
            self.measuring = True
            for frame in self.frames:
                for pending in (*frame.items, *frame.branches):
                    self._check_size(pending)
        if self.measuring:
            self._check_size(node)
        if node.height > _MAX_HEIGHT:
            raise _SyntaxError(_Code.NESTING_DEPTH, self.pattern)
        return node

    def _check_size(self, node: _Node) -> None:
        if node.size > _MAX_SIZE:
            raise _SyntaxError(_Code.LARGE, self.pattern)

    def push(self, node: _Node, *, allocated: bool = True) -> None:
        """Push `node` as Go does; `allocated` is False for a node already counted."""
        if self.broken:
            return
        items = self.frames[-1].items
        self._merge_top_literals(items)
        if allocated:
            self.allocated += 1
        items.append(self._limits(node))

    def _merge_top_literals(self, items: list[_Node]) -> None:
        # Go's maybeConcat, run before every push: the two topmost literals join into a string
        # (and Go reuses the freed node for the next one).
        if len(items) >= 2:
            top, below = items[-1], items[-2]
            if top.kind == below.kind == _LITERAL and (
                top.fold is None or below.fold is None or top.fold == below.fold
            ):
                fold = None if top.fold is None or below.fold is None else top.fold
                runes = below.runes + top.runes
                merged = _Node(_LITERAL, size=runes, runes=runes, fold=fold, lead=below.lead)
                items[-2:] = [merged]
                self.allocated -= 1

    def literals(self, text: str) -> None:
        """Push each character of `text` as a literal.

        Pushed one by one, Go would merge all but the last into one string as it goes (only
        the last can still take a repetition operator); pushing that string and then the last
        character leaves the same stack.
        """
        if self.broken or not text:
            return
        if len(text) > 1:
            head = self._literal(text[0])
            head.runes = head.size = len(text) - 1
            self.push(head)
        self.push(self._literal(text[-1]))

    def _literal(self, ch: str) -> _Node:
        # Go stores a case-folded literal as the smallest rune of its case orbit; casefold()
        # maps a whole orbit to one key too (and at worst joins more, which only lowers the
        # estimate).
        key = ch.casefold() if self.fold else ch
        return _Node(_LITERAL, runes=1, fold=self.fold, lead=("lit", key, self.fold))

    def class_literal(self) -> None:
        # Go turns a one-character class into a literal; counting every class as a literal
        # that may merge with its neighbours keeps the estimate low.
        self.push(_Node(_LITERAL, runes=1, fold=None, lead=_WILDCARD))

    def repeat(self, lo: int, hi: int, *, counted: bool) -> None:
        """x* (0, -1), x+ (1, -1), x? (0, 1) or a counted x{lo,hi}, applied to the top item."""
        if self.broken:
            return
        items = self.frames[-1].items
        if not items:
            return  # missing argument: Go fails here and RE2 reports it
        sub = items[-1]
        if counted:
            # Go's running product of repeat counts, which decides when to measure size.
            n = hi if hi != -1 else lo
            n = max(n, 1)
            self.repeats = _MAX_SIZE if n > _MAX_SIZE // self.repeats else self.repeats * n
        lead = _WILDCARD if counted and lo == hi and lo > 0 and _is_class_like(sub) else None
        size = _repeat_size(lo, hi, sub.size)
        self.allocated += 1
        items[-1] = self._limits(_Node(_REPEAT, sub.height + 1, size, lead=lead))

    def open_group(self, *, capture: bool, fold: bool) -> None:
        if self.broken:
            self.fold = fold
            return
        self.frames.append(_Frame(capture=capture, saved_fold=self.fold))
        self.fold = fold
        self.allocated += 1  # Go pushes a marker for the '('
        self._limits(_Node(_EMPTY))

    def vertical_bar(self) -> None:
        if self.broken:
            return
        frame = self.frames[-1]
        frame.branches.append(self._concat(frame))
        self.allocated += 1  # and one for the '|'
        self._limits(_Node(_EMPTY))

    def close_group(self) -> None:
        if self.broken:
            return
        frame = self.frames[-1]
        node = self._alternate(frame)
        if len(self.frames) == 1:
            self.broken = True  # unexpected ')'
            return
        self.frames.pop()
        self.fold = frame.saved_fold
        if frame.capture:
            # Go turns the '(' marker into the capture node.
            node = _Node(_CAPTURE, node.height + 1, node.size + 2)
        self.push(node, allocated=False)

    def finish(self) -> None:
        if not self.broken:
            self._alternate(self.frames[-1])

    def _concat(self, frame: _Frame) -> _Node:
        items = frame.items
        frame.items = []
        self._merge_top_literals(items)
        if not items:
            self.allocated += 1
            return self._limits(_Node(_EMPTY))
        if len(items) == 1:
            return self._limits(items[0])
        # A nested concatenation is flattened into this one: its children count, not itself.
        tallest = 0
        size = 0
        for item in items:
            if item.kind == _CONCAT:
                tallest = max(tallest, item.height - 1)
                self.allocated -= 1
            else:
                tallest = max(tallest, item.height)
            size += item.size
        self.allocated += 1
        return self._limits(_Node(_CONCAT, tallest + 1, size, lead=items[0].lead))

    def _alternate(self, frame: _Frame) -> _Node:
        last = self._concat(frame)
        if not frame.branches:
            return last
        alternatives = _Alternatives()
        for branch in [*frame.branches, last]:
            if branch.kind == _ALTERNATE:
                alternatives.splice(branch)
                self.allocated -= 1
            else:
                alternatives.add(branch)
        frame.branches = []
        node = alternatives.node()
        if node.kind == _ALTERNATE:
            self.allocated += 1
        return self._limits(node)
