"""The pinned binaries the tests run beyond the venv, found in one way.

Each is installed into `.tools/` by `make tools` (scripts/install-*.sh pin the versions; `make
unit` installs them first), or named by an environment variable (`$HELM`, `$GO`, `$PROMTOOL`,
`$PROMETHEUS`). A missing binary fails the test that needs it with the way to install it: the
chart, the Go oracles, the alerting rules and the dashboard are only tested for real, never
skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
TOOLS: Final = REPO_ROOT / ".tools"


@dataclass(frozen=True)
class PinnedTool:
    """A binary: the variable that overrides it, where `make` installs it and which make target."""

    name: str
    variable: str
    installed: Path
    installer: str

    def path(self) -> Path:
        """`$<variable>` if set, else the installed binary; fails the test when neither runs."""
        configured = os.environ.get(self.variable)
        path = Path(configured) if configured else self.installed
        if not (path.is_file() and os.access(path, os.X_OK)):
            target = self.installed.relative_to(REPO_ROOT)
            pytest.fail(
                f"{self.name} not found at {path}: run `make {target}` ({self.installer} "
                f"installs the pinned version) or set {self.variable}=/path/to/{self.name}",
                pytrace=False,
            )
        return path


HELM: Final = PinnedTool("helm", "HELM", TOOLS / "bin" / "helm", "scripts/install-helm.sh")
GO: Final = PinnedTool("go", "GO", TOOLS / "go" / "bin" / "go", "scripts/install-go.sh")
PROMTOOL: Final = PinnedTool(
    "promtool", "PROMTOOL", TOOLS / "bin" / "promtool", "scripts/install-prometheus.sh"
)
PROMETHEUS: Final = PinnedTool(
    "prometheus", "PROMETHEUS", TOOLS / "bin" / "prometheus", "scripts/install-prometheus.sh"
)
# Built, not installed: tests/e2e/transport.py builds it with GO when a source is newer.
GOWEBHOOKCLIENT: Final = TOOLS / "bin" / "gowebhookclient"
