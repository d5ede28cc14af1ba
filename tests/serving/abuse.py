"""An attacker and the API server side by side, for the abuse tests (tests/serving/test_abuse.py).

The legitimate client stands for the API server: small reviews, each on a new TLS connection
from 127.0.0.1, each timed from the connect to the whole answer. Attackers connect from other
loopback addresses (127.0.1.x), so that the server sees them as other clients, as it would see
pods. Every attack runs in threads for a bounded time and stops on its own.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

import app.routing
from app.kargo.constants import PROMOTION_MUTATE_PATH
from tests.serving.clients import head, open_tls, read_response
from tests.support.polling import wait_until
from tests.support.reviews import project_config, promotion, review
from tests.support.server import ServerProcess

LEGIT_SOURCE = "127.0.0.1"
LEGIT_TIMEOUT_S = 5.0
# The promptness target (99% of the legitimate reviews within 1 s) is the compiled build's: the
# one `make test`, `make test-lowest` and the image run. Where no C compiler exists the same code
# runs interpreted, several times slower per request and sharing the CPUs with the attackers'
# threads, so there it is 2 s. Nothing else is relaxed: none refused or dropped, each within its
# `?timeout=`.
COMPILED = (app.routing.__file__ or "").endswith(".so")
PROMPT_S = 1.0 if COMPILED else 2.0
# The targets are judged on at least this many reviews, however slow the machine: the client goes
# on past the attack's planned length until it has sent them, for at most `GATHER_MORE_S`.
MIN_REVIEWS = 10
GATHER_MORE_S = 10.0


@dataclass
class Legit:
    """What the API server saw: per review, its HTTP status, AdmissionReview code and seconds."""

    answers: list[tuple[int, int | None, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.answers) + len(self.failures)

    def within(self, seconds: float) -> int:
        return sum(1 for status, code, took in self.answers if status == 200 and took <= seconds)

    def refused(self) -> int:
        """Answers that were not an admission (HTTP other than 200, or a denial code)."""
        return sum(1 for status, code, _ in self.answers if status != 200 or code is not None)

    def median(self) -> float:
        return statistics.median(took for _, _, took in self.answers) if self.answers else 0.0

    def slowest(self) -> float:
        return max((took for _, _, took in self.answers), default=0.0)

    def gather(self, seconds: float) -> None:
        """Lets the client send reviews for `seconds`, then on until it has sent `MIN_REVIEWS`
        (for at most `GATHER_MORE_S` more)."""
        time.sleep(seconds)
        wait_until(lambda: self.count >= MIN_REVIEWS, GATHER_MORE_S)

    def summary(self) -> str:
        return (
            f"{self.count} legitimate reviews: {self.within(PROMPT_S)} answered 200 within "
            f"{PROMPT_S:g} s, "
            f"{self.refused()} refused, {len(self.failures)} failed, "
            f"median {self.median() * 1000:.0f} ms, slowest {self.slowest() * 1000:.0f} ms"
        )

    def assert_served(self) -> None:
        """The targets: none refused or dropped, each within its `?timeout=`, 99% within
        `PROMPT_S` (1 s for the compiled build)."""
        assert self.count >= MIN_REVIEWS, self.summary()
        assert not self.failures, self.failures[:3]
        assert self.refused() == 0, [a for a in self.answers if a[0] != 200 or a[1]][:3]
        assert self.slowest() < LEGIT_TIMEOUT_S, self.summary()
        assert self.count - self.within(PROMPT_S) <= self.count // 100, self.summary()


def legit_review(port: int, context: ssl.SSLContext, uid: str) -> tuple[int, int | None, float]:
    """One review as the API server sends it, on a new connection; (status, code, seconds)."""
    body = orjson.dumps(review(promotion({}), uid=uid))
    path = f"{PROMOTION_MUTATE_PATH}?timeout={LEGIT_TIMEOUT_S:g}s"
    started = time.monotonic()
    tls = open_tls(port, context, timeout=LEGIT_TIMEOUT_S + 1, source=LEGIT_SOURCE)
    try:
        tls.sendall(head("POST", path, content_length=len(body)) + body)
        response = read_response(tls)
    finally:
        tls.close()
    took = time.monotonic() - started
    answer = orjson.loads(response.body)["response"] if response.status == 200 else {}
    assert response.status != 200 or answer["uid"] == uid
    status = answer.get("status")
    return response.status, status["code"] if status else None, took


@contextlib.contextmanager
def legit_client(port: int, context: ssl.SSLContext, *, pause: float = 0.02) -> Iterator[Legit]:
    """Sends legitimate reviews one after another until the block ends."""
    legit = Legit()
    stop = threading.Event()

    def run() -> None:
        i = 0
        while not stop.is_set():
            try:
                legit.answers.append(legit_review(port, context, f"legit-{i}"))
            except (OSError, ConnectionError, AssertionError) as exc:
                legit.failures.append(f"legit-{i}: {exc!r}")
            i += 1
            stop.wait(pause)

    thread = threading.Thread(target=run, name="legit-client")
    thread.start()
    try:
        yield legit
    finally:
        stop.set()
        thread.join(LEGIT_TIMEOUT_S + 5)


@contextlib.contextmanager
def attack(workers: int, target: Callable[[int, threading.Event], None]) -> Iterator[None]:
    """`workers` threads running `target(index, stop)` until the block ends."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=target, args=(i, stop), name=f"attacker-{i}", daemon=True)
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)


