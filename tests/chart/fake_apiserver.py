"""Just enough of a Kubernetes API server for `helm template --dry-run=server`.

helm's `lookup` (which tls.mode=helm relies on to keep its certificate across upgrades) only
talks to a cluster. This serves discovery for the kinds the chart renders by default and the
Secrets it is given; every other object is 404, as on a cluster without the release.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# group/version -> (plural, kind, namespaced) of the kinds `helm template` maps.
_RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "admissionregistration.k8s.io/v1": [
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False),
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False),
    ],
}


def _resource_list(group_version: str) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["get", "list", "create", "update", "patch", "delete"],
            }
            for plural, kind, namespaced in _RESOURCES[group_version]
        ],
    }


def _discovery(path: str) -> dict[str, Any] | None:
    if path == "/version":
        return {"major": "1", "minor": "35", "gitVersion": "v1.35.0", "platform": "linux/amd64"}
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
        }
    if path == "/apis":
        groups = [gv for gv in _RESOURCES if "/" in gv]
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": gv.split("/")[0],
                    "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                    "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
                }
                for gv in groups
            ],
        }
    if path == "/api/v1":
        return _resource_list("v1")
    if path.startswith("/apis/") and path.removeprefix("/apis/") in _RESOURCES:
        return _resource_list(path.removeprefix("/apis/"))
    return None


class FakeAPIServer:
    """Serves discovery and `secrets` (namespace, name) -> Secret; records every GET path."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[str] = []

    def answer(self, path: str) -> dict[str, Any] | None:
        self.requests.append(path)
        found = _discovery(path)
        if found is not None:
            return found
        parts = path.strip("/").split("/")
        if len(parts) == 6 and parts[:2] == ["api", "v1"] and parts[4] == "secrets":
            return self.secrets.get((parts[3], parts[5]))
        return None

    @contextmanager
    def serving(self, kubeconfig: Path) -> Iterator[Path]:
        """Serve on a free local port; write and yield a kubeconfig that points at it."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = fake.answer(self.path.split("?")[0])
                status = 200
                if body is None:
                    status = 404
                    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "reason": "NotFound", "code": 404}  # fmt: skip
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            host, port = server.server_address[:2]
            kubeconfig.write_text(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "clusters": [
                            {"name": "fake", "cluster": {"server": f"http://{host!s}:{port}"}}
                        ],
                        "users": [{"name": "fake", "user": {"token": "fake"}}],
                        "contexts": [
                            {"name": "fake", "context": {"cluster": "fake", "user": "fake"}}
                        ],
                        "current-context": "fake",
                    }
                ),
                encoding="utf-8",
            )
            yield kubeconfig
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
