"""The Go regexp oracle, built once per test session with the pinned Go."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle.go import build_goregexp, go_version, pinned_go_minor
from tests.support.tools import GO


@pytest.fixture(scope="session")
def goregexp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = GO.path()
    out_dir = tmp_path_factory.mktemp("goregexp")
    version = go_version(go, out_dir)
    expected = pinned_go_minor()
    assert version.startswith(expected + "."), f"the oracle needs {expected}, not {version}"
    return build_goregexp(go, out_dir)
