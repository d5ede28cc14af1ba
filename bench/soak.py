"""`make soak`: the webhook under steady load for 5 minutes; its RSS sampled every 10 s.

One wrk run (16 connections, CPU 1) POSTs the mutating Promotion review for the whole soak while
this script reads VmRSS of the server (CPU 0) every interval. Growth is the median of the last
three samples minus the median of the first three (the first sample is taken after a warm-up
run): a leak shows as a steady climb, allocator noise as a flat line with small steps.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from app.kargo.constants import PROMOTION_MUTATE_PATH
from bench import harness, reviews
from tests.support.pki import generate_certs

# More than this between the start and the end of the soak is growth, not noise.
MAX_GROWTH_MIB: Final = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    harness.ensure_wrk()
    server_pin, load_pin = harness.cpus()

    with tempfile.TemporaryDirectory(prefix="krw-soak-") as tmp:
        work = Path(tmp)
        certs = generate_certs(work / "certs")
        body = work / "promotion.json"
        body.write_bytes(reviews.promotion_create())
        webhook = harness.webhook(certs, work / "webhook.log").start(server_pin)
        url = webhook.url + PROMOTION_MUTATE_PATH
        try:
            harness.wrk(url, body, seconds=10, connections=args.connections, pin=load_pin)
            command = [*load_pin, "wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s"]
            command += ["-s", str(harness.LUA), url, "--", str(body)]
            load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
            samples: list[tuple[float, float]] = []
            started = time.monotonic()
            for i in range(args.seconds // args.interval + 1):
                # Sample on a fixed schedule (bounded: one per interval, for the soak's length).
                time.sleep(max(0.0, started + i * args.interval - time.monotonic()))
                rss = webhook.rss_kib() / 1024
                samples.append((time.monotonic() - started, rss))
                print(f"t={samples[-1][0]:6.1f} s  RSS {rss:6.1f} MiB", flush=True)
            out, _ = load.communicate(timeout=args.seconds + 60)
        finally:
            webhook.stop()

    summary = next((line for line in out.splitlines() if line.startswith("BENCH_JSON")), "")
    print(summary.removeprefix("BENCH_JSON "))
    values = [rss for _, rss in samples]
    growth = statistics.median(values[-3:]) - statistics.median(values[:3])
    print(
        f"RSS: first {values[0]:.1f} MiB, last {values[-1]:.1f} MiB, max {max(values):.1f} MiB; "
        f"growth {growth:+.1f} MiB over {samples[-1][0]:.0f} s"
    )
    ok = growth <= MAX_GROWTH_MIB
    print(f"{'PASS' if ok else 'FAIL'}  RSS growth <= {MAX_GROWTH_MIB} MiB", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
