"""Go's `regexp/syntax` parser, lexical part: where Go and RE2 C++ disagree.

Kargo compiles `regex:` stage names with Go's `regexp.Compile`. google-re2 (RE2 C++, which Go's
parser was ported from) agrees with Go on structure but not on tokens: Go rejects `\\C`,
non-ASCII capture names and `x{99999999999}`, accepts `\\p{greek}`, `\\p{Letter}` and
`\\p{ASCII}`, and words some errors differently (`(?<=x)` is an "invalid named capture"). So
this module walks the pattern as Go's parse.go does, token by token (escapes, character classes,
`\\Q...\\E`, group openers, flags, repeat counts, `\\p{...}` names), raising Go's error for
anything wrong within a token, and writes a neutral rewrite for RE2 to judge the structure of
(re2engine.py). Along the way it feeds limits.py, which estimates the nesting depth and program
size Go limits and RE2 does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.kargo.patterns.limits import DepthTracker
from app.kargo.patterns.syntax_errors import GoError, GoSyntaxError
from app.kargo.patterns.syntax_errors import GoRegexpErrorCode as Code
from app.kargo.patterns.unicode_names import is_go_unicode_class


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The neutral rewrite of the pattern, up to the first error the scanner found (if any)."""

    neutral: str
    open_groups: int
    error: GoError | None


_MAX_RUNE = 0x10FFFF
_MAX_REPEAT = 1000  # regexp/syntax maxRepeat
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
    """What `Scanner` knows about an open group's piece of the neutral pattern."""

    start: int
    capturing: bool
    alternation: bool = False
    first_is_operand: bool | None = None


class Scanner:
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
        self.depth = DepthTracker(pattern)
        self._posix_end = (len(pattern) + 1, -1)

    def scan(self) -> ScanResult:
        try:
            self._parse()
        except GoSyntaxError as err:
            return ScanResult("".join(self.out), self.open_groups, (err.code, err.expr))
        return ScanResult("".join(self.out), self.open_groups, None)

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
                depth.empty_width()
                self._emit(ch)
                i += 1
            elif ch == ".":
                depth.any_char()
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
            raise GoSyntaxError(Code.INVALID_REPEAT_SIZE, s[i:end])
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
                raise GoSyntaxError(Code.INVALID_NAMED_CAPTURE, s[i:])
            name = s[name_start:end]
            if not name or not all(c == "_" or _isalnum(c) for c in name):
                # Go allows only [A-Za-z0-9_]; RE2 C++ also allows Unicode word characters.
                raise GoSyntaxError(Code.INVALID_NAMED_CAPTURE, s[i : end + 1])
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
        raise GoSyntaxError(Code.INVALID_PERL_OP, s[i:j])

    # -- escapes ------------------------------------------------------------------------------

    def _parse_backslash(self, i: int) -> int:
        """A top-level `\\` at `i`."""
        s, n, depth = self.s, self.n, self.depth
        if i + 1 < n:
            c = s[i + 1]
            if c in _EMPTY_WIDTH_ESCAPES:
                depth.empty_width()
                self._emit(s[i : i + 2])
                return i + 2
            if c == "C":
                # Any byte: RE2 C++ supports it, Go does not.
                raise GoSyntaxError(Code.INVALID_ESCAPE, s[i : i + 2])
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
            raise GoSyntaxError(Code.TRAILING_BACKSLASH, "")
        c = s[j]
        j += 1
        if c.isascii() and not _isalnum(c):
            return ord(c), j  # escaped punctuation is itself
        if "1" <= c <= "7" and (j >= n or not "0" <= s[j] <= "7"):
            # A single non-zero digit is a backreference, which Go does not support.
            raise GoSyntaxError(Code.INVALID_ESCAPE, s[i:j])
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
        raise GoSyntaxError(Code.INVALID_ESCAPE, s[i:j])

    def _parse_hex_escape(self, i: int, j: int) -> tuple[int, int]:
        """`\\xHH` or `\\x{H...}`; `j` is just past the 'x'."""
        s, n = self.s, self.n
        if j >= n:
            raise GoSyntaxError(Code.INVALID_ESCAPE, s[i:j])
        c = s[j]
        j += 1
        if c == "{":
            digits = 0
            rune = 0
            while True:
                if j >= n:
                    raise GoSyntaxError(Code.INVALID_ESCAPE, s[i:j])
                c = s[j]
                j += 1
                if c == "}":
                    break
                value = _unhex(c)
                if value < 0:
                    raise GoSyntaxError(Code.INVALID_ESCAPE, s[i:j])
                rune = rune * 16 + value
                if rune > _MAX_RUNE:
                    raise GoSyntaxError(Code.INVALID_ESCAPE, s[i:j])
                digits += 1
            if digits == 0:
                raise GoSyntaxError(Code.INVALID_ESCAPE, s[i:j])
            return rune, j
        high = _unhex(c)
        # Go reads a second rune even past the end (getting U+FFFD, consuming nothing).
        low = -1
        if j < n:
            low = _unhex(s[j])
            j += 1
        if high < 0 or low < 0:
            raise GoSyntaxError(Code.INVALID_ESCAPE, s[i:j])
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
                raise GoSyntaxError(Code.INVALID_CHAR_RANGE, s[i:])
            seq, name = s[i : end + 1], s[i + 3 : end]
            j = end + 1
        if name.startswith("^"):
            name = name[1:]
        if not is_go_unicode_class(name):
            raise GoSyntaxError(Code.INVALID_CHAR_RANGE, seq)
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
                        raise GoSyntaxError(Code.INVALID_CHAR_RANGE, name)
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
                    raise GoSyntaxError(Code.INVALID_CHAR_RANGE, s[start:j])
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
            raise GoSyntaxError(Code.MISSING_BRACKET, self.s[class_start:])
        if self.s[j] == "\\":
            # Only single-character escapes here: `[\C]`, `[\Q]`, `[\b]` and `[a-\d]` are
            # invalid escapes in Go (and in RE2).
            return self._parse_escape(j)
        return ord(self.s[j]), j + 1
