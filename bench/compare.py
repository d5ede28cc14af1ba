"""`make bench-compare BASE=<git ref>`: this tree's mutating path against another tree's, at once.

`make bench` compares the webhook with the ceiling run by run; two trees measured in turn, even
in the same session, differ by the machine's drift between the runs (on a shared two-core VM,
10% or more from one minute to the next). Here both trees serve at the same time, pinned to the
same CPU, each driven by its own wrk on the other CPU: the kernel shares CPU 0 between the two
servers, so each answers in proportion to how little a request costs it, and whatever slows
the machine slows both alike. The ratio of their requests/s is the figure; its spread between
rounds is about 1%.

The other tree is checked out with `git worktree` (a temporary directory, removed afterwards)
and its modules compiled in place with this venv's mypy, as `make compile` does. Each round
starts the two wrk runs in the other order, since the one started first has a slight edge.
Exits non-zero when the median ratio is below `--min-ratio`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from app.kargo.constants import PROMOTION_MUTATE_PATH
from bench import harness, reviews
from tests.support.pki import generate_certs

PYTHON: Final = str(harness.BIN / "python")


def checkout(ref: str, into: Path) -> Path:
    """A compiled checkout of `ref` at `into` (a git worktree)."""
    subprocess.run(  # noqa: S603 - git from PATH, arguments built here
        ["git", "-C", str(harness.REPO), "worktree", "add", "--detach", str(into), ref],  # noqa: S607
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(  # noqa: S603 - this venv's python, fixed arguments
        [PYTHON, "setup.py", "--quiet", "build_ext", "--inplace"],
        cwd=into,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return into


def remove(tree: Path) -> None:
    subprocess.run(  # noqa: S603 - git from PATH, arguments built here
        ["git", "-C", str(harness.REPO), "worktree", "remove", "--force", str(tree)],  # noqa: S607
        check=False,
        capture_output=True,
        timeout=120,
    )


def serve(tree: Path, certs: Path, log: Path, pin: list[str]) -> harness.Served:
    """The webhook of `tree`: its `app` package first on the path, its directory the cwd."""
    served = harness.webhook(certs, log)
    saved = os.environ.get("PYTHONPATH"), Path.cwd()
    os.environ["PYTHONPATH"] = str(tree)
    os.chdir(tree)
    try:
        return served.start(pin)
    finally:
        if saved[0] is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved[0]
        os.chdir(saved[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base", help="the git ref to compare with (a commit, tag or branch)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=5, help="length of one round")
    parser.add_argument("--connections", type=int, default=16, help="per server")
    parser.add_argument("--min-ratio", type=float, default=0.95)
    args = parser.parse_args(argv)
    harness.ensure_wrk()
    server_pin, load_pin = harness.cpus()
    if not server_pin:
        print("warning: no CPU pinning (one CPU, or no taskset)", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="krw-compare-") as tmp:
        work = Path(tmp)
        print(f"checking out and compiling {args.base} ...", flush=True)
        base_tree = checkout(args.base, work / "base")
        certs = generate_certs(work / "certs")
        body = work / "body.json"
        body.write_bytes(reviews.promotion_create())
        servers: dict[str, harness.Served] = {}
        try:
            servers["base"] = serve(base_tree, certs, work / "base.log", server_pin)
            servers["this"] = serve(harness.REPO, certs, work / "this.log", server_pin)
            urls = {name: s.url + PROMOTION_MUTATE_PATH for name, s in servers.items()}
            for url in urls.values():
                harness.wrk(url, body, seconds=2, connections=args.connections, pin=load_pin)
            ratios = []
            for round_ in range(args.rounds):
                order = ["base", "this"] if round_ % 2 == 0 else ["this", "base"]
                running = {
                    name: subprocess.Popen(  # noqa: S603 - wrk from PATH, arguments built here
                        harness.wrk_command(
                            urls[name],
                            body,
                            seconds=args.seconds,
                            connections=args.connections,
                            pin=load_pin,
                        ),
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                    for name in order
                }
                runs = {
                    name: harness.parse_wrk(*process.communicate(timeout=args.seconds + 60))
                    for name, process in running.items()
                }
                if any(sum(run.errors.values()) for run in runs.values()):
                    raise RuntimeError(f"wrk reported errors: {runs}")
                rps = {name: run.rps for name, run in runs.items()}
                ratios.append(rps["this"] / rps["base"])
                print(
                    f"round {round_ + 1}/{args.rounds}: base {rps['base']:8.0f} req/s  "
                    f"this {rps['this']:8.0f} req/s  this/base {ratios[-1]:.3f}",
                    flush=True,
                )
        finally:
            for served in servers.values():
                served.stop()
            remove(base_tree)

    median = statistics.median(ratios)
    spread = statistics.pstdev(ratios)
    print(
        f"\nthis tree / {args.base} on the mutating path, both served at once: median "
        f"{median:.3f} over {args.rounds} rounds (standard deviation {spread:.3f})"
    )
    if median < args.min_ratio:
        print(f"FAIL  below {args.min_ratio}")
        return 1
    print(f"PASS  at least {args.min_ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
