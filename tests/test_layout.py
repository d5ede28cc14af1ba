"""The tests' own layout: no test module imports another test module.

Importing a `test_*.py` module runs its module-level set-up a second time and makes pytest
collect nothing new but couple two files' fixtures; what several test files share lives in a
non-test module (tests/support/, or a `*_cases.py`, `clients.py`... beside them). The scan reads
every module under tests/ and bench/ with `ast`, so imports inside functions are found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _modules() -> list[Path]:
    return sorted(
        path
        for folder in ("tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def _module_name(path: Path, root: Path = ROOT) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """The absolute names of the modules `path` imports (`from x import y` counts x and x.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path, root).rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def _is_test_module(name: str) -> bool:
    return name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")


def test_no_test_module_imports_another() -> None:
    modules = _modules()
    assert len(modules) > 100
    offenders = {
        _module_name(path): sorted(name for name in imported_modules(path) if _is_test_module(name))
        for path in modules
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_the_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    """The scan cannot pass vacuously: absolute, from-, relative and nested imports are found."""
    folder = tmp_path / "tests" / "pkg"
    folder.mkdir(parents=True)
    module = folder / "helper.py"
    module.write_text(
        "import tests.a.test_one\n"
        "from tests.b.test_two import thing\n"
        "from . import test_three\n"
        "from .test_four import other\n"
        "def f():\n    from tests import test_five\n"
    )
    found = {name for name in imported_modules(module, tmp_path) if _is_test_module(name)}
    assert found == {
        "tests.a.test_one",
        "tests.b.test_two",
        "tests.pkg.test_three",
        "tests.pkg.test_four",
        "tests.test_five",
    }
