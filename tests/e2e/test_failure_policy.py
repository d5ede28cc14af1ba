"""The server gone: failurePolicy Fail keeps the guard closed, Ignore lets writes through."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.cluster import install
from tests.e2e.objects import ALICE, ANNOTATION
from tests.support.reviews import project_config, promotion

pytestmark = pytest.mark.integration

MUTATE = "promotions.mutate.kargo-rollback-webhook"


def test_fail_blocks_writes_while_the_server_is_down(tmp_path: Path) -> None:
    with install({}, tmp_path) as cluster:
        assert cluster.api.create(promotion(name="before"), user=ALICE).code == 201
        cluster.server.stop()

        result = cluster.api.create(
            promotion(name="during", annotations={ANNOTATION: "true"}), user=ALICE
        )
        assert result.code == 500
        assert result.status is not None
        assert result.status["reason"] == "InternalError"
        assert f'failed calling webhook "{MUTATE}"' in result.message
        assert "connection refused" in result.message
        assert cluster.api.get("Promotion", "proj", "during") is None

        result = cluster.api.create(project_config([{"stage": "a"}]), user=ALICE)
        assert result.code == 500
        assert "projectconfigs.validate.kargo-rollback-webhook" in result.message

        # kube-system and the webhook's own namespace stay writable: the repair path.
        repair = promotion(name="repair", annotations={ANNOTATION: "true"}, namespace="kube-system")
        assert cluster.api.create(repair, user=ALICE).code == 201


def test_ignore_lets_writes_through_unguarded_while_the_server_is_down(tmp_path: Path) -> None:
    with install({"failurePolicy": "Ignore"}, tmp_path) as cluster:
        guarded = cluster.api.create(
            promotion(name="guarded", annotations={ANNOTATION: "true"}), user=ALICE
        )
        assert guarded.code == 201
        assert ANNOTATION not in (guarded.object or {})["metadata"].get("annotations", {})
        cluster.server.stop()

        result = cluster.api.create(
            promotion(name="unguarded", annotations={ANNOTATION: "true"}), user=ALICE
        )
        # The trade-off of Ignore: a user's rollback marker is stored as written.
        assert result.code == 201, result.status
        assert result.object is not None
        assert result.object["metadata"]["annotations"] == {ANNOTATION: "true"}
        assert result.audit == {
            "failed-open.mutation.webhook.admission.k8s.io/round_0_index_0": MUTATE,
            # Indexed among the validating webhooks that matched (validating/dispatcher.go).
            "failed-open.validating.webhook.admission.k8s.io/round_0_index_0": (
                "promotions.validate.kargo-rollback-webhook"
            ),
        }


def test_stopping_closes_the_api_servers_idle_keep_alive_connection(tmp_path: Path) -> None:
    """The API server keeps connections open between calls; an idle one must not hold up exit
    (drain is 0 here, so only requests in flight may delay it)."""
    with install({}, tmp_path) as cluster:
        assert cluster.api.create(promotion(name="idle"), user=ALICE).code == 201
        started = time.monotonic()
        assert cluster.server.stop() == 0
        elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"exit took {elapsed:.1f} s with one idle keep-alive connection open"
