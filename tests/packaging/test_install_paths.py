"""Every way a user installs the project works from a clean interpreter: `pip install .`, the
sdist (built with `python -m build --sdist`, then installed), and `pip install -e .`; each result
runs the compiled modules. Where the modules cannot be compiled, the build says so once and
ships pure Python, unless KRW_REQUIRE_COMPILED=1 (the image's build stage) makes that an error.

The builds are real and slow (mypyc type-checks, then a C compiler compiles the request path),
so they run concurrently once per module and each test reads its result.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.builds import (
    FALLBACK_WARNING,
    Venv,
    copy_checkout,
    make_venv,
    only,
    run,
    run_checked,
    tracked_files,
    wheel_extensions,
)
from tests.support.compiled import compiled_modules

pytestmark = pytest.mark.timeout(900)

COMPILED: list[str] = compiled_modules()
SDIST_METADATA = {"PKG-INFO", "setup.cfg"}


@dataclass(frozen=True)
class Installed:
    venv: Venv
    work: Path
    log: str


@dataclass(frozen=True)
class Built:
    result: subprocess.CompletedProcess[str]
    wheels: Path


@dataclass
class Results:
    pip_install: Future[Installed]
    sdist: Future[tuple[Path, Installed]]
    editable: Future[tuple[Path, Installed]]
    no_compiler: Future[Built]
    no_compiler_required: Future[Built]
    type_error: Future[Built]


def _pip_install(work: Path) -> Installed:
    source = copy_checkout(work / "checkout")
    venv = make_venv(work / "venv")
    log = venv.pip("install", "--no-cache-dir", ".", cwd=source).stdout
    return Installed(venv=venv, work=work, log=log)


def _sdist(work: Path) -> tuple[Path, Installed]:
    source = copy_checkout(work / "checkout")
    dist = work / "dist"
    run_checked([sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), "."], cwd=source)
    sdist = only(dist, "kargo_rollback_webhook-*.tar.gz")
    venv = make_venv(work / "venv")
    result = venv.pip("install", "--no-cache-dir", str(sdist), cwd=work)
    assert result.returncode == 0, result.stderr
    return sdist, Installed(venv=venv, work=work, log=result.stdout)


def _editable(work: Path) -> tuple[Path, Installed]:
    source = copy_checkout(work / "checkout")
    venv = make_venv(work / "venv")
    result = venv.pip("install", "--no-cache-dir", "-e", ".", cwd=source)
    assert result.returncode == 0, result.stderr
    return source, Installed(venv=venv, work=work, log=result.stdout)


def _wheel_with_this_venv(work: Path, edit: Callable[[Path], None], **env: str) -> Built:
    """`pip wheel` without isolation, by the project's venv (which holds the build set), of a
    copy of the checkout that `edit` may change first."""
    source = copy_checkout(work / "checkout")
    edit(source)
    wheels = work / "wheels"
    result = run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), "."],
        cwd=source, **env,
    )  # fmt: skip
    return Built(result=result, wheels=wheels)


def _no_edit(_: Path) -> None:
    pass


def _break_a_type(source: Path) -> None:
    module = source / Path(*COMPILED[0].split(".")).with_suffix(".py")
    with module.open("a", encoding="utf-8") as f:
        f.write('\n_NOT_AN_INT: int = "a type error that mypy rejects"\n')


@pytest.fixture(scope="module")
def results() -> Iterator[Results]:
    root = Path(tempfile.mkdtemp(prefix="krw-install-"))  # mode 0700, like a home directory
    dirs = {name: root / name for name in ("pip", "sdist", "editable", "cc", "cc-req", "types")}
    for path in dirs.values():
        path.mkdir()
    no_cc = {"CC": "/bin/false"}
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            yield Results(
                pip_install=pool.submit(_pip_install, dirs["pip"]),
                sdist=pool.submit(_sdist, dirs["sdist"]),
                editable=pool.submit(_editable, dirs["editable"]),
                no_compiler=pool.submit(_wheel_with_this_venv, dirs["cc"], _no_edit, **no_cc),
                no_compiler_required=pool.submit(
                    _wheel_with_this_venv,
                    dirs["cc-req"],
                    _no_edit,
                    **no_cc,
                    KRW_REQUIRE_COMPILED="1",
                ),
                type_error=pool.submit(_wheel_with_this_venv, dirs["types"], _break_a_type),
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _assert_compiled(installed: Installed, *, under: Path) -> None:
    files = installed.venv.imported_files(COMPILED, cwd=installed.work)
    for module, file in files.items():
        assert Path(file).is_relative_to(under), f"{module} imported from {file}"
        assert file.endswith(".so"), f"{module} was not compiled: {file}"


def _assert_runs(installed: Installed) -> None:
    result = run([installed.venv.script, "--help"], cwd=installed.work)
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout


def _site_packages(venv: Venv) -> Path:
    return only(venv.path / "lib", "python3.*/site-packages")


def test_pip_install_dot(results: Results) -> None:
    installed = results.pip_install.result()
    _assert_compiled(installed, under=_site_packages(installed.venv))
    _assert_runs(installed)


def test_the_sdist_holds_exactly_what_git_tracks(results: Results) -> None:
    sdist, _ = results.sdist.result()
    with tarfile.open(sdist) as archive:
        members = {
            m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile() and "/" in m.name
        }
    members = {m for m in members if ".egg-info/" not in m} - SDIST_METADATA
    assert members == set(tracked_files())


def test_the_sdist_installs_compiled(results: Results) -> None:
    _, installed = results.sdist.result()
    _assert_compiled(installed, under=_site_packages(installed.venv))
    _assert_runs(installed)


def test_the_sdist_runs_its_own_tests(results: Results, tmp_path: Path) -> None:
    """Its tests and their support modules and fixtures are in it: a sample runs from it."""
    sdist, _ = results.sdist.result()
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    unpacked = only(tmp_path, "kargo_rollback_webhook-*")
    sample = [
        "tests/commands/test_check.py",  # its YAML fixtures
        "tests/kargo/test_glob_oracle.py",  # doublestar's verdicts in tests/fixtures
        "tests/kargo/test_patterns.py",
        "tests/admission/test_review.py",  # tests/support
    ]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *sample],
        cwd=unpacked, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]


def test_pip_install_editable_compiles_in_place(results: Results) -> None:
    source, installed = results.editable.result()
    _assert_compiled(installed, under=source)
    _assert_runs(installed)


def test_without_a_compiler_the_build_warns_once_and_ships_pure_python(results: Results) -> None:
    built = results.no_compiler.result()
    assert built.result.returncode == 0, built.result.stderr
    output = built.result.stdout + built.result.stderr
    assert output.count(FALLBACK_WARNING) == 1, output[-3000:]
    assert wheel_extensions(only(built.wheels, "*.whl")) == []


def test_krw_require_compiled_makes_a_build_without_compiler_fail(results: Results) -> None:
    built = results.no_compiler_required.result()
    assert built.result.returncode != 0
    output = built.result.stdout + built.result.stderr
    assert "KRW_REQUIRE_COMPILED=1 but the compiled modules could not be built" in output
    assert not list(built.wheels.glob("*.whl"))


def test_a_type_error_is_not_the_installers_problem(results: Results) -> None:
    """mypy rejecting the sources (it exits through SystemExit) falls back to pure Python."""
    built = results.type_error.result()
    assert built.result.returncode == 0, built.result.stderr
    output = built.result.stdout + built.result.stderr
    assert output.count(FALLBACK_WARNING) == 1, output[-3000:]
    assert "error: Incompatible types in assignment" in output, "mypy says what was wrong"
    assert wheel_extensions(only(built.wheels, "*.whl")) == []
