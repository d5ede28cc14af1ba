"""How the decision time grows with a ProjectConfig's size: decode + validate, in process.

The time covers `decode_review` (orjson and the envelope checks) and the ProjectConfig policy
(every rule, patterns and label selectors included): what the server does between reading the
body and encoding the answer. Transport and encoding are not in it.
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


def measure(sizes: tuple[int, ...] = SIZES, *, budget_seconds: float = 2.0) -> list[Timing]:
    settings = Settings(tls_cert_file=Path("unused"), tls_key_file=Path("unused"))
    (spec,) = [s for s in admission_webhooks(settings) if s.name == "projectconfig-validate"]
    # As `serve` does before it serves (app/server.py): the start-up heap is frozen, so full
    # collections during a large decode do not walk it.
    gc.freeze()
    timings = []
    for size in sizes:
        body = project_config(size)
        request = decode_review(body)
        decision = spec.policy(request)
        if not decision.allowed:
            raise RuntimeError(f"the {size}-policy ProjectConfig was denied: {decision.status}")
        samples: list[float] = []
        deadline = time.perf_counter() + budget_seconds
        # At least 5 samples, at most 2,000, within about `budget_seconds` per size.
        while len(samples) < 5 or (time.perf_counter() < deadline and len(samples) < 2_000):
            started = time.perf_counter()
            spec.policy(decode_review(body))
            samples.append(time.perf_counter() - started)
        median = statistics.median(samples)
        timings.append(Timing(size, len(body), median * 1e3, median * 1e6 / size))
    return timings
