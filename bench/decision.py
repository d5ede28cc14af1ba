"""How the decision time grows with a ProjectConfig's size: decode + validate, in process.

The time covers `decode_review` (orjson and the envelope checks) and the ProjectConfig policy
(every rule, patterns and label selectors included): what the server does between reading the
body and encoding the answer. Transport and encoding are not in it. The policy's share is also
timed alone: it is this webhook's own code, which must grow linearly with the policies, while
parsing a 1.5 MB review costs orjson (and the allocator's caches) more per policy than parsing
150 KB does.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from app.admission.review import decode_review
from app.config import Settings
from app.main import admission_webhooks
from bench.reviews import project_config

SIZES = (10, 100, 1_000, 10_000)


@dataclass(frozen=True)
class Timing:
    policies: int
    body_bytes: int
    median_ms: float
    per_policy_us: float
    # The policy alone (the rules), on an already decoded review.
    rules_per_policy_us: float


def measure(sizes: tuple[int, ...] = SIZES, *, budget_seconds: float = 2.0) -> list[Timing]:
    """Median times per size. The sizes are sampled in turn, round after round (each round
    giving every size about the same time), so that a slow spell of a shared machine falls on
    all of them alike rather than on whichever size was being measured."""
    settings = Settings(tls_cert_file=Path("unused"), tls_key_file=Path("unused"))
    (spec,) = [s for s in admission_webhooks(settings) if s.name == "projectconfig-validate"]
    # As `serve` does before it serves (app/server.py): the start-up heap is frozen, so full
    # collections during a large decode do not walk it.
    gc.freeze()
    bodies = {size: project_config(size) for size in sizes}
    for size, body in bodies.items():
        decision = spec.decide(decode_review(body))
        if not decision.allowed:
            raise RuntimeError(f"the {size}-policy ProjectConfig was denied: {decision.status}")
    largest = max(sizes)
    totals: dict[int, list[float]] = {size: [] for size in sizes}
    rules: dict[int, list[float]] = {size: [] for size in sizes}
    deadline = time.perf_counter() + budget_seconds * len(sizes)
    # At least 5 rounds; each round samples a size `largest // size` times, at most 100.
    while len(totals[largest]) < 5 or time.perf_counter() < deadline:
        for size, body in bodies.items():
            for _ in range(min(100, max(1, largest // size))):
                started = time.perf_counter()
                request = decode_review(body)
                decided = time.perf_counter()
                spec.decide(request)
                done = time.perf_counter()
                totals[size].append(done - started)
                rules[size].append(done - decided)
    timings = []
    for size, body in bodies.items():
        median = statistics.median(totals[size])
        rules_median = statistics.median(rules[size])
        timings.append(
            Timing(size, len(body), median * 1e3, median * 1e6 / size, rules_median * 1e6 / size)
        )
    return timings
