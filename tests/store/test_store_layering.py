"""Layer rules for store/ and jobs/, checked on the source (no imports executed)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import jirabridge

SRC = Path(jirabridge.__file__).parent
HIGHER_LAYERS = ("sync", "service", "web", "cli", "sim")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", ["store", "jobs"])
def test_store_and_jobs_import_no_higher_layer(layer: str) -> None:
    offenders = {
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / layer).rglob("*.py")
        for name in _imports(path)
        if name.split(".")[:2] in (["jirabridge", higher] for higher in HIGHER_LAYERS)
    }
    assert not offenders


def test_store_and_jobs_do_not_depend_on_each_other() -> None:
    store_uses_jobs = {
        str(path.relative_to(SRC))
        for path in (SRC / "store").rglob("*.py")
        if any(name.startswith("jirabridge.jobs") for name in _imports(path))
    }
    jobs_uses_store = {
        str(path.relative_to(SRC))
        for path in (SRC / "jobs").rglob("*.py")
        if any(name.startswith("jirabridge.store") for name in _imports(path))
    }
    assert not store_uses_jobs
    assert not jobs_uses_store


def test_dbos_is_imported_only_in_jobs() -> None:
    offenders = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if (SRC / "jobs") not in path.parents
        and any(name == "dbos" or name.startswith("dbos.") for name in _imports(path))
    }
    assert not offenders


@pytest.mark.parametrize("package", ["jirabridge.store", "jirabridge.jobs"])
def test_every_module_imports_cleanly(package: str) -> None:
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        imported = importlib.import_module(module.name)
        assert isinstance(getattr(imported, "__all__", None), list), f"{module.name}: no __all__"
