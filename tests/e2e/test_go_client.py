"""The stand-in's webhook calls as Go's HTTP client makes them (tests/e2e/gowebhookclient):
no re-send of a review the webhook read, Retry-After retries with the same uid, `?timeout=`
from the request's deadline, crypto/x509's verdicts, HTTP/1.1 only, concurrency and the idle
pool of 25, and a review larger than 4 KiB written in parts."""

from __future__ import annotations

import datetime
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e.apiserver import ApiServer
from tests.e2e.cluster import NAMESPACES, Installation, routes_resolver
from tests.e2e.deadline import go_duration, request_seconds
from tests.e2e.fake_configuration import configuration
from tests.e2e.objects import ALICE, ANNOTATION
from tests.e2e.raw_webhook import CLOSE, RawWebhook, Respond, Seen, allowed, raw_serving
from tests.e2e.transport import Endpoint, Transport
from tests.support.reviews import promotion

pytestmark = pytest.mark.integration

DNS_NAME = "fake-webhook.example.svc"
HOOK = "raw.example.com"
URL = f"https://{DNS_NAME}:443/mutate"


def _api(
    webhook: RawWebhook, ca_bundle: bytes, *, failure_policy: str = "Fail", timeout: int = 5
) -> ApiServer:
    hook = configuration(
        ca_bundle,
        name=HOOK,
        configuration_name="raw",
        failure_policy=failure_policy,
        port=None,
        operations=("CREATE",),
        timeout_seconds=timeout,
    )
    routes = {(DNS_NAME, 443): ("127.0.0.1", webhook.port)}
    return ApiServer([hook], resolve=routes_resolver(routes), namespaces=NAMESPACES)


@pytest.fixture
def ca(fake_certs: Path) -> bytes:
    return (fake_certs / "ca.crt").read_bytes()


def _failed(message: str) -> str:
    prefix = f'Internal error occurred: failed calling webhook "{HOOK}"'
    return f"{prefix}: failed to call webhook: {message}"


# --- a review read and then dropped ---------------------------------------------------------


@pytest.mark.parametrize("failure_policy", ["Fail", "Ignore"])
def test_a_review_the_webhook_read_and_dropped_is_a_failed_call(
    fake_certs: Path, ca: bytes, failure_policy: str
) -> None:
    """net/http sends a POST again only when nothing of it was written; this one was read whole,
    so the call fails (under Ignore the write goes through unguarded)."""

    def first_answered_then_dropped(seen: Seen) -> Respond | None:
        return allowed(seen) if seen.index == 0 else CLOSE

    with raw_serving(fake_certs, first_answered_then_dropped) as webhook:
        api = _api(webhook, ca, failure_policy=failure_policy)
        try:
            assert api.create(promotion(name="first"), user=ALICE).code == 201
            result = api.create(promotion(name="second"), user=ALICE)
        finally:
            api.transport.stop()
    first, second = webhook.seen
    assert (second.connection, second.index) == (0, 1), "the kept-alive connection was reused"
    assert first.uid != second.uid
    assert len(webhook.seen) == 2, "the review was sent again"
    if failure_policy == "Ignore":
        assert result.code == 201, result.status
        assert result.audit == {
            "failed-open.mutation.webhook.admission.k8s.io/round_0_index_0": HOOK
        }
        return
    assert result.code == 500, result.status
    assert result.message == _failed(f'Post "{URL}?timeout=5s": EOF')
    assert api.get("Promotion", "proj", "second") is None


# --- Retry-After ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "sent_again"),
    [
        (429, "0", True),
        (500, "0", True),
        (503, "0", True),
        (429, None, False),  # no Retry-After: no retry
        (503, "0.5", False),  # not an integer
        (404, "0", False),  # neither 429 nor >= 500
    ],
)
def test_retry_after_sends_the_same_review_again(
    fake_certs: Path, ca: bytes, status: int, retry_after: str | None, sent_again: bool
) -> None:
    headers = () if retry_after is None else (("Retry-After", retry_after),)

    def once_then_allowed(seen: Seen) -> Respond:
        return Respond(status, headers, b"{}") if seen.index == 0 else allowed(seen)

    with raw_serving(fake_certs, once_then_allowed) as webhook:
        api = _api(webhook, ca)
        try:
            result = api.create(promotion(name="retried"), user=ALICE)
        finally:
            api.transport.stop()
    uids = webhook.uids()
    if sent_again:
        assert result.code == 201, result.status
        assert len(uids) == 2
        assert uids[0] == uids[1], "a retry is the same review"
        return
    assert result.code == 500, result.status
    assert len(uids) == 1


