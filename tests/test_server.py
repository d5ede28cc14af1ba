"""`serve`: what it does before it starts serving."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from app import server as server_module
from app.config import Settings
from app.serving.uvicorn_seam import GracefulServer


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


@pytest.mark.parametrize("compiled", [True, False])
def test_serve_says_when_the_request_path_runs_as_pure_python(
    compiled: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A build without a compiler warns only in pip's verbose output; the server says it too."""

    class Built:
        forced_by = None

        def run(self) -> None:
            pass

    monkeypatch.setattr(server_module, "build_server", lambda _settings: Built())
    monkeypatch.setattr(server_module, "runs_compiled", lambda: compiled)
    settings = Settings(tls_cert_file=tmp_path / "tls.crt", tls_key_file=tmp_path / "tls.key")
    try:
        with caplog.at_level("WARNING", logger="kargo_rollback_webhook.build"):
            server_module.serve(settings)
    finally:
        gc.unfreeze()
    warned = [r.getMessage() for r in caplog.records if r.name == "kargo_rollback_webhook.build"]
    assert bool(warned) is not compiled
    assert all("runs as pure Python" in message for message in warned)


@pytest.mark.skipif(
    os.environ.get("KRW_EXPECT_COMPILED") != "1",
    reason="`make test` sets KRW_EXPECT_COMPILED=1 after compiling",
)
def test_runs_compiled_sees_the_compiled_request_path() -> None:
    assert server_module.runs_compiled()
