"""What one connection may cost: its deadlines and its head and body sizes.

Plain settings, read by the connection (`uvicorn_seam.protocol`) and its clocks (`deadlines`,
`write_stall`); kept apart from `deadlines` because the size limits and the write timeout are
not deadlines of a request, and from `connections`, which limits how many connections there are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Per-connection limits; `deadlines` says when the header and body clocks run."""

    header_timeout: float
    body_timeout: float
    max_header_bytes: int
    # Bodies are buffered whole before the application sees them; one over this is handed to
    # the application at once, to be refused.
    max_body_bytes: int
    # Seconds an answer may stay unwritten because its client does not read (`write_stall`).
    write_timeout: float = 10.0
