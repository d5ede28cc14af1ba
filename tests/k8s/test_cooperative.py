"""A long validation lets other threads run: the event loop beside a decision in the worker.

Compiled (as `make test` runs it), validation never passes through the interpreter loop that
hands the GIL over on time; without `app.k8s.cooperative.pause` the thread below waits about
6 ms for each turn (measured: 17 turns in 107 ms), with it about 1 ms (205 in 232 ms).
"""

from __future__ import annotations

import threading
import time

from app.kargo.projectconfig import validate_project_config
from tests.support.reviews import project_config


def test_another_thread_gets_turns_while_a_large_object_is_validated() -> None:
    policies = [
        {"stageSelector": {"matchLabels": {"tier": f"bad value {i}"}}} for i in range(20_000)
    ]
    obj = project_config(policies)
    done = threading.Event()
    turns = 0
    took = 0.0

    def validate() -> None:
        nonlocal took
        started = time.perf_counter()
        validate_project_config(obj, operation="CREATE", schema="any")
        took = time.perf_counter() - started
        done.set()

    worker = threading.Thread(target=validate)
    worker.start()
    while not done.is_set():
        time.sleep(0.001)  # lets the GIL go, then needs it back: as the event loop does
        turns += 1
    worker.join()
    print(f"\nvalidating 20,000 policies: {took * 1000:.0f} ms; the other thread ran {turns} times")
    assert took > 0.05  # long enough for the count to mean something
    # A turn costs a millisecond of sleep and the wait for the GIL: about 1.1 ms with the
    # pauses, about 6 ms (the interpreter's switch interval and more) without them.
    assert took / turns < 0.003
