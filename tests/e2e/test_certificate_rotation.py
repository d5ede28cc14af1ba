"""A serving certificate renewed under a running server (cert-manager, or a Secret updated by
hand): the server picks it up from its files, requests keep succeeding, new connections get the
new certificate, all verified against the unchanged caBundle."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from tests.e2e.apiserver import Call
from tests.e2e.cluster import generate_service_certificate, install
from tests.e2e.objects import ALICE, ANNOTATION
from tests.support.reviews import promotion

pytestmark = pytest.mark.integration


def _der(pem_file: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem_file.read_text(encoding="ascii"))


def test_a_rotated_certificate_is_served_without_a_restart(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    ca_pem = generate_service_certificate(certs)
    values = {
        "tls": {"mode": "secret", "secret": {"name": "webhook-serving-cert"}, "caBundle": ca_pem}
    }
    with install(
        values, tmp_path, certs=certs, extra_args=["--cert-reload-interval", "0.2"]
    ) as cluster:
        api, transport = cluster.api, cluster.api.transport
        first = api.create(promotion(name="rot-0", annotations={ANNOTATION: "true"}), user=ALICE)
        assert first.code == 201, first.status
        old_certificate = _der(certs / "tls.crt")
        assert transport.last_peer_certificate == old_certificate

        # Same CA, new key and certificate, written in place (key first, then certificate).
        generate_service_certificate(certs, ca_from=certs)
        new_certificate = _der(certs / "tls.crt")
        assert new_certificate != old_certificate

        # The open keep-alive connection goes on with the certificate it was set up with.
        kept = api.create(promotion(name="rot-kept", annotations={ANNOTATION: "true"}), user=ALICE)
        assert kept.code == 201, kept.status

        presented = b""
        deadline = time.monotonic() + 10
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            transport.close()  # a new connection: a new handshake
            result = api.create(
                promotion(name=f"rot-{attempt}", annotations={ANNOTATION: "true"}), user=ALICE
            )
            assert result.code == 201, result.status
            assert result.calls[0] == Call("promotions.mutate.kargo-rollback-webhook", 0, "patched")
            presented = transport.last_peer_certificate
            if presented == new_certificate:
                break
            time.sleep(0.1)
        assert presented == new_certificate, "the server still presents the old certificate"
        assert '"level":"error"' not in cluster.server.logs()
