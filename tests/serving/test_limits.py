"""Slow, oversized and flooding clients against the real server: they lose, real calls do not.

Each test measures with the clock it is about (a header deadline of 0.5 s must close the
connection between 0.4 s and 2 s) and bounds every loop by a count and a time limit.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from app.kargo.constants import PROMOTION_MUTATE_PATH
from tests.serving.clients import (
    Response,
    admission_request,
    connection,
    exchange,
    get_request,
    head,
    is_closed_by_peer,
    open_tls,
    poll_bytes,
    read_response,
    review_body,
    seconds_until_closed,
)
from tests.serving.conftest import StartServer
from tests.support.server import ServerProcess
from tests.support.tls import client_context

pytestmark = pytest.mark.integration

SLOW_CLIENTS = 100
# A head cut after a header name: the client "is still typing" the value.
STALLED_HEAD = (
    b"POST " + PROMOTION_MUTATE_PATH.encode() + b" HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
)


@pytest.fixture
def context(pki: Path) -> ssl.SSLContext:
    return client_context(pki / "ca.crt")


@pytest.fixture(scope="module")
def strict(start_module_server: StartServer) -> ServerProcess:
    """One server with short deadlines and small limits, shared by the tests that probe them."""
    return start_module_server(
        "--header-timeout",
        "0.5",
        "--body-timeout",
        "0.5",
        "--max-header-bytes",
        "4096",
        "--max-body-bytes",
        "65536",
    )


@pytest.fixture
def held() -> Iterator[list[ssl.SSLSocket]]:
    """Sockets a test holds open; closed after the test whatever happens."""
    sockets: list[ssl.SSLSocket] = []
    yield sockets
    for tls in sockets:
        tls.close()


def timed_admission(port: int, context: ssl.SSLContext, uid: str) -> float:
    """A normal call on a new connection (handshake included); returns its latency."""
    started = time.monotonic()
    with connection(port, context) as tls:
        response = exchange(tls, admission_request(uid))
    elapsed = time.monotonic() - started
    assert response.status == 200, response
    assert uid.encode() in response.body
    return elapsed


def hold_body(port: int, context: ssl.SSLContext, uid: str) -> tuple[ssl.SSLSocket, bytes]:
    """A request whose head and half its body were sent; returns the socket and the rest."""
    body = review_body(uid)
    tls = open_tls(port, context)
    tls.sendall(head("POST", PROMOTION_MUTATE_PATH, content_length=len(body)) + body[:20])
    return tls, body[20:]


# --- slow clients ------------------------------------------------------------------------------


def test_a_hundred_slow_clients_do_not_delay_a_normal_request(
    start_server: StartServer, context: ssl.SSLContext, held: list[ssl.SSLSocket]
) -> None:
    server = start_server()  # default deadlines (10 s): the slow clients outlive the test
    baseline = [timed_admission(server.port, context, f"base-{i}") for i in range(5)]

    def open_slow(index: int) -> ssl.SSLSocket:
        if index % 2 == 0:
            tls = open_tls(server.port, context)
            tls.sendall(STALLED_HEAD)
            return tls
        return hold_body(server.port, context, f"slow-{index}")[0]

    with ThreadPoolExecutor(max_workers=25) as pool:
        held.extend(pool.map(open_slow, range(SLOW_CLIENTS)))

    loaded = []
    for i in range(5):
        for tls in held[::2]:  # the header-stalled half trickles on, as slowloris does
            tls.sendall(b"a")
        loaded.append(timed_admission(server.port, context, f"loaded-{i}"))

    print(
        f"\nnormal call on a new connection: max {max(baseline) * 1000:.1f} ms alone, "
        f"max {max(loaded) * 1000:.1f} ms beside {SLOW_CLIENTS} slow clients"
    )
    assert max(loaded) < 1.0
    # Nobody was dropped to make room: the slow clients are all still connected.
    assert not any(is_closed_by_peer(tls, wait=0.01) for tls in held)


def test_header_deadline_closes_a_stalled_head(
    strict: ServerProcess, context: ssl.SSLContext
) -> None:
    with connection(strict.port, context) as tls:
        tls.sendall(STALLED_HEAD)
        assert 0.4 <= seconds_until_closed(tls, limit=5) < 2.0


def test_header_deadline_is_not_reset_by_trickling_bytes(
    strict: ServerProcess, context: ssl.SSLContext
) -> None:
    with connection(strict.port, context) as tls:
        started = time.monotonic()
        tls.sendall(STALLED_HEAD)
        closed_after = None
        for _ in range(30):  # one byte every 0.1 s, for at most 3 s
            try:
                tls.sendall(b"a")
            except (ConnectionError, ssl.SSLError):
                closed_after = time.monotonic() - started
                break
            if is_closed_by_peer(tls, wait=0.1):
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "a trickling head was allowed to go on"
    assert 0.4 <= closed_after < 2.0


def test_the_header_clock_starts_with_the_first_byte_not_the_connection(
    strict: ServerProcess, context: ssl.SSLContext
) -> None:
    """A connection that sends nothing is idle (keep-alive rules), not a slow head."""
    with connection(strict.port, context) as tls:
        time.sleep(1.5)
        response = exchange(tls, admission_request("after-idle"))
    assert response.status == 200


def test_body_deadline_answers_408_and_closes(
    strict: ServerProcess, context: ssl.SSLContext
) -> None:
    """The first 20 bytes hold no uid: HTTP 408, with an AdmissionReview whose uid is empty."""
    tls, _ = hold_body(strict.port, context, "stalled-body")
    with tls:
        started = time.monotonic()
        response = read_response(tls)
        elapsed = time.monotonic() - started
        assert response.status == 408
        answer = orjson.loads(response.body)["response"]
        assert (answer["uid"], answer["allowed"], answer["status"]["code"]) == ("", False, 408)
        assert response.closes
        assert seconds_until_closed(tls, limit=5) < 2.0
    assert 0.3 <= elapsed < 2.0


def denial_of(response: Response) -> tuple[str, int]:
    """(uid, status code) of a denial answered HTTP 200."""
    assert response.status == 200, response
    answer = orjson.loads(response.body)["response"]
    assert answer["allowed"] is False
    return answer["uid"], answer["status"]["code"]


def test_a_body_late_past_its_uid_is_denied_408_with_the_uid(
    strict: ServerProcess, context: ssl.SSLContext
) -> None:
    """The API server's uid is in the part that arrived: the 408 is a denial the API server
    can match to its call (HTTP 200, its uid, code 408), and the connection closes."""
    body = review_body("late-body-uid")
    with open_tls(strict.port, context) as tls:
        tls.sendall(head("POST", PROMOTION_MUTATE_PATH, content_length=len(body)) + body[:200])
        response = read_response(tls)
        assert denial_of(response) == ("late-body-uid", 408)
        assert response.closes
        assert seconds_until_closed(tls, limit=5) < 2.0


# --- sizes -------------------------------------------------------------------------------------


def header_of(size: int) -> bytes:
    """A GET /healthz head of exactly `size` bytes."""
    bare = get_request("/healthz")
    filler = size - len(bare) - len("X-Fill: \r\n")
    assert filler > 0
    return bare[:-2] + b"X-Fill: " + b"f" * filler + b"\r\n\r\n"


@pytest.mark.parametrize("pieces", [1, 16], ids=["in one write", "in 16 writes"])
def test_a_head_over_the_limit_gets_431_and_closes(
    strict: ServerProcess, context: ssl.SSLContext, pieces: int
) -> None:
    request = header_of(5000)
    with connection(strict.port, context) as tls:
        step = -(-len(request) // pieces)
        for offset in range(0, len(request), step):
            try:
                tls.sendall(request[offset : offset + step])
            except (ConnectionError, ssl.SSLError):
                break  # refused before the rest was sent; the answer is already there
        response = read_response(tls)
        assert response.status == 431
        assert response.closes
        assert seconds_until_closed(tls, limit=5) < 2.0


def test_a_head_at_the_limit_is_served(strict: ServerProcess, context: ssl.SSLContext) -> None:
    with connection(strict.port, context) as tls:
        assert exchange(tls, header_of(4096)).status == 200
        # Counted per request: a second head of the same size on the same connection is fine.
        assert exchange(tls, header_of(4096)).status == 200


def test_a_body_declared_over_the_limit_gets_413_without_being_read(
    strict: ServerProcess, context: ssl.SSLContext
) -> None:
    with connection(strict.port, context) as tls:
        started = time.monotonic()
        tls.sendall(head("POST", PROMOTION_MUTATE_PATH, content_length=10 * 1024 * 1024))
        tls.sendall(b"{" * 1024)
        response = read_response(tls)
        assert time.monotonic() - started < 1.0
        assert response.status == 413
        # The rest of the body is not read: the answer closes the connection.
        assert response.closes
        assert seconds_until_closed(tls, limit=5) < 2.0


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_body_over_the_limit_is_denied_413_with_its_uid(
    strict: ServerProcess, context: ssl.SSLContext, chunked: bool
) -> None:
    """A review over the limit whose start carries the uid, as the API server writes it: a
    denial with its uid and code 413 (HTTP 200), at once, and the connection closes."""
    start = review_body("too-large-uid")[:-2]  # the review, left open for the filler
    with open_tls(strict.port, context) as tls:
        if chunked:
            filler = b"%x\r\n%s\r\n" % (70_000, b" " * 70_000)
            request = head("POST", PROMOTION_MUTATE_PATH, chunked=True)
            request += b"%x\r\n%s\r\n" % (len(start), start) + filler
        else:
            request = head("POST", PROMOTION_MUTATE_PATH, content_length=10 * 1024 * 1024)
            request += start
        started = time.monotonic()
        tls.sendall(request)
        response = read_response(tls)
        assert time.monotonic() - started < 1.0
        assert denial_of(response) == ("too-large-uid", 413)
        assert response.closes


def test_an_endless_chunked_body_is_cut_off_with_413(
    strict: ServerProcess, context: ssl.SSLContext
) -> None:
    limit = 65536
    chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
    sent = 0
    received = b""
    with connection(strict.port, context) as tls:
        tls.sendall(head("POST", PROMOTION_MUTATE_PATH, chunked=True))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sent < 64 * 1024 * 1024:
            data = poll_bytes(tls)
            if data:
                received += data
                break
            try:
                tls.sendall(chunk)
                sent += len(chunk)
            except (ConnectionError, ssl.SSLError):
                break  # closed while we were sending: the answer is waiting to be read
        answer = read_response(tls, received)
        assert answer.status == 413
        assert answer.closes
        assert seconds_until_closed(tls, limit=5) < 2.0
    print(f"\nendless chunked body: 413 after {sent} bytes sent (limit {limit})")
    # Whatever was in flight in socket buffers, the server stopped long before megabytes.
    assert sent < 16 * 1024 * 1024


# --- protocol ----------------------------------------------------------------------------------


@pytest.mark.parametrize("upgrade", ["websocket", "h2c"])
def test_an_upgrade_request_is_answered_as_http_1_1_and_closes(
    strict: ServerProcess, context: ssl.SSLContext, upgrade: str
) -> None:
    request = head(
        "GET",
        "/healthz",
        extra=[
            ("Connection", "Upgrade, HTTP2-Settings"),
            ("Upgrade", upgrade),
            ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
    )
    with connection(strict.port, context) as tls:
        response = exchange(tls, request)
        assert response.status == 200
        assert response.closes
        assert seconds_until_closed(tls, limit=5) < 2.0
