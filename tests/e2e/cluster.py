"""The chart as installed: `helm template` with the real helm, its server process, the stand-in.

Everything the stand-in knows comes from the rendered manifests: the webhook configurations
(rules, selectors, policies, `clientConfig.service` and `caBundle`), the serving certificate
(tls.mode=helm: the chart's own CA and certificate from the rendered Secret) and the server's
settings (the Deployment's `KRW_*` environment). Only what a pod does not decide is replaced: the
listen address and port, the certificate file paths, and the drain before exit (no endpoints
controller takes the pod out of a Service here).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.chart.helm import FULLNAME, NAMESPACE, Manifest, env_of, one, render, webhooks
from tests.e2e.apiserver import ApiServer
from tests.e2e.transport import CallError, Endpoint, Resolve, Transport
from tests.support.pki import certs_generate
from tests.support.ports import free_port
from tests.support.server import ServerProcess

SERVICE: Final = FULLNAME
SERVICE_DNS_NAME: Final = f"{SERVICE}.{NAMESPACE}.svc"

PROJECT: Final = "proj"
# The namespaces of the stand-in's cluster and their labels (Kargo labels its Project namespaces).
NAMESPACES: Final[Mapping[str, Mapping[str, str]]] = {
    PROJECT: {"kargo.akuity.io/project": "true"},
    "kargo": {},
    "kube-system": {},
    NAMESPACE: {},
}

# Settings a pod gets from its environment that the test process replaces by flags (which win).
_REPLACED_ENV: Final = ("KRW_HOST", "KRW_PORT", "KRW_TLS_CERT_FILE", "KRW_TLS_KEY_FILE")


def write_chart_certificate(manifests: Sequence[Manifest], out: Path) -> Path:
    """tls.mode=helm: the rendered Secret's ca.crt, tls.crt and tls.key, as the pod mounts them."""
    out.mkdir(parents=True, exist_ok=True)
    secret = one(manifests, "Secret")
    assert secret["type"] == "kubernetes.io/tls"
    for key in ("ca.crt", "tls.crt", "tls.key"):
        (out / key).write_bytes(base64.b64decode(secret["data"][key]))
    (out / "tls.key").chmod(0o600)
    return out


def generate_service_certificate(out: Path, *, ca_from: Path | None = None) -> str:
    """`certs generate --service --namespace` (re-using the CA in `ca_from`); the caBundle PEM."""
    arguments = ["--service", SERVICE, "--namespace", NAMESPACE]
    if ca_from is not None:
        arguments += ["--ca-cert", str(ca_from / "ca.crt"), "--ca-key", str(ca_from / "ca.key")]
    printed = certs_generate(out, *arguments, local=False)
    return base64.b64decode(printed.strip()).decode("ascii")


def server_env(manifests: Sequence[Manifest]) -> dict[str, str]:
    """The Deployment's `KRW_*` settings, less those the test process replaces."""
    return {k: v for k, v in env_of(manifests).items() if k not in _REPLACED_ENV}


@dataclass
class Installation:
    """One rendered release: its webhook server process and an API server in front of it."""

    manifests: list[Manifest]
    server: ServerProcess
    api: ApiServer
    ca_bundle: bytes
    # (DNS name, port) -> local address; tests add routes for webhooks of their own.
    routes: dict[tuple[str, int], tuple[str, int]]

    @property
    def endpoint(self) -> Endpoint:
        service = one(self.manifests, "Service")
        return Endpoint(SERVICE_DNS_NAME, int(service["spec"]["ports"][0]["port"]), self.ca_bundle)


def routes_resolver(routes: Mapping[tuple[str, int], tuple[str, int]]) -> Resolve:
    def resolve(host: str, port: int) -> tuple[str, int]:
        address = routes.get((host, port))
        if address is None:
            raise AssertionError(f"no route to {host}:{port} in this test cluster")
        return address

    return resolve


def chart_ca_bundle(manifests: Sequence[Manifest]) -> bytes:
    """The caBundle all webhooks carry (they must agree)."""
    bundles = {hook["clientConfig"]["caBundle"] for hook in webhooks(manifests)}
    (bundle,) = bundles
    return base64.b64decode(bundle)


def wait_ready(transport: Transport, endpoint: Endpoint, server: ServerProcess) -> None:
    """Poll /readyz through the Service name and the chart's caBundle (bounded: 30 s)."""
    deadline = time.monotonic() + 30
    last: object = None
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise AssertionError(
                f"server exited with {server.process.returncode}:\n{server.logs()}"
            )
        try:
            if transport.request(endpoint, "GET", "/readyz", timeout=2).status == 200:
                transport.close()
                return
        except CallError as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"server not ready after 30 s ({last}):\n{server.logs()}")


@contextmanager
def install(
    values: Mapping[str, Any],
    workdir: Path,
    *,
    certs: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[Installation]:
    """Render, start the server and put a stand-in API server in front; stop on exit.

    `certs` holds tls.crt/tls.key for tls.mode=secret; in tls.mode=helm the chart's own are used.
    """
    manifests = render(values)
    if certs is None:
        certs = write_chart_certificate(manifests, workdir / "tls")
    port = free_port()
    service_port = int(one(manifests, "Service")["spec"]["ports"][0]["port"])

    # The Service's ClusterIP and port lead to the pod's container port: here, the process.
    routes = {(SERVICE_DNS_NAME, service_port): ("127.0.0.1", port)}
    api = ApiServer(manifests, resolve=routes_resolver(routes), namespaces=NAMESPACES)
    server = ServerProcess(
        certs=certs,
        log_path=workdir / "server.log",
        args=["--drain-seconds", "0", *extra_args],
        env=server_env(manifests),
        port=port,
    ).start(wait_ready=False)
    installation = Installation(manifests, server, api, chart_ca_bundle(manifests), routes)
    try:
        wait_ready(api.transport, installation.endpoint, server)
        yield installation
    finally:
        api.transport.stop()
        if server.process is not None and server.process.poll() is None:
            server.stop()
