"""The decision log: one JSON line per admission decision, written in batches.

Its lines bypass the logging module: a LogRecord, findCaller and a formatter cost a third of a
request's own time; the line written is the same JSON a record would be (`logs.JsonFormatter`).
"""

from __future__ import annotations

import asyncio
import atexit
import sys
import time
from collections.abc import Callable
from typing import final

import orjson

from app.observability.logs import LOGGER_NAME


def write_stderr(data: bytes) -> None:
    # Flush what the logging module buffered first, so lines keep their order.
    stream = sys.stderr
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text-only stream (tests replacing stderr)
        stream.write(data.decode())
    else:
        buffer.write(data)
        buffer.flush()


@final
class DecisionEntry:
    """What `Observability.record` keeps of a decision until its line is written.

    A plain class: compiled, it is built in one native call on the hot path, and read by name
    when formatted. Written out by hand on purpose: a named tuple's constructor runs as
    interpreted Python, and a dataclass compiled by mypyc made `Observability.record` about
    0.8 µs slower.
    """

    __slots__ = (
        "decision",
        "dry_run",
        "duration",
        "kind",
        "name",
        "namespace",
        "operation",
        "reason",
        "time",
        "uid",
        "username",
        "webhook",
    )

    def __init__(
        self,
        *,
        time: float,  # Unix seconds
        webhook: str,
        uid: str,
        kind: str,
        namespace: str,
        name: str,
        operation: str,
        username: str,
        dry_run: bool,
        decision: str,
        reason: str,
        duration: float,  # seconds
    ) -> None:
        self.time = time
        self.webhook = webhook
        self.uid = uid
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.operation = operation
        self.username = username
        self.dry_run = dry_run
        self.decision = decision
        self.reason = reason
        self.duration = duration


class DecisionLog:
    """The decision log: one JSON line per decision, formatted and written in batches.

    A request only appends a tuple; the lines are formatted and written together, in one
    system call, at most `max_delay` seconds later (a timer on the running event loop) or once
    `max_entries` are waiting. Formatting a line in the request cost as much as deciding it,
    most of it in cold caches between requests; a batch is formatted in one warm loop. Without
    a running loop (the `check` command, tests) each line is written at once. `flush()` runs at
    application shutdown and at exit, so no line is lost on a clean stop.
    """

    def __init__(
        self,
        write: Callable[[bytes], object],
        *,
        max_entries: int = 128,
        max_delay: float = 0.05,
    ) -> None:
        self._write = write
        self._max_entries = max_entries
        self._max_delay = max_delay
        self._entries: list[DecisionEntry] = []
        self._timer: asyncio.TimerHandle | None = None
        self._clock = _LineClock()
        atexit.register(self.flush)

    def __call__(self, entry: DecisionEntry) -> None:
        entries = self._entries
        entries.append(entry)
        if len(entries) >= self._max_entries:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(self._max_delay, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._entries:
            entries, self._entries = self._entries, []
            # Appended one by one: each line's bytes are freed at once and their memory reused;
            # a list of hundreds of them cost three times as much per line.
            batch = bytearray()
            for entry in entries:
                batch += self._line(entry)
            self._write(bytes(batch))

    def _line(self, entry: DecisionEntry) -> bytes:
        return orjson.dumps(
            {
                "ts": self._clock.format(entry.time),
                "level": "info",
                "logger": LOGGER_NAME,
                "msg": "admission decision",
                "webhook": entry.webhook,
                "uid": entry.uid,
                "kind": entry.kind,
                "namespace": entry.namespace,
                "name": entry.name,
                "operation": entry.operation,
                "username": entry.username,
                "dry_run": entry.dry_run,
                "decision": entry.decision,
                "reason": entry.reason,
                # Milliseconds to the microsecond (`round(x, 3)` costs three times as much).
                "duration_ms": round(entry.duration * 1_000_000) / 1000,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )


class _LineClock:
    """`2026-11-26T14:40:01.123Z` for a Unix time; formatted once per millisecond (a busy
    webhook's decisions share one), the date and time part once per second."""

    def __init__(self) -> None:
        self._millisecond = -1
        self._second = -1
        self._prefix = ""
        self._text = ""

    def format(self, stamp: float) -> str:
        millisecond = int(stamp * 1000)
        if millisecond != self._millisecond:
            self._millisecond = millisecond
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:
                self._second = second
                self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._text = f"{self._prefix}.{fraction:03d}Z"
        return self._text
