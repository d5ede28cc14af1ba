"""Running the application under uvicorn: TLS with hot reload, connection limits, graceful stop.

The layers a request passes, outermost first:

1. TLS (`ServedCertificate`): one `SSLContext` whose certificate follows the files on disk;
   HTTP/1.1 only, TLS 1.2+ (or 1.3+), optionally client certificates.
2. The connection (`serving.uvicorn_seam`): header and body deadlines, a head size limit, keep-alive
   for idle connections, and after SIGTERM `Connection: close` on every answer.
   It also holds the limits connections share: the connection table, the budget of body bytes
   still arriving, and the decision slots (past them, `Application.overloaded` answers 429).
3. the application from `create_app`: admission paths straight to their endpoint, the rest
   (health, readiness, metrics) to FastAPI.
"""

from __future__ import annotations

import gc
import logging
import math
import resource
from collections.abc import Callable
from typing import Final

import uvicorn

from app.admission import review
from app.admission.http import ARRIVAL_KEY, DEFAULT_OFFLOAD_BYTES, KEEP_SLOT_KEY
from app.config import ConfigError, Settings
from app.main import Health, create_app
from app.observability.logs import configure_logging
from app.observability.recorder import Observability
from app.serving import descriptors, memory
from app.serving.body_budget import BodyBudget
from app.serving.concurrency import DecisionSlots
from app.serving.connections import ConnectionTable
from app.serving.limits import ConnectionLimits
from app.serving.uvicorn_seam import GracefulServer, SharedLimits, protocol_class
from app.tls.reloader import PairFile, PairFileError
from app.tls.served import ServedCertificate


def build_server(settings: Settings) -> GracefulServer:
    """Everything `serve` runs, built but not started; raises `ConfigError` for a bad TLS pair."""
    observability = Observability()
    # Before logging is configured: a pair that cannot serve is the one line the CLI prints.
    certificate = served_certificate(settings, observability)
    configure_logging(settings.log_level)

    health = Health(checks=[certificate.expiry_problem])
    app = create_app(settings, observability=observability, health=health)
    closed = observability.metrics.record_connection_closed
    table = ConnectionTable(
        max_total=settings.max_connections,
        max_per_client=settings.max_connections_per_client,
        on_evict=closed,
    )
    shared = SharedLimits(
        connections=table,
        bodies=BodyBudget(
            limit=settings.max_body_bytes_in_flight,
            on_evict=closed,
        ),
        slots=DecisionSlots(
            limit=settings.max_concurrency,
            byte_limit=settings.max_decision_bytes,
            on_reject=observability.metrics.record_overload,
            min_byte_share=settings.max_body_bytes,
            small_body_bytes=DEFAULT_OFFLOAD_BYTES,
        ),
        overloaded=app.overloaded,
        body_late=app.body_late,
        arrival_key=ARRIVAL_KEY,
        exempt_paths=app.exempt_paths,
        keep_key=KEEP_SLOT_KEY,
    )

    context = certificate.reloader.context
    limits = ConnectionLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_body_bytes,
        write_timeout=settings.write_timeout,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # uvicorn calls this once, in Config.load(); the context never changes, the certificate
        # it serves does (no ssl_certfile: uvicorn would build a context of its own).
        ssl_context_factory=lambda _config, _default: context,
        http=protocol_class(limits, health, shared),
        ws="none",
        # `Application.__call__` returns its route's coroutine rather than being one, which
        # uvicorn's detection would take for ASGI 2.
        interface="asgi3",
        lifespan="on",
        log_config=None,
        access_log=False,
        # uvicorn's keep-alive timer takes whole seconds.
        timeout_keep_alive=math.ceil(settings.keep_alive_timeout),
        server_header=False,
        # The API server calls the pod directly; no proxy sets X-Forwarded-* for it, and the
        # middleware that reads them costs ~10% of a request.
        proxy_headers=False,
    )
    return GracefulServer(
        config,
        drain_seconds=settings.drain_seconds,
        shutdown_timeout=settings.shutdown_timeout,
        on_drain=_start_draining(health),
        background=[certificate.reloader.run, memory.trim_periodically],
        handshake_timeout=settings.handshake_timeout,
    )


# Which setting names each file of the pair, for the one-line start-up error.
_PAIR_FILE_SETTINGS: Final[dict[PairFile, str]] = {
    "cert": "tls-cert-file",
    "key": "tls-key-file",
    "client-ca": "client-ca-file",
}


def served_certificate(settings: Settings, observability: Observability) -> ServedCertificate:
    """The serving pair from the settings; raises `ConfigError` naming the setting at fault."""
    try:
        return ServedCertificate(
            observability,
            cert_file=settings.tls_cert_file,
            key_file=settings.tls_key_file,
            client_ca_file=settings.client_ca_file,
            min_version=settings.tls_min_version,
            reload_interval=settings.cert_reload_interval,
        )
    except PairFileError as exc:
        raise ConfigError(_PAIR_FILE_SETTINGS[exc.file], str(exc)) from None


def runs_compiled() -> bool:
    """Whether the request path runs the mypyc-compiled modules (setup.py) or pure Python: a build
    without a C compiler, or with KRW_PURE_PYTHON=1, installs the same modules as Python."""
    return (review.__file__ or "").endswith(".so")


def check_descriptors(settings: Settings) -> None:
    """Raise the descriptor limit to its hard limit; `ConfigError` when the connections do not
    fit in it (`app.serving.descriptors`)."""
    soft, hard = descriptors.raise_soft_limit()
    needed = descriptors.needed(settings.max_connections)
    if soft != resource.RLIM_INFINITY and needed > soft:
        raise ConfigError(
            "max-connections",
            f"{settings.max_connections} connections need {needed} file descriptors with "
            f"{descriptors.MARGIN} for the rest, but the process may open {soft} "
            f"(RLIMIT_NOFILE, hard limit {hard}); lower the setting or raise the nofile limit",
        )


def serve(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT and a graceful stop; a second signal exits at once."""
    check_descriptors(settings)
    server = build_server(settings)
    if not runs_compiled():
        # pip shows a build's warning only with -v: say it where an operator looks.
        logging.getLogger("kargo_rollback_webhook.build").warning(
            "the request path runs as pure Python (this install has no compiled modules): "
            "about a fifth fewer requests per second; see docs/development.md"
        )
    # Everything built so far (modules, the application, the TLS context) lives as long as the
    # process: freezing it takes it out of the cyclic collector's reach, so the full collections
    # that decoding a large review triggers walk only what requests allocated (a 10,000-policy
    # ProjectConfig: 63 -> 43 ms, back to linear in the number of policies).
    gc.freeze()
    server.run()
    if server.forced_by is not None:
        raise SystemExit(128 + server.forced_by)


def _start_draining(health: Health) -> Callable[[], None]:
    def start_draining() -> None:
        health.draining = True

    return start_draining
