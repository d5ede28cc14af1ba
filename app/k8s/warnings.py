"""Admission warnings, bounded as the API server bounds them.

The API server passes a webhook's warnings to the client as `Warning` headers. What it does
(k8s.io/apiserver `endpoints/filters/warning.go`, `recorder.AddWarning`): an empty warning or a
repeat of one already added is skipped; one with a control character or invalid UTF-8 is
dropped (`NewWarningHeader` refuses it); while all warnings of the request together stay
within 4,096 characters each is passed whole, however long; the warning that would cross
4,096 switches to truncating: every warning, those already added included, is cut to 256
characters, and once 4,096 are written again the rest are dropped. The 120 characters used
here are the API's guidance for a warning a user reads on one line, not a limit the server
enforces. So an answer carries at most `MAX_WARNINGS` warnings of under `MAX_WARNING_CHARS`
characters each, the last one saying how many were left out: short enough to read, and far
inside what the server passes whole, beside other webhooks' warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, final

# The API's guidance for a warning's length (a recommendation: the server passes longer ones
# whole until 4,096 characters in total, then cuts each to 256).
MAX_WARNING_CHARS: Final = 120
# 20 warnings of at most 119 characters (the last one counts those left out): 2,380 characters,
# well inside the 4,096 past which the API server cuts the warnings of all webhooks of a request.
MAX_WARNINGS: Final = 20


def clip_warning(text: str) -> str:
    """Keep a warning within the API's guidance for its length, marking the cut."""
    if len(text) < MAX_WARNING_CHARS:
        return text
    return text[: MAX_WARNING_CHARS - 4] + "..."


def omitted_warning(count: int) -> str:
    return f"{count} more warning{'' if count == 1 else 's'} not shown"


@final
class WarningList:
    """Warnings as a validation collects them: the first ones kept, the rest counted.

    Kept as they were written (`encode_response` clips any too long for the API server), so a
    test can still see that a rule's own text fits.

    Keeps `MAX_WARNINGS`; when there were more, `render()` replaces the last kept one with the
    count of those left out, so an answer never carries more than `MAX_WARNINGS` however many a
    hostile object produces.
    """

    __slots__ = ("items", "omitted")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.omitted = 0

    def append(self, text: str) -> None:
        if len(self.items) < MAX_WARNINGS:
            self.items.append(text)
        else:
            self.omitted += 1

    @property
    def total(self) -> int:
        """Every warning added, kept or not."""
        return len(self.items) + self.omitted

    def render(self) -> list[str]:
        """The warnings for an answer: the kept ones, then one saying how many were left out."""
        if self.omitted == 0:
            return list(self.items)
        return [*self.items[: MAX_WARNINGS - 1], omitted_warning(self.omitted + 1)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items) or self.omitted > 0


def bound_warnings(warnings: Iterable[str]) -> list[str]:
    """Any list of warnings within the limits above (the answer's last line of defence)."""
    bounded = WarningList()
    for text in warnings:
        bounded.append(text)
    return [clip_warning(text) for text in bounded.render()]
