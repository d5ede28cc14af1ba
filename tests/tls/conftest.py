from __future__ import annotations

from pathlib import Path

import pytest

from app.tls.issuance import GeneratedCerts
from tests.tls.issued import generate
from tests.tls.reloading import Recorder


@pytest.fixture
def certs(tmp_path: Path) -> GeneratedCerts:
    return generate(tmp_path / "certs")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
