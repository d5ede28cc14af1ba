"""Serve a rotated certificate without restarting: poll the files, swap the context by reference.

Why poll content rather than watch files: Kubernetes updates a mounted Secret by writing a new
timestamped directory and swapping the `..data` symlink; `tls.crt` itself is a symlink that never
changes, inotify sees events on the directory only, and cert-manager, kubelet and hand-made
`kubectl cp` all write differently. A hash of both files' bytes every few seconds sees every one
of them, costs a couple of small reads, and is what controller-runtime's certwatcher falls back
to as well.

How new handshakes get the new pair: the server is handed one outer `SSLContext` whose
`sni_callback` points each new connection at the current inner context (`ssl_object.context =
...`, OpenSSL's `SSL_set_SSL_CTX`). OpenSSL runs that callback for every ClientHello, with or
without SNI (name None), so no client can bypass it; the outer context deliberately holds no
certificate, so if the callback ever did not run the handshake would fail loudly rather than
serve a stale certificate. Swapping the inner context is one reference assignment: atomic for
the callback, whichever thread runs it, and connections already established keep the SSL
object (and certificate) they were built with.

Every inner context is configured exactly like the outer one (versions, ALPN, client CA):
after the switch OpenSSL reads some settings from the inner context (ALPN selection, the
certificate store that verifies client certificates) and others from the connection, which
copied them from the outer one.

Handing it to uvicorn (0.47+): `uvicorn.Config(app, ssl_context_factory=lambda _config,
_default: reloader.context, ...)` without `ssl_certfile`; uvicorn calls the factory once in
`Config.load()` and listens with that context. One worker only: an SSLContext cannot be pickled
into worker processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

from cryptography import x509

from app.tls.pair import (
    CertificateError,
    CertificatePair,
    parse_certificates,
    parse_pair,
    parse_private_key,
    utc_now,
)

TLSVersion = Literal["1.2", "1.3"]
PairFile = Literal["cert", "key", "client-ca"]


class PairFileError(CertificateError):
    """The initial pair cannot be served, and `file` says which of the files is at fault."""

    def __init__(self, message: str, file: PairFile) -> None:
        super().__init__(message)
        self.file: PairFile = file


_MINIMUM_VERSIONS: Final[dict[TLSVersion, ssl.TLSVersion]] = {
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}

# The API server speaks HTTP/1.1 to webhooks; offering h2 would only widen what a client can
# make the server parse.
ALPN_PROTOCOLS: Final = ["http/1.1"]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read: {exc.strerror or exc}") from exc


class CertificateReloader:
    """The TLS context for the server, following the certificate files as they are rotated.

    A new pair that cannot be served (unreadable, half-written, not PEM, key not matching,
    expired) leaves the current pair serving; `on_error` gets a one-line reason on every poll
    that finds the broken content, so the server's log and error counter show the problem for as
    long as it lasts, and the next poll tries again. `on_reload` gets the new certificate after
    each successful swap (not for the pair loaded at construction; read `certificate` for that).

    Callbacks run on the thread that calls `check_now` (the event loop, for `run`). The client CA
    file is read once, at construction: changing it needs a restart.
    """

    def __init__(
        self,
        *,
        cert_file: Path,
        key_file: Path,
        client_ca_file: Path | None,
        min_version: TLSVersion,
        interval: float,
        on_reload: Callable[[x509.Certificate], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Load and validate the initial pair; raises `PairFileError` if it cannot be served."""
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        if min_version not in _MINIMUM_VERSIONS:
            raise ValueError(f"min_version must be one of {sorted(_MINIMUM_VERSIONS)}")
        self._cert_file = cert_file
        self._key_file = key_file
        self._min_version = _MINIMUM_VERSIONS[min_version]
        self._interval = interval
        self._on_reload = on_reload
        self._on_error = on_error
        self._clock = clock
        self._client_ca: str | None = None
        if client_ca_file is not None:
            with _blaming("client-ca"):
                ca_pem = _read(client_ca_file)
                parse_certificates(ca_pem, source=str(client_ca_file))
            self._client_ca = ca_pem.decode("ascii", errors="replace")

        with _blaming("cert"):
            cert_pem = _read(cert_file)
            parse_certificates(cert_pem, source=str(cert_file))
        with _blaming("key"):
            key_pem = _read(key_file)
            parse_private_key(key_pem, source=str(key_file))
        contents = (cert_pem, key_pem)
        # Each file parses on its own; what is left is the pair: an expired certificate is the
        # certificate's fault, a key that does not match it the key's.
        try:
            parse_pair(
                cert_pem,
                key_pem,
                cert_source=str(cert_file),
                key_source=str(key_file),
                now=self._clock(),
            )
        except CertificateError as exc:
            leaf = parse_certificates(cert_pem, source=str(cert_file))[0]
            expired = self._clock() > leaf.not_valid_after_utc
            raise PairFileError(str(exc), "cert" if expired else "key") from None
        with _blaming("cert"):  # what is left: OpenSSL refusing the certificate file
            self._pair, self._inner = self._load(contents)
        self._digest = _digest(contents)
        self._outer = self._new_context()
        self._outer.sni_callback = self._select_context

    @property
    def context(self) -> ssl.SSLContext:
        """The context to hand to the server; it never changes, what it serves does."""
        return self._outer

    @property
    def certificate(self) -> x509.Certificate:
        """The certificate new handshakes present; `not_valid_after_utc` is its expiry."""
        return self._pair.certificate

    def check_now(self) -> bool:
        """Read the files and install the pair if its content changed; True if one was installed.

        A failure is reported only if the files still hold what was read: a rotation caught
        between the certificate and the key (two renames, or the `..data` swap between two
        reads) is not an error, and the next poll sees it complete.
        """
        try:
            contents = self._read_pair()
        except CertificateError as exc:
            self._report(str(exc))
            return False
        digest = _digest(contents)
        if digest == self._digest:
            return False
        try:
            pair, inner = self._load(contents)
        except CertificateError as exc:
            if not self._changed_since(contents):
                self._report(str(exc))
            return False
        if self._changed_since(contents):
            # OpenSSL read the paths itself; only when they still hold the validated bytes do
            # we know it loaded those.
            return False
        self._pair, self._inner, self._digest = pair, inner, digest
        if self._on_reload is not None:
            self._on_reload(pair.certificate)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every `interval` seconds until `stop` is set.

        The reads are a few kilobytes from a tmpfs-backed Secret volume, so they run on the event
        loop: callbacks then run there too, and nothing races the swap.
        """
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
            except TimeoutError:
                self._poll()

    def _poll(self) -> None:
        try:
            self.check_now()
        except Exception as exc:  # a raising callback must not end reloading for good
            self._report(f"certificate reload failed unexpectedly: {exc!r}")

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)

    def _read_pair(self) -> tuple[bytes, bytes]:
        return _read(self._cert_file), _read(self._key_file)

    def _changed_since(self, contents: tuple[bytes, bytes]) -> bool:
        try:
            return self._read_pair() != contents
        except CertificateError:
            return True

    def _load(self, contents: tuple[bytes, bytes]) -> tuple[CertificatePair, ssl.SSLContext]:
        cert_pem, key_pem = contents
        pair = parse_pair(
            cert_pem,
            key_pem,
            cert_source=str(self._cert_file),
            key_source=str(self._key_file),
            now=self._clock(),
        )
        inner = self._new_context()
        try:
            # The stdlib loads certificates from paths only; `_changed_since` afterwards makes
            # sure the paths still held the bytes validated above.
            inner.load_cert_chain(self._cert_file, self._key_file)
        except (ssl.SSLError, OSError) as exc:
            reason = " ".join(str(exc).split())
            raise CertificateError(
                f"{self._cert_file}: OpenSSL refused the pair: {reason}"
            ) from exc
        return pair, inner

    def _new_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = self._min_version
        # Renegotiation lets a client restart handshakes on an established connection at the
        # server's CPU cost; TLS 1.3 has none and the API server never asks for it.
        context.options |= ssl.OP_NO_RENEGOTIATION
        context.set_alpn_protocols(ALPN_PROTOCOLS)
        if self._client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self._client_ca)
        return context

    def _select_context(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        """`sni_callback`: point the handshake at the current pair's context."""
        connection.context = self._inner


@contextmanager
def _blaming(file: PairFile) -> Iterator[None]:
    """A `CertificateError` raised inside is `file`'s fault."""
    try:
        yield
    except PairFileError:
        raise
    except CertificateError as exc:
        raise PairFileError(str(exc), file) from None


def _digest(contents: tuple[bytes, bytes]) -> bytes:
    # Length-prefixed so that moving bytes from one file to the other changes the digest.
    hasher = hashlib.sha256()
    for data in contents:
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.digest()
