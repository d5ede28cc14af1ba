"""Running the application under uvicorn with TLS."""

from __future__ import annotations

import ssl

import uvicorn

from app.config import ConfigError, Settings
from app.main import create_app
from app.observability import configure_logging


def check_tls_pair(settings: Settings) -> None:
    """Fail start-up with one line when the certificate and key cannot serve together."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError("tls-key-file", "the key does not match the certificate") from None
        raise ConfigError("tls-cert-file", f"cannot load certificate and key: {reason}") from None


def serve(settings: Settings) -> None:
    check_tls_pair(settings)
    configure_logging(settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert_file),
        ssl_keyfile=str(settings.tls_key_file),
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_keep_alive=int(settings.keep_alive_timeout),
        limit_concurrency=settings.max_concurrency,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        server_header=False,
    )
    uvicorn.Server(config).run()
