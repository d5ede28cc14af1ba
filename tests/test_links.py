"""Every link in the project's Markdown leads somewhere: the documentation is split over the
README, docs/ and the READMEs beside the chart, the certificates and the tests, and a page that
moves or a heading that is reworded must not leave a dead link behind.

- a relative link names a file or directory that exists; with `#anchor`, a Markdown file with a
  heading GitHub gives that anchor (lower case, punctuation but `-` and `_` dropped, spaces to
  `-`, `-1`, `-2`... for repeated headings);
- an external link is well formed (`http`/`https` with a host, or `mailto:`); no request is made.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).parent.parent

# Directories that hold no documentation of the project: tools, builds and caches.
_SKIPPED_PARTS = {"build", "dist", "node_modules", "__pycache__"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the target ends at the first space or closing parenthesis.
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def _markdown_files() -> list[Path]:
    """The project's Markdown files, hidden and tool directories left out."""
    return sorted(
        path
        for path in ROOT.rglob("*.md")
        if not any(
            part.startswith(".") or part in _SKIPPED_PARTS or part.endswith(".egg-info")
            for part in path.relative_to(ROOT).parts[:-1]
        )
    )


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, code spans blanked: a link shown as code is text."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(_CODE_SPAN.sub("", line))
    return lines


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text."""
    seen: dict[str, int] = {}
    found = set()
    for line in _prose_lines_keeping_code(text):
        match = _HEADING.match(line)
        if match is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(2).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _prose_lines_keeping_code(text: str) -> list[str]:
    """The lines outside fenced code blocks (a heading's code spans are part of its anchor)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def links(text: str) -> list[str]:
    """The targets of the inline links, images and reference definitions of a Markdown text."""
    targets = []
    for line in _prose_lines(text):
        targets += _INLINE_LINK.findall(line)
        definition = _REFERENCE_DEFINITION.match(line)
        if definition is not None:
            targets.append(definition.group(1))
    return targets


def problem(source: Path, target: str) -> str | None:
    """Why `target`, linked from `source`, leads nowhere; None when it resolves."""
    parts = urlsplit(target)
    if parts.scheme in ("http", "https"):
        return None if parts.netloc and " " not in target else "malformed external link"
    if parts.scheme == "mailto":
        return None if "@" in parts.path else "malformed mail link"
    if parts.scheme or parts.netloc:
        return f"unexpected scheme {parts.scheme!r}"
    path, _, anchor = target.partition("#")
    destination = (source.parent / unquote(path)).resolve() if path else source
    if not destination.exists():
        return "no such file"
    if anchor:
        if destination.suffix != ".md" or destination.is_dir():
            return "anchor into a file that is not Markdown"
        if anchor not in anchors(destination.read_text(encoding="utf-8")):
            return f"no heading for #{anchor}"
    return None


MARKDOWN = _markdown_files()


def test_the_documentation_is_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in MARKDOWN}
    assert {"README.md", "docs/operating.md", "charts/kargo-rollback-webhook/README.md"} <= names


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_link_resolves(page: Path) -> None:
    broken = [
        f"{target}: {why}"
        for target in links(page.read_text(encoding="utf-8"))
        if (why := problem(page, target)) is not None
    ]
    assert broken == []


def test_the_checker_finds_what_is_broken(tmp_path: Path) -> None:
    """The checks above cannot pass vacuously: each kind of dead link is caught."""
    (tmp_path / "a.md").write_text("# Title\n\n## Two words, `code`!\n\n## Title\n")
    page = tmp_path / "b.md"
    good = ["a.md", "a.md#title", "a.md#two-words-code", "a.md#title-1", "https://example.com/x"]
    bad = ["c.md", "a.md#missing", "a.md#title-2", "https:///nohost", "ftp://example.com/"]
    text = "\n".join(f"[{n}]({target})" for n, target in enumerate(good + bad))
    text += "\n```\n[in a fence](nowhere.md)\n```\n`[in code](nowhere.md)`\n"
    assert links(text) == good + bad
    assert [problem(page, target) for target in good] == [None] * len(good)
    assert all(problem(page, target) is not None for target in bad)
