from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cluster import Installation, install
from tests.support.pki import generate_certs


@pytest.fixture(scope="session")
def strip_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """The chart's defaults: tls.mode=helm, rollbackAnnotation.mode=strip, failurePolicy=Fail."""
    with install({}, tmp_path_factory.mktemp("strip")) as installation:
        yield installation


@pytest.fixture(scope="session")
def deny_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    values = {"rollbackAnnotation": {"mode": "deny"}}
    with install(values, tmp_path_factory.mktemp("deny")) as installation:
        yield installation


@pytest.fixture(scope="session")
def fake_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and certificate for third-party webhooks at fake-webhook.example.svc."""
    return generate_certs(
        tmp_path_factory.mktemp("fake-certs"), "--dns-name", "fake-webhook.example.svc"
    )
