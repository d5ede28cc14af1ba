"""A seeded generator of regular expressions that probe where Go's regexp differs from others.

The pieces are the syntax on which Go, RE2 C++ and Python disagree or which Go limits: escapes
(`\\C`, `\\z`, `\\Z`, backreferences, octal and hex forms), classes and POSIX classes, Unicode
classes (`\\p{..}` names Go matches loosely), flags, named groups of both spellings, lookarounds,
repeat counts around 1000 and past Go's integer guard, and nesting and size limits. Patterns are
built two ways: from a small grammar whose structure is mostly sound (so the error, if any, is a
subtle one), and as a soup of the same pieces in any order (so structure errors meet lexical ones
and the first in Go's parse order must win). The same seed gives the same patterns.
"""

from __future__ import annotations

import random

LITERALS = ["a", "b", "x", "0", "-", "_", " ", "é", "名", "😀", "]", "}", ",", ":", "=", "<", ">"]

ESCAPES = [
    *(f"\\{c}" for c in "dDsSwWbBAz"),
    *(f"\\{c}" for c in "afnrtv"),
    *(f"\\{c}" for c in ".*+?()[]{}|^$\\-/#&~ "),
    "\\C",
    "\\Z",
    "\\e",
    "\\u0041",
    "\\U00000041",
    "\\G",
    "\\K",
    "\\N",
    "\\h",
    "\\X",
    "\\R",
    "\\é",
    "\\1",
    "\\2",
    "\\7",
    "\\8",
    "\\9",
    "\\0",
    "\\01",
    "\\012",
    "\\0123",
    "\\101",
    "\\08",
    "\\18",
    "\\x41",
    "\\xff",
    "\\xZ",
    "\\x4",
    "\\x{41}",
    "\\x{10FFFF}",
    "\\x{110000}",
    "\\x{D800}",
    "\\x{}",
    "\\x{4g}",
    "\\x{0000000041}",
    "\\Qa.b\\E",
    "\\Q\\E",
    "\\Q*",
    "\\Q\\C\\E",
    "\\Q]\\E",
]

UNICODE_NAMES = [
    "L",
    "Lu",
    "N",
    "X",
    "Greek",
    "greek",
    "GREEK",
    "^Greek",
    "Letter",
    "Cased_Letter",
    "cased letter",
    "ASCII",
    "ascii",
    "Any",
    "Assigned",
    "Cn",
    "LC",
    "Lc",
    "L&",
    "Old_Italic",
    "old italic",
    "Han",
    "Zzzz",
    "Latin-1",
    "Braille",
    "digit",
    "punct",
    "Nd",
    "Hira",
    "",
    "^",
    "Kawi",
    "Arab",
]

UNICODE_CLASSES = [
    *(f"\\{p}{{{name}}}" for p in "pP" for name in UNICODE_NAMES),
    "\\pL",
    "\\PL",
    "\\pN",
    "\\pX",
    "\\pZ",
    "\\p^L",
    "\\p",
    "\\p{Greek",
    "\\P{",
]

POSIX_NAMES = [
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
    "foo",
    "Alpha",
    "",
]

CLASS_ITEMS = [
    "a",
    "z",
    "0",
    "-",
    "^",
    "[",
    "é",
    "a-z",
    "z-a",
    "0-9",
    "a-a",
    "--/",
    "\\d",
    "\\W",
    "\\d-z",
    "a-\\d",
    "\\]",
    "\\-",
    "\\\\",
    "\\b",
    "\\B",
    "\\C",
    "\\Q]\\E",
    "\\x{10FFFF}",
    "\\x00-\\x{10FFFF}",
    "\\n",
    "\\8",
    "\\pL",
    "\\p{Greek}",
    "\\p{Zzzz}",
    "\\P{Lu}",
    "[:",
    ":]",
    *(f"[:{neg}{name}:]" for neg in ("", "^") for name in POSIX_NAMES),
]

GROUP_OPENERS = [
    "(",
    "(?:",
    "(?i:",
    "(?s:",
    "(?m:",
    "(?U:",
    "(?i-s:",
    "(?-i:",
    "(?P<n>",
    "(?P<name_1>",
    "(?<n>",
    "(?<a1>",
    "(?P<名>",
    "(?P<>",
    "(?<>",
    "(?P<a-b>",
    "(?P<n",
    "(?P=n)",
    "(?P>n)",
    "(?=",
    "(?!",
    "(?<=",
    "(?<!",
    "(?>",
    "(?#",
    "(?'n'",
    "(?x:",
    "(?|",
    "(?-:",
    "(?i-:",
    "(?--i:",
    "(?",
    "(?P",
]

FLAG_GROUPS = [
    "(?i)",
    "(?s)",
    "(?m)",
    "(?U)",
    "(?-m)",
    "(?-i)",
    "(?is)",
    "(?i-sU)",
    "(?imsU)",
    "(?x)",
    "(?-)",
    "(?i-)",
    "(?a)",
    "(?)",
]

COUNTS = ["0", "1", "2", "5", "999", "1000", "1001", "99999999", "100000000", "99999999999", "01"]

REPEATS = [
    "*",
    "+",
    "?",
    "*?",
    "+?",
    "??",
    "*+",
    "++",
    "?+",
    *(f"{{{n}}}" for n in COUNTS),
    *(f"{{{n},}}" for n in COUNTS),
    "{0,1}",
    "{1,1000}",
    "{2,1}",
    "{0,1001}",
    "{1000,1000}",
    "{2,5}?",
    "{,5}",
    "{}",
    "{a}",
    "{1",
    "{1,",
    "{1,2",
    "{ 1}",
    "{-1}",
]

