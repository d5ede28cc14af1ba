"""The descriptor limit at start-up: raised to the hard limit, checked against the connections.

Each case runs in a child process with its own `RLIMIT_NOFILE` (set before it starts, as a
container runtime sets it), so the test process keeps its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.serving import descriptors


def run_with_limit(soft: int, hard: int, code: str) -> subprocess.CompletedProcess[str]:
    script = f"import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
    return subprocess.run(
        [sys.executable, "-c", script + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    result = run_with_limit(
        256,
        4096,
        "from app.serving.descriptors import raise_soft_limit\n"
        "print(*raise_soft_limit())\n"
        "print(*resource.getrlimit(resource.RLIMIT_NOFILE))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4096", "4096", "4096", "4096"]


@pytest.mark.parametrize(
    ("hard", "connections", "fits"),
    [
        pytest.param(512, 1024, False, id="the default connections under a 512 limit"),
        pytest.param(1024, 1024, False, id="containerd's 1,024: no room for the rest"),
        pytest.param(1024, 900, True, id="900 connections and the margin fit in 1,024"),
    ],
)
def test_connections_that_do_not_fit_stop_the_start_naming_the_setting(
    tmp_path: Path, hard: int, connections: int, fits: bool
) -> None:
    for name in ("tls.crt", "tls.key"):
        (tmp_path / name).write_text("read only after the check\n")
    code = (
        "import sys\n"
        "from app import server\n"
        "from app.cli import main\n"
        "server.build_server = lambda settings: sys.exit(0)  # no further than the check\n"
        f"sys.exit(main(['serve', '--tls-cert-file', '{tmp_path}/tls.crt', '--tls-key-file', "
        f"'{tmp_path}/tls.key', '--max-connections', '{connections}']))"
    )
    result = run_with_limit(hard, hard, code)
    if fits:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "--max-connections (KRW_MAX_CONNECTIONS)" in lines[0]
    assert f"need {connections + descriptors.MARGIN} file descriptors" in lines[0]
    assert f"hard limit {hard}" in lines[0]
