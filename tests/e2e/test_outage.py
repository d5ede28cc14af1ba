"""A webhook outage blocks only what the webhook would refuse: a day of Kargo through the chart.

The chart is rendered with its defaults (`failurePolicy: Fail`, `defaultMatchConditions: true`)
and the stand-in API server evaluates its `matchConditions` in CEL before each call, as
kube-apiserver does. A realistic day of writes runs three times: with the webhook up (its calls
counted), with the webhook's process stopped (connection refused), and with the process frozen
by SIGSTOP (the kernel still accepts connections, nothing answers: the API server's timeout).
Every ordinary write must succeed each time; only the writes the webhook acts on (a user
setting, changing or removing `kargo.akuity.io/rollback`, a ProjectConfig spec change) are
refused while it is out. The same day with `defaultMatchConditions: false` gives the calls the
webhook received before the conditions existed (docs/benchmarks.md has both figures).
"""

from __future__ import annotations

import copy
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from tests.e2e.apiserver import ApiServer, Result, User
from tests.e2e.cluster import PROJECT, Installation, install
from tests.e2e.objects import ALICE, ANNOTATION, CONTROLLER
from tests.support.reviews import project_config, promotion

pytestmark = pytest.mark.integration

KARGO_API: Final = User(
    "system:serviceaccount:kargo:kargo-api",
    groups=("system:serviceaccounts", "system:serviceaccounts:kargo", "system:authenticated"),
)
FINALIZER: Final = "kargo.akuity.io/finalizer"
ROUNDS: Final = 6


@dataclass
class Day:
    """The writes of one run, and what became of them: (what, guarded, result) each."""

    api: ApiServer
    prefix: str
    results: list[tuple[str, bool, Result]] = field(default_factory=list)

    def write(self, what: str, result: Result, *, guarded: bool = False) -> Result:
        self.results.append((what, guarded, result))
        return result

    def calls(self, *, guarded: bool) -> int:
        return sum(len(r.calls) for _, g, r in self.results if g is guarded)

    def refused(self, *, guarded: bool) -> list[str]:
        return [
            f"{w}: {r.code} {r.message}" for w, g, r in self.results if g is guarded and not _ok(r)
        ]


