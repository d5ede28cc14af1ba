"""The mypyc-compiled modules (setup.py): built from the current sources, and used.

An extension module shadows the .py beside it, so a stale one would run old code under the
tests; `make` rebuilds them whenever a source changes, and this fails if that was skipped.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.compiled import compiled_modules, excluded_modules

REPO = Path(__file__).resolve().parents[1]


def _source(module: str) -> Path:
    return REPO / Path(*module.split("."))


def test_the_list_names_modules_that_exist() -> None:
    for module in compiled_modules():
        assert _source(module).with_suffix(".py").is_file(), module


def test_each_exclusion_names_a_module_or_package_that_exists() -> None:
    for name in excluded_modules():
        assert _source(name).with_suffix(".py").is_file() or _source(name).is_dir(), name


def test_a_new_module_in_a_compiled_package_is_compiled() -> None:
    """By package: a module added beside the request path's is compiled without a list."""
    compiled = set(compiled_modules())
    for source in (REPO / "app" / "admission").glob("*.py"):
        if source.name != "__init__.py":
            assert f"app.admission.{source.stem}" in compiled, source


# The request path: what an admission request runs through, from the routing table to the
# answer and its metrics. Every `app` module these import must be compiled or excluded by name.
_REQUEST_PATH = """
import importlib, sys
for name in ("app.routing", "app.admission.http", "app.admission.validating",
             "app.webhooks.promotion", "app.webhooks.projectconfig", "app.observability.recorder"):
    importlib.import_module(name)
for name, module in sorted(sys.modules.items()):
    if name.startswith("app.") and getattr(module, "__file__", None):
        print(name, module.__file__)
"""


@pytest.mark.skipif(
    os.environ.get("KRW_EXPECT_COMPILED") != "1",
    reason="`make test` sets KRW_EXPECT_COMPILED=1 after compiling",
)
def test_no_module_on_the_request_path_runs_interpreted() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _REQUEST_PATH], cwd=REPO, capture_output=True, text=True, check=True
    )
    excluded = excluded_modules()
    interpreted = [
        name
        for name, file in (line.split() for line in result.stdout.splitlines())
        if file.endswith(".py")
        and not file.endswith("__init__.py")
        and not any(name == e or name.startswith(e + ".") for e in excluded)
    ]
    assert interpreted == [], "on the request path but not compiled (see pyproject.toml)"


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
from app.observability.recorder import Observability
from app.webhooks.promotion import mutate_promotion
from tests.support.reviews import KEY, promotion, review

request = decode_review(orjson.dumps(review(promotion({KEY: "true"}), username="alice")))
decision = mutate_promotion(request, is_controller=lambda _: False, mode="strip")
Observability(write_decisions=lambda _: None).record("promotion-mutate", request, decision, 1e-4)
answer = orjson.loads(responses.encode_response(request.api_version, request.uid, decision))
print(answer["response"]["patchType"], decision.why)
"""


def test_the_compiled_modules_need_nothing_from_mypy_at_run_time() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MYPY], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["JSONPatch", "stripped"]
