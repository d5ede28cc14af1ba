"""The worked example of the README: every file in examples/ posted to the running server."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from app.kargo.constants import (
    PROJECT_CONFIG_VALIDATE_PATH,
    PROMOTION_MUTATE_PATH,
    PROMOTION_VALIDATE_PATH,
)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).parent.parent.parent / "examples"
REMOVE = [{"op": "remove", "path": "/metadata/annotations/kargo.akuity.io~1rollback"}]
RESTORE = [
    {"op": "add", "path": "/metadata/annotations/kargo.akuity.io~1rollback", "value": "true"}
]


def _post(server: ServerProcess, path: str, example: str) -> dict[str, object]:
    with server.client() as c:
        r = c.post(
            path + "?timeout=5s",
            content=(EXAMPLES / example).read_bytes(),
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 200
    response: dict[str, object] = r.json()["response"]
    return response


def _patch(response: dict[str, object]) -> object:
    assert isinstance(response["patch"], str)
    return orjson.loads(base64.b64decode(response["patch"]))


def test_users_promotion_is_stripped(server: ServerProcess) -> None:
    response = _post(server, PROMOTION_MUTATE_PATH, "promotion-create-by-user.json")
    assert response["allowed"] is True
    assert _patch(response) == REMOVE


def test_controllers_promotion_is_kept(server: ServerProcess) -> None:
    for path in (PROMOTION_MUTATE_PATH, PROMOTION_VALIDATE_PATH):
        response = _post(server, path, "promotion-create-by-controller.json")
        assert response["allowed"] is True
        assert "patch" not in response


def test_users_update_removing_the_annotation_is_restored(server: ServerProcess) -> None:
    response = _post(server, PROMOTION_MUTATE_PATH, "promotion-update-removing-annotation.json")
    assert _patch(response) == RESTORE


def test_bad_project_config_is_denied_with_every_field(server: ServerProcess) -> None:
    response = _post(server, PROJECT_CONFIG_VALIDATE_PATH, "projectconfig-bad.json")
    assert response["allowed"] is False
    status = response["status"]
    assert isinstance(status, dict)
    fields = {cause["field"] for cause in status["details"]["causes"]}
    assert {
        "metadata.name",
        "spec.promotionPolicies[0].stage",
        "spec.promotionPolicies[0].autoRollback.onPromotion[0]",
        "spec.promotionPolicies[1].stageSelector.name",
        "spec.promotionPolicies[1].autoRollback.onFailedPromotions",
        "spec.promotionPolicies[2].stageSelector.name",
        "spec.promotionPolicies[3]",
    } <= fields
    assert any(f.startswith("spec.promotionPolicies[2].stageSelector.matchLabels") for f in fields)


def test_good_project_config_is_allowed(server: ServerProcess) -> None:
    response = _post(server, PROJECT_CONFIG_VALIDATE_PATH, "projectconfig-good.json")
    assert response["allowed"] is True


def test_update_keeping_an_existing_error_is_allowed_with_a_warning(
    server: ServerProcess,
) -> None:
    response = _post(
        server, PROJECT_CONFIG_VALIDATE_PATH, "projectconfig-update-existing-error.json"
    )
    labels = "spec.promotionPolicies[1].stageSelector.matchLabels"
    assert response["allowed"] is True
    assert "status" not in response
    warnings = response["warnings"]
    assert isinstance(warnings, list)
    assert any(
        w.startswith(f"unchanged, not enforced: {labels}: Invalid value: ") for w in warnings
    )
    assert response["auditAnnotations"] == {
        "unenforced-errors": f"1 error unchanged, not enforced: {labels}"
    }
