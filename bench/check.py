"""`make bench-check`: `kargo-rollback-webhook check` on 1,000 manifests (target: under a second).

Writes a repository-like tree of YAML manifests into a temporary directory: ProjectConfigs with
several promotion policies (exact names, patterns, label selectors, both autoRollback shapes),
Promotions with and without annotations, and ordinary kinds (Deployments, ConfigMaps) that are
skipped, spread over files of one to several documents, plus one `List`. Then it times:

- the console script as CI runs it (a fresh process: interpreter start, imports, reading,
  checking, printing), median of --runs runs;
- the check alone, in this process, for comparison.

Usage: make bench-check, or .venv/bin/python -m bench.check [--manifests N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from app.commands.check import CheckOptions, check_paths


def project_config(i: int) -> dict[str, object]:
    name = f"project-{i}"
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": name, "namespace": name},
        "spec": {
            "promotionPolicies": [
                {"stage": "dev", "autoPromotionEnabled": True},
                {
                    "stageSelector": {"name": "staging"},
                    "autoRollback": {"onPromotion": ["Failed", "Errored"]},
                },
                {
                    "stageSelector": {"name": "glob:prod-{eu,us}-*"},
                    "autoRollback": {"onVerification": ["Failed"]},
                },
                {
                    "stageSelector": {
                        "name": "regex:^canary-[0-9]+$",
                        "matchLabels": {"kargo.akuity.io/tier": "canary"},
                        "matchExpressions": [
                            {"key": "region", "operator": "In", "values": ["eu", "us"]}
                        ],
                    },
                    "autoRollback": {"onFailedPromotions": True},
                },
            ],
            "promotionWindows": [{"stageSelector": {"name": "glob:prod-*"}, "kind": "deny"}],
        },
    }


def promotion(i: int) -> dict[str, object]:
    metadata: dict[str, object] = {"name": f"prod.{i:06d}", "namespace": f"project-{i % 50}"}
    if i % 3 == 0:
        metadata["annotations"] = {"kargo.akuity.io/description": "weekly release"}
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": metadata,
        "spec": {"stage": "prod", "freight": f"{i:040x}"},
    }


def deployment(i: int) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"app-{i}", "labels": {"app": f"app-{i}"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": f"app-{i}"}},
            "template": {
                "metadata": {"labels": {"app": f"app-{i}"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"ghcr.io/example/app:{i}",
                            "ports": [{"containerPort": 8080}],
                            "env": [{"name": "MODE", "value": "production"}],
                        }
                    ]
                },
            },
        },
    }


def config_map(i: int) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"settings-{i}"},
        "data": {"a": "1", "b": "two"},
    }


MAKERS = (project_config, promotion, deployment, config_map)


def write_tree(root: Path, count: int) -> None:
    """`count` manifests: a quarter of each kind, in files of 1 to 7 documents, one List."""
    manifests = [MAKERS[i % len(MAKERS)](i) for i in range(count)]
    listed, rest = manifests[:20], manifests[20:]
    (root / "list.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": listed}, sort_keys=False)
    )
    i = n = 0
    while i < len(rest):
        size = 1 + n % 7
        folder = root / f"team-{n % 10}"
        folder.mkdir(exist_ok=True)
        docs = rest[i : i + size]
        (folder / f"app-{n}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
        i, n = i + size, n + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    script = Path(sys.executable).parent / "kargo-rollback-webhook"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, args.manifests)
        files = sum(1 for _ in root.rglob("*.yaml"))

        walls = []
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
                [str(script), "check", str(root)], capture_output=True, text=True, check=False
            )
            walls.append(time.perf_counter() - start)
        if done.returncode != 0:
            print(done.stdout, done.stderr, file=sys.stderr)
            return 1
        summary = done.stdout.strip().splitlines()[-1]

        inner = []
        for _ in range(args.runs):
            start = time.perf_counter()
            report = check_paths([str(root)], CheckOptions())
            inner.append(time.perf_counter() - start)
        assert report.manifests == args.manifests, report.summary()

    print(f"{args.manifests} manifests in {files} files; {summary}")
    print(
        f"console script (fresh process): median {statistics.median(walls):.3f} s, "
        f"best {min(walls):.3f} s over {args.runs} runs"
    )
    print(
        f"check alone (in process):      median {statistics.median(inner):.3f} s, "
        f"best {min(inner):.3f} s"
    )
    python = sys.version.split()[0]
    print(f"python {python}, {os.cpu_count()} CPUs, libyaml {yaml.__with_libyaml__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
