"""Admission warnings, bounded as the API server bounds them.

The API server passes a webhook's warnings to the client as `Warning` headers, and its
documentation sets the limits: a warning should be under 120 characters, one over 256 may be
truncated, and once 4096 characters of warnings have been added (from all sources) the rest
are dropped. So an answer carries at most `MAX_WARNINGS` warnings of under `MAX_WARNING_CHARS`
characters each, the last one saying how many were left out; anything past that would be
thrown away by the API server anyway, after costing memory here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, final

# The API server drops warnings longer than this; keep every warning under it.
MAX_WARNING_CHARS: Final = 120
# 20 warnings of at most 119 characters (the last one counts those left out): 2,380 characters,
# well inside the API server's 4,096 for all webhooks of a request together.
MAX_WARNINGS: Final = 20


def clip_warning(text: str) -> str:
    """Keep a warning under the API server's limit, marking the cut."""
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
