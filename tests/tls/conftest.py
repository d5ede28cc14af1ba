from __future__ import annotations

from pathlib import Path

import pytest

from app.tls.issuance import GeneratedCerts
from tests.tls.issued import generate


@pytest.fixture
def certs(tmp_path: Path) -> GeneratedCerts:
    return generate(tmp_path / "certs")