ANCHORS = ["^", "$", "."]


def _atom(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(LITERALS)
    if roll < 0.55:
        return rng.choice(ESCAPES)
    if roll < 0.65:
        return rng.choice(UNICODE_CLASSES)
    if roll < 0.85:
        return _char_class(rng)
    return rng.choice(ANCHORS)


def _char_class(rng: random.Random) -> str:
    opener = rng.choice(["[", "[", "[^", "[]", "[^]"])
    body = "".join(rng.choice(CLASS_ITEMS) for _ in range(rng.randint(0, 3)))
    closer = "]" if rng.random() < 0.92 else ""
    return opener + body + closer


def _sequence(rng: random.Random, depth: int) -> str:
    pieces: list[str] = []
    for _ in range(rng.randint(0, 4)):
        roll = rng.random()
        if roll < 0.2 and depth < 4:
            close = ")" if rng.random() < 0.95 else ""
            piece = rng.choice(GROUP_OPENERS[:12]) + _alternation(rng, depth + 1) + close
        elif roll < 0.27:
            piece = rng.choice(FLAG_GROUPS)
        else:
            piece = _atom(rng)
        if rng.random() < 0.3:
            piece += rng.choice(REPEATS)
        pieces.append(piece)
    return "".join(pieces)


def _alternation(rng: random.Random, depth: int) -> str:
    return "|".join(_sequence(rng, depth) for _ in range(rng.choice([1, 1, 1, 2, 3])))


def structured(rng: random.Random) -> str:
    """A pattern from the grammar, sometimes with one piece swapped for a rarer one."""
    pattern = _alternation(rng, 0)
    if pattern and rng.random() < 0.25:
        at = rng.randrange(len(pattern) + 1)
        extra = rng.choice([*GROUP_OPENERS, *FLAG_GROUPS, *REPEATS, ")", "|", "\\"])
        pattern = pattern[:at] + extra + pattern[at:]
    return pattern


def soup(rng: random.Random) -> str:
    """A pattern of pieces in any order: groups need not close, operators need not follow atoms."""
    vocabulary = [
        LITERALS,
        ESCAPES,
        UNICODE_CLASSES,
        GROUP_OPENERS,
        FLAG_GROUPS,
        REPEATS,
        [")", "|", "[", "]", "{", "}", "\\"],
    ]
    pieces = []
    for _ in range(rng.randint(1, 6)):
        pieces.append(rng.choice(rng.choice(vocabulary)))
    if rng.random() < 0.3:
        pieces.append(_char_class(rng))
    rng.shuffle(pieces)
    return "".join(pieces)


def nested_repeats(rng: random.Random) -> str:
    """Counted repetitions nested two to four deep, around Go's product limit of 1000."""
    pattern = rng.choice(["a", "[a-z]", "(a)", "\\pL", "a|b"])
    for _ in range(rng.randint(2, 4)):
        count = rng.choice(["2", "3", "10", "31", "32", "100", "250", "251", "500", "1000"])
        form = rng.choice([f"{{{count}}}", f"{{0,{count}}}", f"{{{count},}}", f"{{1,{count}}}?"])
        opener = rng.choice(["(", "(?:", "(?P<g>"])
        pattern = f"{opener}{pattern}){form}"
    return pattern


def limit_cases() -> list[str]:
    """Fixed patterns at Go's nesting depth (1000) and program size (128 MiB) limits."""
    cases: list[str] = []
    for depth in (998, 999, 1000, 1001):
        cases.append("(" * depth + ")" * depth)
        cases.append("(?:" * depth + ")*" * depth)
        cases.append("(?P<n>" * depth + "a" + ")" * depth)
        cases.append("(?i:" * depth + "a" + ")+" * depth)
    for depth in (499, 500, 501, 502):
        cases.append("(a" * depth + ")" * depth)
        cases.append("(?:a" * depth + ")" * depth)
        cases.append("(a|b" * depth + ")" * depth)
    cases.append("(?:a" * 3000 + ")" * 3000)
    cases.append("(" * 1000 + ")" * 1000 + "\\C")
    cases.append("\\C" + "(" * 1000 + ")" * 1000)
    # Just under and just over the size budget (Go compiles the first, which takes a second or two).
    for count in (3355, 3356):
        cases.append("a{1000}" * count)
    cases.append("(" + "(xx?)" * 1000 + "){1000}")
    cases.append("(xx?){1000}" * 1000)
    cases.append("((((((((((x{2}){2}){2}){2}){2}){2}){2}){2}){2}){2})")
    cases.append("(" + "|" * 2000 + ")")
    cases.append("x" * 100_000)
    cases.append("[a" + "[:" * 5000)
    # Unpaired surrogates, which a Python str can hold and Go's JSON decoder turns into U+FFFD.
    cases.extend(["\ud800(", "[\udc00-\udfff]", "a\udbff*", "\\\ud800"])
    return cases


def generate(seed: int, count: int, *, with_limits: bool = True) -> list[str]:
    """`count` generated patterns, deterministic for `seed`, and the fixed limit cases."""
    rng = random.Random(seed)
    makers = [structured, structured, soup, soup, nested_repeats]
    patterns = [rng.choice(makers)(rng) for _ in range(count)]
    if with_limits:
        patterns.extend(limit_cases())
    return patterns
