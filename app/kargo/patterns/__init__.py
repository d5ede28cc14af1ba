"""Stage name selectors as Kargo judges them: exact names, `glob:` and `regex:`/`regexp:`.

Kargo rejects a `stageSelector.name` whose pattern `pkg/pattern.ParseNamePattern` cannot parse:
`glob:` through doublestar v4's `ValidatePattern`, `regex:`/`regexp:` through Go's
`regexp.Compile`. To reject exactly what Kargo rejects, with Kargo's message, this package ports
doublestar's validator and reproduces Go's `regexp/syntax` parser. One module per job:

* selector.py: the name, its identifier, and which rule applies.
* glob.py: doublestar's validator.
* regex.py: the verdict on a regex, combining the two judges below (and caching it).
* goregexp.py: the lexical layer, a port of Go's parse.go, because tokens are where Go and RE2 C++
  differ (`\\C`, `\\p{greek}`, capture names, huge counts, error wording).
* re2engine.py: the structural layer (parentheses, repetition arguments, nested repetition, the
  1000 repeat product) left to google-re2's parser, fed a neutral rewrite of the pattern in which
  every atom is the literal `x`. Nothing is compiled. The only code that touches `re2._re2`.
* limits.py: Go's nesting depth and program size limits, which RE2 lacks, estimated while scanning.
* unicode_names.py and syntax_errors.py: Go's `\\p{...}` names and its error codes and text.

Errors read exactly like Go's `*syntax.Error`: "error parsing regexp: <code>: `<expr>`".
tests/kargo/test_regex_oracle.py holds the webhook to Go's own verdict and text on thousands of
generated patterns, and tests/kargo/test_glob_oracle.py to doublestar's on 1,883.

Known differences from Go, all beyond any realistic stage selector: Go's budget of 32M runes
across character classes (only reachable with tens of thousands of `\\pL`) is not applied; a
`{0}` repetition exempts its operand from Go's repeat product but not from RE2's, so
`((a{1000}){0}){2}` is rejected; depth and size are estimated from below, so a pattern right at
Go's limits may pass here.

Imports: app.k8s.field (field errors) and google-re2 (in re2engine.py only).
"""

from __future__ import annotations

from app.kargo.patterns.glob import GLOB_SYNTAX_ERROR, glob_error
from app.kargo.patterns.regex import regex_error
from app.kargo.patterns.selector import is_pattern, validate_name_selector
from app.kargo.patterns.syntax_errors import GoRegexpErrorCode

__all__ = [
    "GLOB_SYNTAX_ERROR",
    "GoRegexpErrorCode",
    "glob_error",
    "is_pattern",
    "regex_error",
    "validate_name_selector",
]
