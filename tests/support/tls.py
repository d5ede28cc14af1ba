"""Client TLS contexts for tests that speak TLS to a server directly (ssl sockets, httpx)."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path


def client_context(
    ca_file: Path | str | None = None,
    *,
    client_cert: tuple[Path, Path] | None = None,
    min_version: ssl.TLSVersion | None = None,
    max_version: ssl.TLSVersion | None = None,
    alpn: Sequence[str] | None = None,
) -> ssl.SSLContext:
    """A client context trusting `ca_file` and checking the host name, as the API server does;
    without `ca_file` it accepts any certificate, to look at what a server presents."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cafile=str(ca_file))
    if min_version is not None:
        context.minimum_version = min_version
    if max_version is not None:
        context.maximum_version = max_version
    if alpn is not None:
        context.set_alpn_protocols(list(alpn))
    if client_cert is not None:
        context.load_cert_chain(*client_cert)
    return context
