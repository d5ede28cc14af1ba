"""What the image does at run time, without a container engine: the Dockerfile's own build and
runtime stages run against this machine (tests/image/emulation.py): the wheel built from the
build context and the lock by a fresh interpreter, installed from the build stage's wheels
alone, then run as the image's UID 65532 from a read-only tree, with no HOME and
PYTHONDONTWRITEBYTECODE. Nothing of the project's venv or checkout is visible to it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from packaging.utils import canonicalize_name

from tests.image.dockerfile import REPO_ROOT, stages
from tests.image.emulation import Layout, prepare, run_stage
from tests.support.compiled import compiled_modules
from tests.support.locks import pins
from tests.support.ports import free_port
from tests.support.tls import client_context

# The build stage compiles the request path (about a minute on two cores), then again elsewhere.
pytestmark = pytest.mark.timeout(600)

UID = GID = 65532
CONSOLE_SCRIPT = "kargo-rollback-webhook"


@dataclass(frozen=True)
class InstalledImage:
    root: Path  # read-only, the working directory
    venv: Path
    writable: Path  # the one directory UID 65532 owns, like a mounted volume
    wheel: Path  # the project's wheel, as the build stage left it
    rebuilt: Path  # the same sources built again elsewhere with the same build venv

    @property
    def script(self) -> Path:
        return self.venv / "bin" / CONSOLE_SCRIPT


def _as_image_user(
    args: list[str], *, cwd: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", **env},
        user=UID,
        group=GID,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _interpreter_for_the_image_user(probe_dir: Path) -> str:
    """This Python (same major.minor) as an executable that UID 65532 can run with its own
    standard library: the venv's base interpreter may live under a private home directory."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        getattr(sys, "_base_executable", sys.executable),
        os.path.realpath(sys.executable),
        f"/usr/local/bin/python{version}",
        f"/usr/bin/python{version}",
    ]
    probe = "import sys, ssl, venv; print('%d.%d' % sys.version_info[:2], sys.prefix)"
    for candidate in dict.fromkeys(candidates):
        if not os.path.isfile(candidate):
            continue
        as_root = subprocess.run(
            [candidate, "-I", "-c", probe], capture_output=True, text=True, check=False
        )
        try:
            as_user = _as_image_user([candidate, "-I", "-c", probe], cwd=probe_dir)
        except PermissionError:
            continue
        # The answer root gets: this version, and the interpreter found its own standard
        # library (without read access to it, Python falls back to another prefix).
        same = as_user.returncode == 0 and as_user.stdout == as_root.stdout
        if same and as_user.stdout.startswith(f"{version} "):
            return candidate
    pytest.fail(f"no Python {version} that UID {UID} can run; tried {candidates}")


