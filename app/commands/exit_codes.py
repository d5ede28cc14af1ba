"""The exit statuses every command shares, declared once so `check`, `certs`, `policy` and a bad
setting of `serve` mean the same thing by the same number to a CI job or a shell script."""

from __future__ import annotations

from typing import Final

# Everything checked passed (warnings do not fail `check` unless --strict).
EXIT_OK: Final = 0
# What was checked failed: an invalid manifest (or, with --strict, a warning), a certificate
# check `certs inspect` was asked for.
EXIT_FAILED: Final = 1
# Wrong usage, a bad setting, or input that cannot be read.
EXIT_USAGE: Final = 2
