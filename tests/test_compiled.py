"""The mypyc-compiled modules (setup.py): built from the current sources, and used.

An extension module shadows the .py beside it, so a stale one would run old code under the
tests; `make` rebuilds them whenever a source changes, and this fails if that was skipped.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def compiled_modules() -> list[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    modules: list[str] = pyproject["tool"]["kargo-rollback-webhook"]["compiled"]
    return modules


def test_the_list_names_modules_that_exist() -> None:
    for module in compiled_modules():
        assert (REPO / Path(*module.split("."))).with_suffix(".py").is_file(), module


@pytest.mark.parametrize(
    "extension", sorted((REPO / "app").rglob("*.so")), ids=lambda p: str(p.relative_to(REPO))
)
def test_no_extension_is_older_than_its_source(extension: Path) -> None:
    source = extension.with_name(extension.name.split(".", 1)[0] + ".py")
    if not source.exists():  # the group's shared library (native__mypyc) has no source
        return
    assert extension.stat().st_mtime >= source.stat().st_mtime, (
        f"{extension.relative_to(REPO)} is older than {source.name}: run `make compile`"
    )


@pytest.mark.skipif(
    os.environ.get("KRW_EXPECT_COMPILED") != "1",
    reason="`make test` sets KRW_EXPECT_COMPILED=1 after compiling",
)
@pytest.mark.parametrize("module", compiled_modules())
def test_make_test_runs_the_compiled_modules(module: str) -> None:
    imported = importlib.import_module(module)
    assert imported.__file__ is not None
    assert imported.__file__.endswith(".so"), (
        f"{module} runs as Python ({imported.__file__}); see .venv/compile.log"
    )


# Run in a fresh interpreter that cannot import mypy or its runtime helpers (the image has
# neither): the compiled request path decodes, decides, records and encodes a review.
_WITHOUT_MYPY = """
import importlib.abc, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"mypy", "mypyc", "librt", "mypy_extensions"}:
            raise ImportError(f"{name} is not in the image")
        return None

sys.meta_path.insert(0, Refuse())
import orjson
from app.admission import responses
from app.admission.review import decode_review
from app.observability import Observability
from app.webhooks.promotion import mutate_promotion
from tests.support.reviews import KEY, promotion, review

request = decode_review(orjson.dumps(review(promotion({KEY: "true"}), username="alice")))
decision = mutate_promotion(request, is_controller=lambda _: False, mode="strip")
Observability(write_decisions=lambda _: None).record("promotion-mutate", request, decision, 1e-4)
answer = orjson.loads(responses.encode_response(request.api_version, request.uid, decision))
print(answer["response"]["patchType"], decision.guard_action)
"""


def test_the_compiled_modules_need_nothing_from_mypy_at_run_time() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MYPY], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["JSONPatch", "stripped"]