def _make_read_only(path: Path) -> None:
    for directory, _, files in os.walk(path):
        for name in [directory, *(os.path.join(directory, f) for f in files)]:
            if not os.path.islink(name):
                mode = stat.S_IMODE(os.lstat(name).st_mode)
                os.chmod(name, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _rebuild_elsewhere(root: Path, work: Path) -> Path:
    """The build stage's sources built again, from another directory, by its build venv."""
    sources = work / "elsewhere" / "src"
    shutil.copytree(root / "src", sources, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    wheels = work / "elsewhere" / "wheels"
    env = {"PATH": "/usr/bin:/bin", "KRW_REQUIRE_COMPILED": "1", "HOME": str(work)}
    built = subprocess.run(
        [str(root / "build" / "bin" / "pip"), "wheel", "--quiet", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(wheels), "."],
        cwd=sources, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("kargo_rollback_webhook-*.whl")
    return wheel


@pytest.fixture(scope="module")
def image() -> Iterator[InstalledImage]:
    if os.geteuid() != 0:
        pytest.skip(f"needs root to run the console script as UID {UID}; run `make test` as root")
    # Not under pytest's basetemp, whose root-only (0700) parent UID 65532 cannot enter.
    work = Path(tempfile.mkdtemp(prefix="krw-image-"))
    try:
        work.chmod(0o755)
        root = work / "root"
        layout = Layout(root=root, python=_interpreter_for_the_image_user(work))
        prepare(layout)
        build, runtime = stages()
        run_stage(build, layout)
        run_stage(runtime, layout)
        (wheel,) = (root / "wheels").glob("kargo_rollback_webhook-*.whl")
        rebuilt = _rebuild_elsewhere(root, work)
        _make_read_only(root)
        yield InstalledImage(
            root=root,
            venv=root / "opt" / "venv",
            writable=work / "writable",
            wheel=wheel,
            rebuilt=rebuilt,
        )
    finally:
        for directory, _, _ in os.walk(work):
            os.chmod(directory, 0o755)
        shutil.rmtree(work)


def test_two_builds_of_the_same_sources_are_byte_identical(image: InstalledImage) -> None:
    """Reproducible: no build path, timestamp or debug information differs between builds."""
    digests = {hashlib.sha256(w.read_bytes()).hexdigest() for w in (image.wheel, image.rebuilt)}
    assert len(digests) == 1, f"{image.wheel.name} differs when built again elsewhere"


def test_the_runtime_holds_exactly_the_locked_set(image: InstalledImage) -> None:
    listed = subprocess.run(
        [str(image.venv / "bin" / "python"), "-m", "pip", "--version"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert listed.returncode != 0, "pip is removed from the runtime venv"
    site = next((image.venv / "lib").glob("python3.*/site-packages"))
    installed: dict[str, str] = {}
    for dist_info in site.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").split("-")
        installed[canonicalize_name(name)] = version
    assert installed.pop(canonicalize_name("kargo-rollback-webhook")) == _version()
    assert installed == pins("runtime.txt")


def _version() -> str:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version: str = pyproject["project"]["version"]
    return version


def test_the_wheel_carries_the_license(image: InstalledImage) -> None:
    with zipfile.ZipFile(image.wheel) as wheel:
        licenses = [n for n in wheel.namelist() if ".dist-info/licenses/" in n]
        assert [Path(n).name for n in licenses] == ["LICENSE"]
        assert "Apache License" in wheel.read(licenses[0]).decode()


def test_the_wheel_not_the_checkout_is_imported(image: InstalledImage) -> None:
    check = "import app, sys; print(app.__file__); print(sys.flags.dont_write_bytecode)"
    result = _as_image_user([str(image.venv / "bin" / "python"), "-c", check], cwd=image.root)
    assert result.returncode == 0, result.stderr
    module_file, dont_write = result.stdout.split()
    assert Path(module_file).is_relative_to(image.venv)
    assert dont_write == "1"


def test_the_request_path_modules_are_compiled_in_the_wheel(image: InstalledImage) -> None:
    """The build stage compiles the modules pyproject.toml lists (setup.py, mypyc)."""
    modules = compiled_modules()
    check = f"import importlib; print(*(importlib.import_module(m).__file__ for m in {modules!r}))"
    result = _as_image_user([str(image.venv / "bin" / "python"), "-c", check], cwd=image.root)
    assert result.returncode == 0, result.stderr
    files = [Path(f) for f in result.stdout.split()]
    assert len(files) == len(modules)
    for module, file in zip(modules, files, strict=True):
        assert file.is_relative_to(image.venv), module
        assert file.suffix == ".so", f"{module} was not compiled: {file}"


def test_help_runs_as_non_root_from_a_read_only_tree(image: InstalledImage) -> None:
    result = _as_image_user([str(image.script), "--help"], cwd=image.root)
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "certs" in result.stdout


@pytest.fixture(scope="module")
def certs(image: InstalledImage) -> Path:
    """`certs generate` as the image user, into the one directory it may write."""
    image.writable.mkdir(mode=0o755)
    os.chown(image.writable, UID, GID)
    out = image.writable / "certs"
    result = _as_image_user(
        [str(image.script), "certs", "generate", "--out", str(out),
         "--dns-name", "localhost", "--ip", "127.0.0.1"],
        cwd=image.root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_certs_generate_writes_only_where_it_is_told(certs: Path) -> None:
    ca = x509.load_pem_x509_certificate((certs / "ca.crt").read_bytes())
    leaf = x509.load_pem_x509_certificate((certs / "tls.crt").read_bytes())
    serialization.load_pem_private_key((certs / "tls.key").read_bytes(), password=None)
    assert leaf.issuer == ca.subject
    assert all(path.stat().st_uid == UID for path in certs.iterdir())


def test_serve_answers_healthz_as_non_root_from_a_read_only_tree(
    image: InstalledImage, certs: Path
) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "KRW_HOST": "127.0.0.1",
        "KRW_PORT": str(port),
        "KRW_TLS_CERT_FILE": str(certs / "tls.crt"),
        "KRW_TLS_KEY_FILE": str(certs / "tls.key"),
        "KRW_DRAIN_SECONDS": "0",
        "KRW_SHUTDOWN_TIMEOUT": "1",
    }
    server = subprocess.Popen(
        [str(image.script), "serve"],
        cwd=image.root,
        env=env,
        user=UID,
        group=GID,
        extra_groups=[],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    context = client_context(certs / "ca.crt")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"server exited: {server.communicate()[1]}"
            try:
                with urllib.request.urlopen(  # the generated certificate names localhost
                    f"https://localhost:{port}/healthz", context=context, timeout=2
                ) as response:
                    assert response.status == 200
                    break
            except (ConnectionError, urllib.error.URLError):
                assert time.monotonic() < deadline, "server never answered /healthz"
                time.sleep(0.2)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    # A clean shutdown: exit 0, or uvicorn re-raising the SIGTERM it handled.
    assert server.returncode in {0, -signal.SIGTERM}, stderr