def test_a_webhook_that_always_answers_429_is_tried_eleven_times(
    fake_certs: Path, ca: bytes
) -> None:
    """client-go's maxRetries is 10: the first try and ten more, then the answer's error."""
    with raw_serving(fake_certs, lambda s: Respond(429, (("Retry-After", "0"),))) as webhook:
        api = _api(webhook, ca)
        try:
            result = api.create(promotion(name="throttled"), user=ALICE)
        finally:
            api.transport.stop()
    uids = webhook.uids()
    assert len(uids) == 11
    assert set(uids) == {uids[0]}
    assert result.code == 500
    assert result.message == _failed(
        "the server has received too many requests and has asked us to try again later"
    )


def test_a_retry_after_beyond_the_deadline_ends_with_the_deadline(
    fake_certs: Path, ca: bytes
) -> None:
    """The wait for Retry-After is cut by the call's deadline, and the error is the context's."""
    with raw_serving(fake_certs, lambda s: Respond(503, (("Retry-After", "20"),))) as webhook:
        api = _api(webhook, ca, timeout=1)
        started = time.monotonic()
        try:
            result = api.create(promotion(name="waiting"), user=ALICE)
        finally:
            api.transport.stop()
        elapsed = time.monotonic() - started
    assert elapsed < 10, "the wait outlived the deadline"
    assert len(webhook.seen) == 1
    assert result.code == 500
    assert result.message == _failed("context deadline exceeded")


# --- ?timeout= and the request's deadline ---------------------------------------------------


@pytest.mark.parametrize(
    ("timeout_seconds", "client_timeout", "query"),
    [
        (5, None, "?timeout=5s"),  # 34 s left: timeoutSeconds
        (5, 60.0, "?timeout=5s"),
        (5, 2.9, "?timeout=3s"),  # what is left, under 2.9 s, rounded up
        (30, 0.9, "?timeout=1s"),
    ],
)
def test_the_timeout_query_is_what_is_left_rounded_up(
    fake_certs: Path, ca: bytes, timeout_seconds: int, client_timeout: float | None, query: str
) -> None:
    with raw_serving(fake_certs, allowed) as webhook:
        api = _api(webhook, ca, timeout=timeout_seconds)
        try:
            result = api.create(promotion(name="timed"), user=ALICE, timeout=client_timeout)
        finally:
            api.transport.stop()
    assert result.code == 201, result.status
    (seen,) = webhook.seen
    assert seen.target == f"/mutate{query}"


@pytest.mark.parametrize(
    ("seconds", "text"), [(1, "1s"), (34, "34s"), (60, "1m0s"), (3723, "1h2m3s")]
)
def test_durations_are_written_as_go_writes_them(seconds: int, text: str) -> None:
    """Go's `time.Duration.String`, which `rest.Request.URL` puts in `?timeout=`."""
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("client_timeout", "seconds"), [(None, 34.0), (0.0, 34.0), (10.0, 10.0), (59.0, 34.0)]
)
def test_a_writes_deadline_is_the_clients_within_34_seconds(
    client_timeout: float | None, seconds: float
) -> None:
    """`withRequestDeadline` (none or 0: 60 s) and then `requestTimeoutUpperBound`."""
    assert request_seconds(client_timeout) == seconds


def test_a_short_request_deadline_ends_the_call_and_the_write(fake_certs: Path, ca: bytes) -> None:
    """The client's `?timeout=1s` bounds a webhook of timeoutSeconds 10: 504 after about 1 s."""
    release = threading.Event()

    def slow(seen: Seen) -> Respond:
        release.wait(10)
        return allowed(seen)

    with raw_serving(fake_certs, slow) as webhook:
        api = _api(webhook, ca, timeout=10)
        started = time.monotonic()
        try:
            result = api.create(promotion(name="late"), user=ALICE, timeout=1)
        finally:
            elapsed = time.monotonic() - started
            release.set()
            api.transport.stop()
    assert webhook.seen[0].target == "/mutate?timeout=1s"
    assert elapsed < 5, "the call outlived the request's deadline"
    assert result.code == 504, result.status
    assert result.status is not None
    assert result.status["reason"] == "Timeout"
    assert result.message == (
        "Timeout: request did not complete within requested timeout - context deadline exceeded"
    )


