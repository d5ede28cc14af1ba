"""`\\p{...}` patterns built from every Unicode table name Go knows, in loose spellings.

Go matches a name after canonicalising it (regexp/syntax's canonicalName: '_', '-' and ' '
dropped anywhere, the first letter upper case and the rest lower, ASCII only), so each name is
spelled with its case changed, its separators swapped or removed, separators added where it has
none, and in near misses that must stay errors. Each spelling is tried as `\\p{…}`, `\\P{…}`,
negated with `^`, and inside positive and negated classes; one-letter spellings also as `\\pX`.
"""

from __future__ import annotations

from collections.abc import Iterable


def _camel_split(name: str) -> str:
    """`SignWriting` -> `Sign_Writing`: a separator before each inner capital."""
    return "".join(
        "_" + c if i > 0 and c.isupper() and name[i - 1].islower() else c
        for i, c in enumerate(name)
    )


def spellings(name: str) -> list[str]:
    """`name` as its table spells it, in loose variants, and in near misses."""
    found = [name, name.lower(), name.upper(), name.swapcase(), _camel_split(name)]
    separated = _camel_split(name)
    for separator in ("-", " ", ""):
        found.append(separated.replace("_", separator))
        found.append(separated.lower().replace("_", separator))
        found.append(separated.upper().replace("_", separator))
    if len(name) > 1:
        found.append(f"{name[0]}_{name[1:]}")  # a separator Unicode never puts there
        found.append(name[:-1])  # near misses: one letter short, one too many
    found += [f" {name}", f"{name}-", f"{name}x", f"{name}.", f"{name}\u00e9"]
    return list(dict.fromkeys(found))


def class_patterns(names: Iterable[str]) -> list[str]:
    """Every spelling of every name in every form, without duplicates, in a stable order."""
    patterns: list[str] = []
    for name in names:
        for spelling in spellings(name):
            patterns += [
                f"\\p{{{spelling}}}",
                f"\\P{{{spelling}}}",
                f"\\p{{^{spelling}}}",
                f"[\\p{{{spelling}}}]",
                f"[^a\\P{{{spelling}}}-]",
            ]
            if len(spelling) == 1:
                patterns += [f"\\p{spelling}", f"[\\P{spelling}]"]
    return list(dict.fromkeys(patterns))
