"""The documentation is the manual: its tables are compared with what the code declares and exports.

The reference tables live in docs/reference.md:

- the configuration table row by row with the option declarations (flag, variable, default);
- the metrics table with the families the application exports on `/metrics` after answering a
  review on each admission path (name, type, and the labels its samples carry);
- the endpoints table with the application's dispatch table;
- the Go release the `regex:` rules follow (docs/rules.md) with the one scripts/install-go.sh pins;
- the README opens with the two commands, and its configuration excerpt names only declared
  settings.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import get_args

import orjson
import pytest

from app.admission.responses import Outcome
from app.config import OPTIONS, Option
from app.main import admission_webhooks
from tests.oracle.go import pinned_go_minor
from tests.support import app as in_process
from tests.support.reviews import KEY, project_config, promotion, review

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
REFERENCE = (ROOT / "docs" / "reference.md").read_text()
PAGES = [README] + [page.read_text() for page in sorted((ROOT / "docs").glob("*.md"))]


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table under `## heading` of the reference page, as cell texts."""
    section = REFERENCE.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def _code(cell: str) -> str:
    """The first `code` span of a cell."""
    match = re.search(r"`([^`]*)`", cell)
    assert match is not None, cell
    return match.group(1)


# --- settings ---------------------------------------------------------------------------------

SETTINGS_ROWS = {_code(row[0]): row for row in _table("Configuration")}


def test_the_configuration_table_lists_exactly_the_declared_options() -> None:
    assert list(SETTINGS_ROWS) == [option.flag for option in OPTIONS]


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_each_row_has_the_declared_variable_and_default(option: Option) -> None:
    _, variable, default, _ = SETTINGS_ROWS[option.flag]
    assert _code(variable) == option.env
    if option.required:
        assert default == "required"
    elif option.default is None:
        assert default == "none"
    elif isinstance(option.default, tuple):
        assert _code(default).split(",") == list(option.default)
    elif isinstance(option.default, float):
        assert float(_code(default)) == option.default
    else:
        assert _code(default) == str(option.default)


# --- metrics ----------------------------------------------------------------------------------


async def _exported() -> str:
    """`/metrics` of the application after one review on each admission path."""
    client, _ = in_process.client()
    async with client:
        bodies = {
            "projectconfig-validate": review(project_config()),
            "promotion-mutate": review(promotion({KEY: "true"}), username="alice"),
            "promotion-validate": review(promotion({KEY: "true"}), username="alice"),
        }
        for spec in admission_webhooks(in_process.settings()):
            answer = await client.post(
                spec.path,
                content=orjson.dumps(bodies[spec.name]),
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == 200
        # A review of the wrong kind: an error, so the error counter has a sample too.
        await client.post(
            admission_webhooks(in_process.settings())[0].path,
            content=orjson.dumps(review(promotion({}))),
            headers={"content-type": "application/json"},
        )
        return (await client.get("/metrics")).text


def _families(text: str) -> dict[str, tuple[str, set[str]]]:
    """Exported family name (as a user queries it) -> (type, label names of its samples)."""
    families: dict[str, tuple[str, set[str]]] = {}
    declared = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    for name, kind in declared.items():
        base = name.removesuffix("_created")
        if base != name and (base in declared or base + "_total" in declared):
            continue  # the creation time prometheus-client writes beside a counter or histogram
        queried = name + "_total" if kind == "counter" and not name.endswith("_total") else name
        labels: set[str] = set()
        for sample_labels in re.findall(
            rf"^{re.escape(name)}(?:_total|_bucket|_sum|_count)?\{{([^}}]*)\}}", text, re.MULTILINE
        ):
            labels |= {pair.split("=", 1)[0] for pair in sample_labels.split(",") if pair}
        families[queried] = (kind, labels - {"le"})
    return families


EXPORTED = _families(asyncio.run(_exported()))
METRICS_ROWS = {_code(row[0]): row for row in _table("Metrics")}


def test_the_metrics_table_lists_exactly_the_exported_families() -> None:
    assert set(METRICS_ROWS) == set(EXPORTED)


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_each_metric_row_has_the_exported_type_and_labels(name: str) -> None:
    _, kind, labels, _ = METRICS_ROWS[name]
    exported_kind, exported_labels = EXPORTED[name]
    assert kind == exported_kind
    # Label names are the code spans that are not followed by a list of values in parentheses;
    # every label an exported sample carries is documented.
    documented = set(re.findall(r"`([a-z_]+)`(?! \()", labels)) | set(
        re.findall(r"`([a-z_]+)` \(", labels)
    )
    assert exported_labels <= documented, (name, exported_labels, documented)


def test_the_decision_label_lists_every_outcome() -> None:
    cell = METRICS_ROWS["krw_admission_requests_total"][2]
    values = cell.split("`decision` (", 1)[1].split(")", 1)[0]
    assert re.findall(r"`([a-z]+)`", values) == list(get_args(Outcome))


# --- endpoints --------------------------------------------------------------------------------


def test_the_endpoints_table_lists_every_admission_path() -> None:
    documented = {_code(row[0]) for row in _table("Endpoints")}
    for spec in admission_webhooks(in_process.settings()):
        assert f"POST {spec.path}" in documented


def test_the_readme_stays_a_front_page() -> None:
    """About 250 lines at most: what is enforced, installing, a configuration excerpt, the worked
    example and links; everything else belongs on a page of docs/ the README links to."""
    assert len(README.splitlines()) <= 250
    linked = set(re.findall(r"\]\((docs/[a-z_-]+\.md)\)", README))
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")}
    assert pages - linked == set(), "a page of docs/ the README does not link"


def test_the_two_commands_open_the_readme() -> None:
    head = README.split("\n## ", 1)[0]
    assert "make run" in head
    assert "make test" in head


def test_the_go_release_the_rules_follow_is_the_pinned_one() -> None:
    # docs/rules.md names the release line; scripts/install-go.sh is the one place pinning it.
    stated = re.findall(r"`regex:` patterns follow Go (\d+\.\d+)'s `regexp`", "\n".join(PAGES))
    assert stated == [pinned_go_minor().removeprefix("go")]


def test_the_readme_configuration_excerpt_names_declared_settings_only() -> None:
    excerpt = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", excerpt))
    variables = set(re.findall(r"\b(KRW_[A-Z_]+)\b", excerpt))
    assert flags, "the excerpt shows no flag"
    assert flags <= {option.flag for option in OPTIONS}
    assert variables <= {option.env for option in OPTIONS}
