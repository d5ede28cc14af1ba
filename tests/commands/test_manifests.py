"""Hostile YAML against the real `kargo-rollback-webhook check` process, bounded in memory and time.

Every YAML 1.1 node type goes through the alias guard: a bomb or a recursive alias hidden in
`!!pairs`, `!!omap`, `!!set` or a local tag is refused with exit code 2 and one line naming the
file and the reason, never a crash. The process runs with its address space capped, so an
expansion the guard misses fails the test (a MemoryError or a crash) instead of the machine.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.commands.manifests import MAX_EXPANDED_CHARACTERS, MAX_EXPANDED_VALUES

HOSTILE = Path(__file__).parents[1] / "fixtures" / "check" / "hostile"
SCRIPT = Path(sys.executable).parent / "kargo-rollback-webhook"
# Far above what the check needs (about 50 MB resident), far below an expansion: the bombs below
# make gigabytes when rendered.
ADDRESS_SPACE_LIMIT = 1024 * 1024 * 1024
SECONDS = 10.0


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_check(path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = subprocess.run(
        [str(SCRIPT), "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_cap_memory,
    )
    return result, time.monotonic() - start


BOMB = f"beyond {MAX_EXPANDED_VALUES:,} values"
RECURSIVE = "contains itself (a recursive alias)"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("pairs-bomb.yaml", BOMB, id="alias bomb inside !!pairs"),
        pytest.param("omap-bomb.yaml", BOMB, id="alias bomb inside !!omap"),
        pytest.param("set-bomb.yaml", BOMB, id="alias bomb inside !!set and a local tag"),
        pytest.param("billion-laughs.yaml", BOMB, id="alias bomb in plain lists"),
        pytest.param("recursive-pairs.yaml", RECURSIVE, id="recursive alias inside !!pairs"),
        pytest.param("recursive.yaml", RECURSIVE, id="recursive alias in a plain list"),
    ],
)
def test_hostile_yaml_exits_2_with_one_line(name: str, message: str) -> None:
    path = HOSTILE / name
    result, seconds = run_check(path)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{path}:")
    assert message in line
    assert seconds < SECONDS


def test_a_long_string_aliased_many_times_is_refused_by_its_text(tmp_path: Path) -> None:
    """Few values, much text: 100,000 copies of a 1,000-character string (100 MB rendered)."""
    levels = [f"s: &s {'x' * 1000}", "a: &a [" + ", ".join(["*s"] * 10) + "]"]
    for previous, name in zip("abcd", "bcde", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    path = tmp_path / "text-bomb.yaml"
    path.write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\n"
        "metadata: {name: x, namespace: x}\n" + "\n".join(levels) + "\n"
        "spec: {promotionPolicies: [stage: *e]}\n"
    )
    assert MAX_EXPANDED_VALUES > 100_000
    assert MAX_EXPANDED_CHARACTERS < 100_000 * 1000
    result, seconds = run_check(path)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.splitlines()
    assert "MiB of text (an alias bomb?)" in line
    assert seconds < SECONDS


def test_a_python_tag_builds_nothing_and_is_read_as_kubernetes_reads_it(tmp_path: Path) -> None:
    """go-yaml v2 ignores a tag it does not know: the sequence is a list, reported where a name
    should be; no command runs."""
    marker = tmp_path / "owned"
    path = tmp_path / "python-tag.yaml"
    path.write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata:\n"
        f'  name: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    result, _ = run_check(path)
    assert result.returncode == 1, result.stderr
    assert "metadata.name: Invalid value: " in result.stdout
    assert "must be of type string" in result.stdout
    assert not marker.exists()


def test_shared_values_within_the_limits_are_accepted(tmp_path: Path) -> None:
    """Anchors and merge keys are ordinary YAML: a modest expansion passes the guard."""
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\n"
        "metadata: {name: p, namespace: p}\n"
        "spec:\n  promotionPolicies:\n"
        "  - &base {stage: dev, autoRollback: {onFailedPromotions: true}}\n"
        "  - {<<: *base, stage: prod}\n"
    )
    result, _ = run_check(path)
    assert (result.returncode, result.stderr) == (0, "")
    assert "1 ProjectConfig" in result.stdout
