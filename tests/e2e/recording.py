"""What a request records from its webhooks: the client's warnings and the audit annotations.

Warnings: k8s.io/apiserver `endpoints/filters/warning.go`, `recorder.AddWarning`, line for
line. Empty and repeated warnings are skipped; one with a control character (Go's
`unicode.IsControl`: category Cc) or invalid UTF-8 is dropped (k8s.io/apimachinery
`util/net/http.go`, `NewWarningHeader`, refuses it); while the warnings together stay within
4,096 characters (runes) each is passed whole; the one that would cross that switches to
truncating: every warning, those already passed included, is cut to 256 characters, and once
4,096 have been written again the rest are dropped.

Audit annotations: `admission/attributes.go`, `attributesRecord.AddAnnotation`: the key must be
`<prefix>/<name>` and a qualified name (`checkKeyFormat`), so a webhook's own key becomes
`<webhook name>/<key>` and is dropped when that is not one; a key already recorded keeps its
first value (a different second value is refused, the same one is a no-op).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Final

from app.k8s.names import is_qualified_name

TRUNCATE_AT_TOTAL_RUNES: Final = 4 * 1024
TRUNCATE_ITEM_RUNES: Final = 256


def _header_ok(text: str) -> bool:
    """`NewWarningHeader`'s check of the text: valid UTF-8, no control character."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: Go's string would not be valid UTF-8
        return False
    return not any(unicodedata.category(char) == "Cc" for char in text)


@dataclass
class WarningRecorder:
    """One request's warning recorder; `headers` is what the client gets, in order."""

    headers: list[str] = field(default_factory=list)
    _recorded: set[str] = field(default_factory=set)
    _ordered: list[str] = field(default_factory=list)
    _written: int = 0
    _truncating: bool = False

    def add(self, text: str) -> None:
        if not text:
            return
        if self._written >= TRUNCATE_AT_TOTAL_RUNES and self._truncating:
            return
        if text in self._recorded:
            return
        self._recorded.add(text)
        self._ordered.append(text)
        length = len(text)
        if self._truncating and length > TRUNCATE_ITEM_RUNES:
            text, length = text[:TRUNCATE_ITEM_RUNES], TRUNCATE_ITEM_RUNES
        if not _header_ok(text):
            return
        if self._written + length <= TRUNCATE_AT_TOTAL_RUNES or self._truncating:
            self._written += length
            self.headers.append(text)
            return
        # Past the limit: truncate from now on, and replay what was recorded, truncated.
        self._truncating = True
        self._written = 0
        self.headers.clear()
        for recorded in self._ordered:
            shown = recorded[:TRUNCATE_ITEM_RUNES]
            if _header_ok(shown):
                self._written += len(shown)
                self.headers.append(shown)


def add_annotation(audit: dict[str, str], key: str, value: str) -> bool:
    """`AddAnnotation`: False when the key is malformed or already holds another value."""
    if len(key.split("/")) != 2 or is_qualified_name(key):
        return False
    if key in audit and audit[key] != value:
        return False
    audit[key] = value
    return True
