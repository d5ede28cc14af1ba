"""The console script under test: the `kargo-rollback-webhook` installed beside this interpreter
(the venv's, or the one a packaging test installed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

BIN_DIR: Final = Path(sys.executable).parent
CLI: Final = str(BIN_DIR / "kargo-rollback-webhook")
