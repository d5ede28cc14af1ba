"""Who writes Kargo objects in the end-to-end tests: the controller and a user (the objects
themselves are built by tests/support/reviews.py, valid against the CRDs)."""

from __future__ import annotations

from typing import Final

from tests.e2e.apiserver import User

ANNOTATION: Final = "kargo.akuity.io/rollback"
CONTROLLER: Final = User(
    "system:serviceaccount:kargo:kargo-controller",
    groups=("system:serviceaccounts", "system:serviceaccounts:kargo", "system:authenticated"),
)
ALICE: Final = User("alice@example.com")
