"""uvicorn's server with a drain before shutdown, a bounded shutdown and background tasks.

Its uvicorn names (`Server`'s methods and attributes) are listed in
`app.serving.uvicorn_seam.UVICORN_CONTRACT` with the connection protocol's.

The server (`GracefulServer`) adds the drain and a bounded shutdown:

The sequence on SIGTERM (or SIGINT):

1. at once: `on_drain()` makes `/readyz` fail, and answers start carrying `Connection: close`
   (the protocol reads the flag for requests that complete from now on, and each connection's
   `drain()` runs for the requests already under way);
2. for `drain_seconds`: everything is still served, new connections included, while the
   endpoints controller takes the pod out of the Service and the API servers, whose connections
   close after each answer, reconnect to other pods (the chart's preStop sleep, which delays
   SIGTERM itself, serves the same purpose for clients that never reach this server's code);
3. then the listener closes, idle keep-alive connections are closed, requests under way
   (including those whose headers or body are still arriving) are answered, each on a
   connection that then closes, for up to `shutdown_timeout`; what is left is cancelled, early
   enough that the process is gone within `drain_seconds + shutdown_timeout` of the signal;
4. the process exits 0.

A second signal at any point ends it at once: in-flight requests are cancelled and the process
exits with 128 + the signal number, as a shell reports a process killed by that signal.

uvicorn's `Server` is subclassed at its documented-by-code seams: `handle_exit` (installed with
`signal.signal`, so it runs on the main thread between bytecodes; it only sets attributes),
`on_tick` (the main loop's 0.1 s heartbeat, where the drain deadline is checked), `startup` (where
the listener is created without `ssl=`, each connection starting its TLS at accept: `accept`) and
`shutdown`. uvicorn itself would stop at the first signal and re-raise it after shutdown (making
a clean exit look like a kill); neither happens here.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections.abc import Callable, Coroutine, Sequence
from types import FrameType
from typing import Any

import uvicorn

from app.serving.uvicorn_seam.accept import counted_from_accept

# Under the application's logger (`app.observability.logs.LOGGER_NAME`), named here so that
# transport does not import the layers above it.
_lifecycle_log = logging.getLogger("kargo_rollback_webhook.lifecycle")

BackgroundTask = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

# How often the shutdown checks whether the last connection closed.
_POLL_SECONDS = 0.05
# Kept back from the shutdown timeout for what follows it (cancelling what is left, the
# application's shutdown, the interpreter's exit, ~0.1 s), so that the process is gone within
# drain + timeout of the signal, the figure the chart's terminationGracePeriodSeconds adds up.
_EXIT_RESERVE_SECONDS = 0.25


class GracefulServer(uvicorn.Server):
    """uvicorn's server with a drain before shutdown, a bounded shutdown and background tasks."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        drain_seconds: float,
        shutdown_timeout: float,
        on_drain: Callable[[], None],
        background: Sequence[BackgroundTask] = (),
        handshake_timeout: float | None = None,
    ) -> None:
        super().__init__(config)
        # Seconds a client has to finish its TLS handshake (the event loop's default is 60).
        self._handshake_timeout = handshake_timeout
        self._drain_seconds = drain_seconds
        self._shutdown_timeout = shutdown_timeout
        self._on_drain = on_drain
        self._background = tuple(background)
        self._background_stop = asyncio.Event()
        self._background_tasks: list[asyncio.Task[None]] = []
        self._drain_signal: int | None = None
        self._drain_started: float | None = None
        self._drain_logged = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.forced_by: int | None = None
        """The signal that ended the process at once, if one did."""

    # --- signals ----------------------------------------------------------------------------

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_started is None and not self.should_exit:
            self._drain_signal = sig
            self._drain_started = time.monotonic()
            self._on_drain()
            if self._loop is not None:
                # A signal handler runs between any two bytecodes: the connections are changed
                # from the event loop instead, before the next read is handled.
                self._loop.call_soon_threadsafe(self._drain_connections)
            return
        self.forced_by = sig
        self.force_exit = True
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self._drain_started is not None and not self.should_exit:
            if not self._drain_logged:
                self._drain_logged = True
                _lifecycle_log.info(
                    "draining: readiness fails, answers close their connections",
                    extra={
                        "fields": {
                            "signal": _signal_name(self._drain_signal),
                            "drain_seconds": self._drain_seconds,
                            "shutdown_timeout_seconds": self._shutdown_timeout,
                        }
                    },
                )
            if time.monotonic() - self._drain_started >= self._drain_seconds:
                self.should_exit = True
        return await super().on_tick(counter)

    # --- start and stop ---------------------------------------------------------------------

    def _drain_connections(self) -> None:
        for connection in list(self.server_state.connections):
            drain = getattr(connection, "drain", None)
            if drain is not None:
                drain()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = loop = asyncio.get_running_loop()
        context = self.config.ssl
        if context is not None:
            # uvicorn passes `ssl=` to `create_server`, and the loop then calls the protocol's
            # `connection_made` only after the handshake: a connection in its handshake would
            # not be counted against the connection limits, and would be held for the loop's
            # default minute. The listener is created here, once, without `ssl=`; each accepted
            # connection starts its TLS itself (`accept`). The loop's own method is restored after.
            create_server = loop.create_server
            timeout = self._handshake_timeout

            def create_tls_server(
                protocol_factory: Callable[[], Any], *args: Any, ssl: Any = None, **kwargs: Any
            ) -> Coroutine[Any, Any, asyncio.Server]:
                if ssl is not None:
                    protocol_factory = counted_from_accept(loop, protocol_factory, ssl, timeout)
                return create_server(protocol_factory, *args, **kwargs)

            loop.create_server = create_tls_server  # type: ignore[method-assign]
            try:
                await super().startup(sockets=sockets)
            finally:
                del loop.create_server
        else:
            await super().startup(sockets=sockets)
        if self.started:
            self._background_tasks = [
                asyncio.create_task(task(self._background_stop)) for task in self._background
            ]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        connections = self.server_state.connections
        _lifecycle_log.info(
            "shutting down: listener closed, finishing requests in flight",
            extra={
                "fields": {
                    "connections": len(connections),
                    "requests": len(self.server_state.tasks),
                    "timeout_seconds": self._shutdown_timeout,
                    "forced": self.force_exit,
                }
            },
        )
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        # Idle connections close now; busy ones once their answer is sent.
        for connection in list(connections):
            connection.shutdown()

        try:
            await asyncio.wait_for(self._quiesce(), timeout=self._finish_budget())
        except TimeoutError:
            _lifecycle_log.error(
                "shutdown timeout: cancelling requests still in flight",
                extra={"fields": {"requests": len(self.server_state.tasks)}},
            )
            for task in self.server_state.tasks:
                task.cancel(msg="shutdown timeout exceeded")

        self._background_stop.set()
        for task in self._background_tasks:
            if self.force_exit:
                task.cancel()
        await asyncio.gather(*self._background_tasks, return_exceptions=True)

        if not self.force_exit:
            await self.lifespan.shutdown()

    def _finish_budget(self) -> float:
        """Seconds left for requests in flight: counted from the signal, not from this moment
        (the drain ends on a 0.1 s tick), less what exiting takes."""
        reserve = min(_EXIT_RESERVE_SECONDS, self._shutdown_timeout / 4)
        if self._drain_started is None:
            return max(self._shutdown_timeout - reserve, 0.0)
        deadline = self._drain_started + self._drain_seconds + self._shutdown_timeout - reserve
        return max(deadline - time.monotonic(), 0.0)

    async def _quiesce(self) -> None:
        """Return once no request is running or arriving (or on a forced exit).

        A connection already closed from this side may still be listed while its TLS
        close_notify exchange finishes (a client that never answers it holds it for up to 30 s);
        its answer was sent, so it is not waited for.
        """
        state = self.server_state
        while not self.force_exit and (
            state.tasks or any(_open(connection) for connection in state.connections)
        ):
            await asyncio.sleep(_POLL_SECONDS)


def _open(connection: object) -> bool:
    transport = getattr(connection, "transport", None)
    return transport is not None and not transport.is_closing()


def _signal_name(sig: int | None) -> str | None:
    if sig is None:
        return None
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)
