"""`serve`: what it does before it starts serving."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from app import server as server_module
from app.config import Settings
from app.serving.uvicorn_server import GracefulServer


def test_serve_freezes_the_start_up_heap_before_serving(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Full collections then skip modules and the application (bench/decision.py measures the
    10,000-policy ProjectConfig under the same condition)."""
    frozen_when_run: list[int] = []

    def record_run(self: GracefulServer) -> None:
        frozen_when_run.append(gc.get_freeze_count())

    class Built:
        forced_by = None
        run = record_run

    monkeypatch.setattr(server_module, "build_server", lambda _settings: Built())
    settings = Settings(tls_cert_file=tmp_path / "tls.crt", tls_key_file=tmp_path / "tls.key")
    gc.unfreeze()
    try:
        server_module.serve(settings)
    finally:
        gc.unfreeze()
    assert len(frozen_when_run) == 1
    assert frozen_when_run[0] > 0
