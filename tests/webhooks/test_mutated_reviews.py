"""Every webhook's decision function answers any review that decodes, however its object is shaped.

Reviews are built from valid ones by replacing one to three random subtrees with JSON values
that commonly break type assumptions (null, numbers, strings with pattern prefixes, lists,
objects). It may allow or deny them but never raise: an exception is answered as an
internal error, which is fail-closed but says nothing useful, and in the compiled modules a
value of an unexpected type would surface exactly that way.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.admission.review import ReviewError, decode_review
from app.config import Settings
from app.main import admission_webhooks
from tests.support.reviews import CONTROLLER, KEY, project_config, promotion, review

REPLACEMENTS: list[Any] = [
    None, True, False, 0, -1, 1.5, 1e308, "", "x", "glob:*", "glob:[", "regex:(", "regex:^a$",
    "a/b", [], [1], ["x"], [None], {}, {"a": 1}, {"matchLabels": {"a": "b"}},
    {"matchExpressions": [{"key": "a", "operator": "In"}]}, {"stage": "x"}, "true",
    {"enabled": True}, {"enabled": "yes"},
]  # fmt: skip

POLICIES: list[Any] = [
    {"stage": "prod", "autoPromotionEnabled": True, "autoRollback": {"enabled": True}},
    {"stageSelector": {"name": "glob:prod-*"}, "autoRollback": True},
    {"stageSelector": {"name": "regex:^qa-[0-9]+$"}},
    {"stageSelector": {"matchLabels": {"tier": "web"}, "matchExpressions": [
        {"key": "env", "operator": "In", "values": ["a", "b"]}]}},
]  # fmt: skip


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _mutated(base: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    candidates = [p for p in _paths(obj) if p]
    for path in rnd.sample(candidates, k=min(len(candidates), rnd.randint(1, 3))):
        parent: Any = obj
        try:
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict) == isinstance(path[-1], str):
                parent[path[-1]] = copy.deepcopy(rnd.choice(REPLACEMENTS))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    return obj


def _bases() -> list[tuple[str, dict[str, Any]]]:
    config = project_config(POLICIES)
    annotated = promotion({KEY: "true"})
    return [
        ("projectconfig-validate", review(config)),
        ("projectconfig-validate", review(config, operation="UPDATE", old=project_config([]))),
        ("promotion-mutate", review(annotated)),
        ("promotion-mutate", review(annotated, operation="UPDATE", old=promotion({KEY: "x"}))),
        ("promotion-validate", review(annotated, username=CONTROLLER)),
        ("promotion-validate", review(promotion({}), operation="UPDATE", old=annotated)),
    ]


@pytest.mark.parametrize("seed", range(4))
def test_no_decision_raises_on_a_mutated_review(seed: int) -> None:
    settings = Settings(tls_cert_file=Path("unused"), tls_key_file=Path("unused"))
    deciders = {spec.name: spec.decide for spec in admission_webhooks(settings)}
    rnd = random.Random(seed)
    bases = _bases()
    decided = 0
    for _ in range(1_500):
        name, base = rnd.choice(bases)
        try:
            request = decode_review(orjson.dumps(_mutated(base, rnd)))
        except ReviewError:
            continue  # the envelope itself was broken: answered before any decision runs
        decision = deciders[name](request)  # must not raise
        assert isinstance(decision.allowed, bool)
        decided += 1
    assert decided > 500  # about half of the mutations leave the envelope intact
