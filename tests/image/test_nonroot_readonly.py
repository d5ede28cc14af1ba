"""What the image does at run time, without a container engine: the wheel built from exactly the
Dockerfile's build context, installed into a fresh venv as the Dockerfile does, run as the
image's UID 65532 from a read-only tree, with no HOME and PYTHONDONTWRITEBYTECODE.

Dependencies come from the project's venv through a `.pth` file (the fresh venv gets the wheel
itself from `pip install --no-deps --no-index`): the test needs no package index, and the project's
editable install stays invisible, so `app` is imported from the wheel.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.image.dockerfile import REPO_ROOT, copy_sources, stages

UID = GID = 65532
CONSOLE_SCRIPT = "kargo-rollback-webhook"


@dataclass(frozen=True)
class InstalledImage:
    root: Path  # read-only, the working directory
    venv: Path
    writable: Path  # the one directory UID 65532 owns, like a mounted volume

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


def _build_wheel(work: Path) -> Path:
    """`pip wheel` of the build context that .dockerignore and the build stage's COPY lines make."""
    context = work / "context"
    context.mkdir()
    for source in copy_sources(stages()[0]):
        origin = REPO_ROOT / source.rstrip("/")
        if origin.is_dir():
            # As .dockerignore: no caches, no extensions compiled in place by `make`.
            ignore = shutil.ignore_patterns("__pycache__", "*.so")
            shutil.copytree(origin, context / origin.name, ignore=ignore)
        else:
            shutil.copy2(origin, context / origin.name)
    wheels = work / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    built = subprocess.run(
        [*command, "--wheel-dir", str(wheels), str(context)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("kargo_rollback_webhook-*.whl")
    return wheel


def _install(wheel: Path, venv: Path, python: str) -> None:
    """A fresh venv holding the wheel (pip compiles its .pyc files, as in the image)."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    venv_python = str(venv / "bin" / "python")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", venv_python, "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = subprocess.run(
        [venv_python, "-c", purelib], capture_output=True, text=True, check=True
    ).stdout.strip()
    # The dependencies: the project venv's site-packages, without processing its .pth files.
    Path(site_packages, "_project_dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )


@pytest.fixture(scope="module")
def image() -> Iterator[InstalledImage]:
    if os.geteuid() != 0:
        pytest.skip(f"needs root to run the console script as UID {UID}; run `make test` as root")
    # Not under pytest's basetemp, whose root-only (0700) parent UID 65532 cannot enter.
    work = Path(tempfile.mkdtemp(prefix="krw-image-"))
    try:
        work.chmod(0o755)
        root = work / "root"
        venv = root / "opt" / "venv"
        _install(_build_wheel(work), venv, _interpreter_for_the_image_user(work))
        _make_read_only(root)
        yield InstalledImage(root=root, venv=venv, writable=work / "writable")
    finally:
        for directory, _, _ in os.walk(work):
            os.chmod(directory, 0o755)
        shutil.rmtree(work)


def test_the_wheel_not_the_checkout_is_imported(image: InstalledImage) -> None:
    check = "import app, sys; print(app.__file__); print(sys.flags.dont_write_bytecode)"
    result = _as_image_user([str(image.venv / "bin" / "python"), "-c", check], cwd=image.root)
    assert result.returncode == 0, result.stderr
    module_file, dont_write = result.stdout.split()
    assert Path(module_file).is_relative_to(image.venv)
    assert dont_write == "1"


def test_the_request_path_modules_are_compiled_in_the_wheel(image: InstalledImage) -> None:
    """The build stage compiles the modules pyproject.toml lists (setup.py, mypyc)."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    modules: list[str] = pyproject["tool"]["kargo-rollback-webhook"]["compiled"]
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_answers_healthz_as_non_root_from_a_read_only_tree(
    image: InstalledImage, certs: Path
) -> None:
    port = _free_port()
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
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
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
