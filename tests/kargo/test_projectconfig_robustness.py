"""ProjectConfig validation on any input: nothing modified, no exception for a value of any
type anywhere, warnings short, cost linear in the policies.

How fast a decision is, at every size, is measured by the benchmarks (bench/decision.py, `make
bench`); here only how the cost grows, against a smaller object in the same run.
"""

import time

import pytest

from app.k8s.field import FieldPath
from app.k8s.warnings import WarningList
from app.kargo.projectconfig import (
    AutoRollbackSchema,
    Operation,
    _warn_about_selector,
    validate_project_config,
)
from tests.kargo.projectconfig_cases import (
    P0,
    cfg,
    windows,
)


def test_input_is_not_modified() -> None:
    obj = cfg(
        {"stage": "dev", "autoRollback": {"onPromotion": ["Failed", "Failed", "x"]}},
        {"stageSelector": {"name": "dev", "matchLabels": {"bad key": 1}}},
        promotionWindows=[{"stageSelector": {"matchExpressions": ["x"]}}],
    )
    before = repr(obj)
    assert validate_project_config(obj, operation="CREATE", schema="seed").errors
    assert repr(obj) == before


ODD_VALUES: list[object] = [None, True, 0, -1.5, "", "x\n", [], {}, [None], {"": None}, [[{}]]]


def test_wrong_types_anywhere_never_raise() -> None:
    def shapes(value: object) -> list[object]:
        return [
            value,
            {"metadata": value, "spec": value},
            {"spec": {"promotionPolicies": value, "promotionWindows": value}},
            cfg(value),
            cfg({"stage": value, "stageSelector": value, "autoRollback": value}),
            cfg({"stageSelector": {"name": value, "matchLabels": value}}),
            cfg({"stageSelector": {"matchExpressions": [value, {"key": value, "values": value}]}}),
            cfg({"stage": "a", "autoRollback": {"onFailedPromotions": value}}),
            cfg({"stage": "a", "autoRollback": {"onPromotion": value, "onVerification": [value]}}),
            windows(value, {"stageSelector": value}, {"stageSelector": {"name": value}}),
        ]

    schemas: tuple[AutoRollbackSchema, ...] = ("any", "seed", "upstream")
    operations: tuple[Operation, ...] = ("CREATE", "UPDATE")
    for value in ODD_VALUES:
        for obj in shapes(value):
            for schema in schemas:
                for operation in operations:
                    verdict = validate_project_config(obj, operation=operation, schema=schema)
                    assert all(len(w) < 120 for w in verdict.warnings)


@pytest.mark.parametrize("index", [0, 9, 123456, 123456789012])
def test_warnings_stay_under_120_characters(index: int) -> None:
    path = FieldPath.root("spec").child("promotionPolicies").index(index)
    warnings = WarningList()
    _warn_about_selector(path, {}, True, warnings)
    _warn_about_selector(path, {"name": "regex:" + "x" * 500}, True, warnings)
    _warn_about_selector(path, {"matchLabels": {"a": "b"}}, True, warnings)
    assert len(warnings) == 3
    for warning in warnings:
        assert str(path) in warning
        assert len(warning) < 120, warning


def many_policies(n: int) -> dict[str, object]:
    policies: list[object] = []
    for i in range(n):
        if i % 2:
            policies.append({"stage": f"stage-{i}", "autoRollback": {"onFailedPromotions": True}})
        else:
            policies.append(
                {
                    "stageSelector": {"name": f"stage-{i}", "matchLabels": {"tier": "web"}},
                    "autoRollback": {"onPromotion": ["Failed"], "onVerification": ["Error"]},
                }
            )
    return cfg(*policies)


def best_time(obj: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        validate_project_config(obj, operation="CREATE", schema="any")
        best = min(best, time.perf_counter() - start)
    return best


def assert_linear(small: object, large: object) -> None:
    """`large` has ten times what `small` has: about ten times the cost; quadratic work would
    take about a hundred times."""
    small_s, large_s = best_time(small), best_time(large)
    assert large_s / small_s < 30, (small_s, large_s)


def test_ten_thousand_policies() -> None:
    verdict = validate_project_config(many_policies(10_000), operation="CREATE", schema="any")
    assert not verdict.errors
    assert verdict.warnings.total == 5_000  # autoRollback on a label selector


def test_cost_grows_linearly() -> None:
    assert_linear(many_policies(2_000), many_policies(20_000))


def duplicates(n: int) -> dict[str, object]:
    return cfg(*({"stage": "dev"} for _ in range(n)))


def test_ten_thousand_duplicates_are_linear() -> None:
    verdict = validate_project_config(duplicates(10_000), operation="CREATE", schema="any")
    assert verdict.errors.total == 9_999
    assert all(e.detail.endswith(f"at {P0}") for e in verdict.errors)
    assert_linear(duplicates(2_000), duplicates(20_000))
