"""Warnings and audit annotations as kube-apiserver records them (tests/e2e/recording.py), and
the admission policies the stand-in refuses to ignore."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.helm import render
from tests.e2e.apiserver import ApiServer, Unsupported
from tests.e2e.cluster import NAMESPACES, routes_resolver
from tests.e2e.configuration import parse_configurations
from tests.e2e.fake_configuration import DNS_NAME, configuration
from tests.e2e.fake_webhook import Reply, Review, answer, serving
from tests.e2e.objects import ALICE
from tests.e2e.recording import WarningRecorder, add_annotation
from tests.support.reviews import promotion

pytestmark = pytest.mark.integration


def recorded(*warnings: str) -> list[str]:
    recorder = WarningRecorder()
    for warning in warnings:
        recorder.add(warning)
    return recorder.headers


def test_empty_and_repeated_warnings_are_skipped() -> None:
    assert recorded("", "a", "b", "a") == ["a", "b"]


@pytest.mark.parametrize("control", ["\n", "\t", "\x00", "\x7f", "\x85"])
def test_a_warning_with_a_control_character_is_dropped(control: str) -> None:
    assert recorded("before", f"bad{control}warning", "after") == ["before", "after"]


def test_a_warning_that_is_not_utf8_is_dropped() -> None:
    assert recorded("lone \ud800 surrogate", "ok") == ["ok"]


def test_long_warnings_pass_whole_within_4096_characters() -> None:
    long = "x" * 4000
    assert recorded(long, "y" * 96) == [long, "y" * 96]


def test_crossing_4096_truncates_every_warning_to_256() -> None:
    first, second = "a" * 4000, "b" * 97  # 4,097 in all
    assert recorded(first, second) == ["a" * 256, "b" * 97]


def test_once_truncating_the_rest_past_4096_are_dropped() -> None:
    texts = [f"{i:02d}" + "w" * 998 for i in range(20)]  # 1,000 characters each
    headers = recorded(*texts)
    # The fifth crosses 4,096: all five are cut to 256 and replayed; from then on each is cut,
    # until 16 of 256 have filled 4,096 again: the rest are dropped.
    assert headers == [t[:256] for t in texts[:16]]


def test_a_control_character_past_the_cut_survives_truncation() -> None:
    """Replay truncates first and checks after, as the Go code does."""
    bad = "c" * 300 + "\n"
    headers = recorded(bad, "d" * 4097)  # the dropped one does not count: 4,097 crosses
    assert headers == ["c" * 256, "d" * 256]


def test_audit_annotations_first_value_wins_and_keys_must_qualify() -> None:
    audit: dict[str, str] = {}
    assert add_annotation(audit, "hook.example.com/decision", "allowed")
    assert not add_annotation(audit, "hook.example.com/decision", "denied")
    assert add_annotation(audit, "hook.example.com/decision", "allowed")  # same value: no-op
    assert not add_annotation(audit, "hook.example.com/a/b", "x")  # two slashes
    assert not add_annotation(audit, "hook.example.com/-bad-", "x")  # not a qualified name
    assert not add_annotation(audit, "nodomain", "x")
    assert audit == {"hook.example.com/decision": "allowed"}


def test_through_the_stand_in(fake_certs: Path) -> None:
    """A webhook's warnings and audit annotations reach the client and the audit log as the
    API server lets them: control characters dropped, malformed keys dropped."""

    def behaviour(review: Review) -> Reply:
        return answer(
            review,
            warnings=["fine", "two\nlines", "fine"],
            auditAnnotations={"decision": "allowed", "not/qualified": "x", "-bad": "y"},
        )

    with serving(fake_certs, DNS_NAME, behaviour) as (endpoint, port):
        api = ApiServer(
            [configuration(endpoint.ca_bundle, name="fake.example.com")],
            resolve=routes_resolver({(DNS_NAME, 443): ("127.0.0.1", port)}),
            namespaces=NAMESPACES,
        )
        try:
            result = api.create(promotion(name="p"), user=ALICE)
        finally:
            api.transport.close()
    assert result.code == 201, result.status
    assert result.warnings == ["fine"]
    assert result.audit == {"fake.example.com/decision": "allowed"}


def test_a_bound_admission_policy_is_refused() -> None:
    """kube-apiserver would enforce the chart's policy before the validating webhooks; the
    stand-in does not evaluate policies, so it refuses rather than pass writes a cluster stops."""
    manifests = render({"validatingAdmissionPolicy": {"enabled": True}})
    with pytest.raises(Unsupported, match="ValidatingAdmissionPolicyBinding"):
        parse_configurations(manifests)
    unbound = [m for m in manifests if m["kind"] != "ValidatingAdmissionPolicyBinding"]
    assert parse_configurations(unbound)  # an unbound policy does nothing, here as there
