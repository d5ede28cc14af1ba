"""File descriptors: raised to the hard limit at start-up, and checked against the limits.

Every connection is a descriptor. A container starts with containerd's default soft limit of
1,024 (`RLIMIT_NOFILE`), which the default `--max-connections` (1,024) alone would fill, and
then a new connection, and the certificate reload that opens the key pair, fail with EMFILE.
The hard limit is usually far higher, and a process may raise its soft limit to it: so the
server does, at start-up, and then refuses to start when the connection limit and a margin
for everything else do not fit.
"""

from __future__ import annotations

import resource
from typing import Final

# Descriptors besides the connections: the listener, the event loop's own, certificate files
# being read, log and metrics files, pipes of the decision workers, with room to spare.
MARGIN: Final = 64


def raise_soft_limit() -> tuple[int, int]:
    """Raise the soft `RLIMIT_NOFILE` to the hard one; (soft, hard) afterwards. An unlimited
    hard limit counts as a large finite one (Linux refuses an unlimited soft limit for it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, hard  # not allowed here: the check below decides
        soft = target
    return soft, hard


def needed(max_connections: int) -> int:
    """Descriptors the connection limit needs, with the margin for the rest."""
    return max_connections + MARGIN