def _with(obj: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    edit(changed)
    return changed


def _annotated(obj: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    changed["metadata"].setdefault("annotations", {}).update(annotations)
    return changed


def _ok(result: Result) -> bool:
    return result.code in (200, 201)


def promotions_day(day: Day) -> None:
    """The Promotion writes Kargo and its users make all day; none touches the annotation."""
    api, p = day.api, day.prefix
    for i in range(ROUNDS):
        refreshed_at = f"2026-12-06T10:0{i}:00Z"
        # The controller promotes: creates a Promotion, adds its finalizer, and removes it once
        # the Promotion has run.
        created = day.write(
            "controller creates a Promotion",
            api.create(promotion(name=f"{p}-promo-{i}"), user=CONTROLLER),
        )
        assert created.object is not None, created.status
        finalized = day.write(
            "controller adds its finalizer",
            api.update(
                _with(created.object or {}, lambda o: o["metadata"].update(finalizers=[FINALIZER])),
                user=CONTROLLER,
            ),
        )
        assert finalized.object is not None, finalized.status
        # A rollback, created by the controller with the annotation: the very write an incident
        # needs.
        day.write(
            "controller creates a rollback Promotion",
            api.create(
                promotion(name=f"{p}-rollback-{i}", annotations={ANNOTATION: "true"}),
                user=CONTROLLER,
            ),
        )
        # Kargo's API server creates a Promotion for a user, then aborts and refreshes it.
        for_user = day.write(
            "kargo-api creates a Promotion for a user",
            api.create(
                promotion(
                    name=f"{p}-manual-{i}", annotations={"kargo.akuity.io/create-actor": "alice"}
                ),
                user=KARGO_API,
            ),
        )
        assert for_user.object is not None, for_user.status
        aborted = day.write(
            "kargo-api sets the abort annotation",
            api.update(
                _with(
                    for_user.object or {},
                    lambda o: o["metadata"]["annotations"].update(
                        {"kargo.akuity.io/abort": "terminate"}
                    ),
                ),
                user=KARGO_API,
            ),
        )
        assert aborted.object is not None, aborted.status
        day.write(
            "kargo-api sets the refresh annotation",
            api.update(
                _annotated(aborted.object or {}, {"kargo.akuity.io/refresh": refreshed_at}),
                user=KARGO_API,
            ),
        )
        # A user labels the controller's Promotion; then the controller lets it go.
        labelled = day.write(
            "a user labels a Promotion",
            api.update(
                _with(
                    finalized.object or {},
                    lambda o: o["metadata"].setdefault("labels", {}).update(team="payments"),
                ),
                user=ALICE,
            ),
        )
        assert labelled.object is not None, labelled.status
        day.write(
            "controller removes its finalizer",
            api.update(
                _with(labelled.object or {}, lambda o: o["metadata"].update(finalizers=[])),
                user=CONTROLLER,
            ),
        )


def guarded_writes(day: Day) -> None:
    """The writes the webhook acts on: a user and the annotation, a ProjectConfig spec change."""
    api, p = day.api, day.prefix
    day.write(
        "a user creates a Promotion with the annotation",
        api.create(promotion(name=f"{p}-sneaky", annotations={ANNOTATION: "true"}), user=ALICE),
        guarded=True,
    )
    rollback = api.get("Promotion", PROJECT, f"{p}-rollback-0")
    assert rollback is not None
    day.write(
        "a user changes the annotation",
        api.update(
            _with(rollback, lambda o: o["metadata"]["annotations"].update({ANNOTATION: "false"})),
            user=ALICE,
        ),
        guarded=True,
    )
    day.write(
        "a user removes the annotation",
        api.update(
            _with(rollback, lambda o: o["metadata"]["annotations"].pop(ANNOTATION)), user=ALICE
        ),
        guarded=True,
    )
    config = api.get("ProjectConfig", PROJECT, PROJECT)
    assert config is not None
    day.write(
        "a user changes the ProjectConfig's spec",
        api.update(
            _with(
                config,
                lambda o: o["spec"]["promotionPolicies"].append(
                    {"stage": "qa", "autoPromotionEnabled": True}
                ),
            ),
            user=ALICE,
        ),
        guarded=True,
    )


def project_config_day(day: Day) -> None:
    """A user labels the ProjectConfig; it is deleted, and Kargo removes its finalizer."""
    api = day.api
    config = api.get("ProjectConfig", PROJECT, PROJECT)
    assert config is not None
    labelled = day.write(
        "a user labels the ProjectConfig",
        api.update(
            _with(config, lambda o: o["metadata"].setdefault("labels", {}).update(team="a")),
            user=ALICE,
        ),
    )
    assert labelled.object is not None, labelled.status
    day.write("the ProjectConfig is deleted", api.delete(labelled.object or {}, user=ALICE))
    deleting = api.get("ProjectConfig", PROJECT, PROJECT)
    assert deleting is not None
    assert deleting["metadata"].get("deletionTimestamp")
    day.write(
        "controller removes the ProjectConfig's finalizer",
        api.update(_with(deleting, lambda o: o["metadata"].update(finalizers=[])), user=CONTROLLER),
    )
    assert api.get("ProjectConfig", PROJECT, PROJECT) is None


def run_day(installation: Installation, prefix: str, outage: Callable[[], object] | None) -> Day:
    """A ProjectConfig (with Kargo's finalizer) created while the webhook is up; then, within
    the outage if any, the Promotion writes, the guarded writes and the ProjectConfig's end."""
    config = project_config([{"stage": "prod", "autoPromotionEnabled": True}])
    config["metadata"]["finalizers"] = [FINALIZER]
    created = installation.api.create(config, user=CONTROLLER)
    assert created.code == 201, created.status
    if outage is not None:
        outage()
    day = Day(installation.api, prefix)
    promotions_day(day)
    guarded_writes(day)
    project_config_day(day)
    return day


# The webhooks' timeoutSeconds in the outage installation (the chart's default is 5).
OUTAGE_TIMEOUT_S = 2


def calls_per_thousand(day: Day) -> float:
    writes = len(day.results)
    return 1000 * (day.calls(guarded=True) + day.calls(guarded=False)) / writes


@pytest.fixture(scope="module")
def kargo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """The chart with its default values (failurePolicy Fail, the chart's matchConditions),
    but `timeoutSeconds` shorter than its 5, so that the frozen outage's refused writes wait
    less. The tests below run in order: up, frozen, then stopped for good."""
    values = {"timeoutSeconds": OUTAGE_TIMEOUT_S}
    with install(values, tmp_path_factory.mktemp("outage")) as installation:
        yield installation


def test_with_the_webhook_up_only_the_guarded_writes_reach_it(kargo: Installation) -> None:
    day = run_day(kargo, "up", outage=None)
    assert day.refused(guarded=False) == []
    assert day.calls(guarded=False) == 0  # no ordinary write waits on the webhook
    # Strip mode: each annotation write calls the mutating webhook, which undoes it; the
    # validating webhook's conditions then see no change and skip it. The spec change calls
    # the ProjectConfig webhook. All are admitted, the annotation undone.
    assert day.refused(guarded=True) == []
    assert day.calls(guarded=True) == 3 + 1
    rollback = kargo.api.get("Promotion", PROJECT, "up-rollback-0")
    assert rollback is not None
    assert rollback["metadata"]["annotations"][ANNOTATION] == "true"
    sneaky = kargo.api.get("Promotion", PROJECT, "up-sneaky")
    assert sneaky is not None
    assert ANNOTATION not in (sneaky["metadata"].get("annotations") or {})
    print(f"\nwebhook calls per 1,000 writes, chart defaults: {calls_per_thousand(day):.0f}")


def _assert_outage_blocks_only_the_guarded_writes(day: Day, error: str) -> None:
    assert day.refused(guarded=False) == []
    assert day.calls(guarded=False) == 0
    refused = day.refused(guarded=True)
    assert len(refused) == 4, refused
    for line in refused:
        assert "failed calling webhook" in line, line
        assert error in line, line


def test_a_frozen_webhook_blocks_only_the_guarded_writes(kargo: Installation) -> None:
    """SIGSTOP: connections are still accepted by the kernel; the call times out."""
    process = kargo.server.process
    assert process is not None

    def freeze() -> None:
        os.kill(process.pid, signal.SIGSTOP)

    try:
        started = time.monotonic()
        day = run_day(kargo, "frozen", outage=freeze)
        elapsed = time.monotonic() - started
    finally:
        os.kill(process.pid, signal.SIGCONT)
    _assert_outage_blocks_only_the_guarded_writes(day, "deadline exceeded")
    # Four refused writes, each waiting timeoutSeconds; nothing else waited.
    assert elapsed < 4 * OUTAGE_TIMEOUT_S + 15


def test_a_stopped_webhook_blocks_only_the_guarded_writes(kargo: Installation) -> None:
    day = run_day(kargo, "stopped", outage=kargo.server.stop)
    _assert_outage_blocks_only_the_guarded_writes(day, "connection refused")


def test_without_the_charts_conditions_every_write_reaches_the_webhook(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    values = {"defaultMatchConditions": False}
    with install(values, tmp_path_factory.mktemp("no-conditions")) as installation:
        day = run_day(installation, "all", outage=None)
    assert day.refused(guarded=False) == []
    assert day.refused(guarded=True) == []
    # Every Promotion write is called twice (strip mode), every ProjectConfig write once; the
    # DELETE is not a write the webhooks match.
    promotion_writes = sum(1 for w, _, _ in day.results if "Promotion" in w and "Config" not in w)
    assert day.calls(guarded=False) + day.calls(guarded=True) >= 2 * promotion_writes
    print(f"\nwebhook calls per 1,000 writes, no matchConditions: {calls_per_thousand(day):.0f}")
