"""The README is the manual: every setting and every metric the code has is documented there."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric

from app.config import OPTIONS, Option
from app.kargo.constants import (
    PROJECT_CONFIG_VALIDATE_PATH,
    PROMOTION_MUTATE_PATH,
    PROMOTION_VALIDATE_PATH,
)
from app.observability import Observability

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_every_setting_is_in_the_configuration_table(option: Option) -> None:
    assert f"| `{option.flag}` | `{option.env}` |" in README


def _metric_names() -> list[str]:
    metrics: list[Metric] = list(Observability().registry.collect())
    names = []
    for metric in metrics:
        name = metric.name
        if metric.type == "counter":
            name += "_total"
        names.append(name)
    return names


@pytest.mark.parametrize("name", _metric_names())
def test_every_metric_is_documented(name: str) -> None:
    assert f"`{name}`" in README


@pytest.mark.parametrize(
    "path", [PROJECT_CONFIG_VALIDATE_PATH, PROMOTION_MUTATE_PATH, PROMOTION_VALIDATE_PATH]
)
def test_every_webhook_path_is_documented(path: str) -> None:
    assert f"`POST {path}`" in README


def test_the_two_commands_open_the_readme() -> None:
    head = README.split("\n## ", 1)[0]
    assert "make run" in head
    assert "make test" in head