# --- TLS by crypto/x509 ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and serving certificates OpenSSL's defaults would not all refuse, Go's do."""
    out = tmp_path_factory.mktemp("odd-certs")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaves = {
        "client-auth only": (
            [x509.SubjectAlternativeName([x509.DNSName(DNS_NAME)])],
            [ExtendedKeyUsageOID.CLIENT_AUTH],
        ),
        "common name only": ([], [ExtendedKeyUsageOID.SERVER_AUTH]),
    }
    dirs: dict[str, Path] = {}
    for name, (sans, usages) in leaves.items():
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DNS_NAME)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        for extension in sans:
            builder = builder.add_extension(extension, critical=False)
        leaf = builder.sign(ca_key, hashes.SHA256())
        where = out / name.replace(" ", "-")
        where.mkdir()
        (where / "tls.crt").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        (where / "tls.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (where / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        dirs[name] = where
    return dirs


@pytest.mark.parametrize(
    ("certificate", "go_error"),
    [
        ("client-auth only", "x509: certificate specifies an incompatible key usage"),
        (
            "common name only",
            "x509: certificate relies on legacy Common Name field, use SANs instead",
        ),
    ],
)
def test_a_certificate_go_refuses_fails_the_call(
    odd_certificates: dict[str, Path], certificate: str, go_error: str
) -> None:
    certs = odd_certificates[certificate]
    with raw_serving(certs, allowed) as webhook:
        api = _api(webhook, (certs / "ca.crt").read_bytes())
        try:
            result = api.create(promotion(name="odd"), user=ALICE)
        finally:
            api.transport.stop()
    assert webhook.seen == []
    assert result.code == 500
    assert result.message == _failed(
        f'Post "{URL}?timeout=5s": tls: failed to verify certificate: {go_error}'
    )


# --- the wire: HTTP/1.1, concurrency, the idle pool, bodies in parts ------------------------


def test_concurrent_calls_and_an_idle_pool_of_25(fake_certs: Path, ca: bytes) -> None:
    """30 calls in flight at once take 30 connections, h2 offered or not; 25 stay idle, so the
    next 30 dial 5 more (client-go `idleConnsPerHost`)."""
    batch = 30
    barrier = threading.Barrier(batch, timeout=20)

    def all_at_once(seen: Seen) -> Respond:
        barrier.wait()
        return Respond(body=b"{}")

    with raw_serving(fake_certs, all_at_once) as webhook:
        transport = Transport(routes_resolver({(DNS_NAME, 443): ("127.0.0.1", webhook.port)}))
        endpoint = Endpoint(DNS_NAME, 443, ca)
        try:
            with ThreadPoolExecutor(batch) as pool:
                for expected_new in (batch, batch + 5):
                    statuses = list(
                        pool.map(
                            lambda _: (
                                transport.request(
                                    endpoint, "POST", "/x", body=b"{}", timeout=30
                                ).status
                            ),
                            range(batch),
                        )
                    )
                    assert statuses == [200] * batch
                    assert transport.new_connections == expected_new
                    barrier.reset()
        finally:
            transport.stop()
    assert {seen.alpn for seen in webhook.seen} == {"http/1.1"}
    assert len({seen.connection for seen in webhook.seen}) == batch + 5


def _large_promotion(name: str) -> dict[str, Any]:
    return promotion(name=name, annotations={ANNOTATION: "true", "notes": "n" * 16_384})


def test_a_review_over_4_kib_arrives_in_parts(fake_certs: Path, ca: bytes) -> None:
    with raw_serving(fake_certs, allowed) as webhook:
        api = _api(webhook, ca)
        try:
            assert api.create(_large_promotion("large"), user=ALICE).code == 201
        finally:
            api.transport.stop()
    (seen,) = webhook.seen
    assert len(seen.body) > 16_384
    assert seen.body_reads > 1


def test_the_guard_strips_the_annotation_from_a_review_in_parts(strip_mode: Installation) -> None:
    """The chart's server reads a review that Go wrote in several parts, and still guards it."""
    result = strip_mode.api.create(_large_promotion("large-guarded"), user=ALICE)
    assert result.code == 201, result.status
    assert result.object is not None
    assert result.object["metadata"]["annotations"] == {"notes": "n" * 16_384}