def attacker_tls(
    port: int, context: ssl.SSLContext, source: str, *, receive_buffer: int | None = None
) -> ssl.SSLSocket:
    """A TLS connection from `source`; with `receive_buffer`, a small one (a client that reads
    little fills it at once)."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if receive_buffer is not None:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        raw.settimeout(10)
        raw.bind((source, 0))
        raw.connect(("127.0.0.1", port))
        return context.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def large_answer_review(uid: str) -> bytes:
    """A review under 64 KiB whose answer is about 390 KB: 100 causes quoting values of
    U+0085, which an answer escapes as six bytes each."""
    policies = [{"stageSelector": {"matchLabels": {f"k{i}": "\u0085" * 290}}} for i in range(100)]
    return orjson.dumps(review(project_config(policies), uid=uid))


def closed_within(sock: ssl.SSLSocket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds`, reading (and dropping) what it sent."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionError, ssl.SSLError):
            return True
        except TimeoutError:
            return False
    return False


def accept_queue(port: int) -> int:
    """Connections the kernel has set up on the listening socket of `port` (IPv4) that the server
    has not accepted yet. In /proc/net/tcp, listening sockets come first, and for them the
    `rx_queue` column is this length (`sk_ack_backlog`, Linux `tcp4_seq_show`)."""
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[3] != "0A":
                break
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                return int(fields[4].split(":")[1], 16)
    raise LookupError(f"no socket listens on port {port}")


def rss_mib(server: ServerProcess) -> float:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1]) / 1024


@contextlib.contextmanager
def peak_rss(server: ServerProcess, every: float = 0.05) -> Iterator[list[float]]:
    """Samples the server's RSS until the block ends; the list holds the peak (MiB)."""
    peak = [rss_mib(server)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            with contextlib.suppress(OSError, ValueError):
                peak[0] = max(peak[0], rss_mib(server))

    thread = threading.Thread(target=sample, name="rss", daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join(2)


def legit_large_reviews(
    port: int,
    context: ssl.SSLContext,
    path: str,
    body: bytes,
    count: int,
    timeout: float,
    *,
    every: float = 0.0,
) -> list[tuple[int, int | None, float]]:
    """`count` large reviews of the API server's (uid `legit-large`), one after another (the
    next `every` seconds after the last began, at the soonest), each on a new connection from
    `LEGIT_SOURCE`; per review (status, code, seconds)."""
    results: list[tuple[int, int | None, float]] = []
    for _ in range(count):
        if results:
            time.sleep(max(every - results[-1][2], 0.0))
        started = time.monotonic()
        tls = open_tls(port, context, timeout=timeout + 1, source=LEGIT_SOURCE)
        try:
            request = head("POST", f"{path}?timeout={timeout:g}s", content_length=len(body))
            tls.sendall(request + body)
            response = read_response(tls)
        finally:
            tls.close()
        took = time.monotonic() - started
        answer = orjson.loads(response.body)["response"] if response.status == 200 else {}
        status = answer.get("status")
        results.append((response.status, status["code"] if status else None, took))
    return results
