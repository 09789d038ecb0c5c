"""The layering of docs/architecture.md, checked on the imports every module actually makes."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("ccseg", "flows", "tasks", "schemas", "core", "chatbot")

# What each layer may import of the project (itself always allowed).
ALLOWED_LAYERS: dict[str, set[str]] = {
    "ccseg": {"flows", "tasks", "schemas", "core", "chatbot"},  # `ccseg chatbot ...` starts it
    "flows": {"tasks", "schemas", "core"},
    "tasks": {"schemas", "core"},
    "schemas": {"core"},
    "core": set(),
    "chatbot": set(),
}
# Sub-packages of tasks/ and which others each may import (`tasks.retries` is open to all).
ALLOWED_TASK_PACKAGES: dict[str, set[str]] = {
    "data": set(),
    "model": set(),
    "segmentation": {"model"},
    "profiling": {"segmentation"},
    "mlops": {"data", "segmentation", "model"},
    "report": {"data", "segmentation", "profiling", "mlops", "model"},
    "loadtest": set(),
    "workdir": set(),
    "drift": {"model", "mlops"},
}
# The module shipped inside every registered model: what a bare MLflow environment has.
MODEL_THIRD_PARTY = {"numpy", "pandas", "sklearn"}


def _modules(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module name imported anywhere in the file (top level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _violations(package: str, allowed: set[str]) -> list[str]:
    bad = []
    for path in _modules(package):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in PROJECT_PACKAGES and top != package and top not in allowed:
                bad.append(f"{path.relative_to(REPO_ROOT)} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED_LAYERS))
def test_each_layer_imports_only_the_layers_below_it(package: str) -> None:
    assert _violations(package, ALLOWED_LAYERS[package]) == []


@pytest.mark.parametrize("sub_package", sorted(ALLOWED_TASK_PACKAGES))
def test_task_sub_packages_import_only_what_the_architecture_allows(sub_package: str) -> None:
    allowed = ALLOWED_TASK_PACKAGES[sub_package] | {sub_package, "retries"}
    bad = [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in _modules(f"tasks/{sub_package}")
        for name in _imports(path)
        if name.startswith("tasks.") and name.split(".")[1] not in allowed
    ]
    assert bad == []


def test_every_task_module_sits_in_a_sub_package_named_by_its_concern() -> None:
    loose = sorted(p.name for p in (REPO_ROOT / "tasks").glob("*.py") if p.name != "__init__.py")
    sub_packages = sorted(
        p.name for p in (REPO_ROOT / "tasks").iterdir() if (p / "__init__.py").is_file()
    )
    assert loose == ["retries.py"]
    assert sub_packages == sorted(ALLOWED_TASK_PACKAGES)


@pytest.mark.parametrize("package", ["core", "schemas", "chatbot"])
def test_prefect_stays_out_of_packages_that_are_not_orchestration(package: str) -> None:
    users = [
        str(path.relative_to(REPO_ROOT))
        for path in _modules(package)
        if any(name.split(".")[0] == "prefect" for name in _imports(path))
    ]
    assert users == []


def test_no_module_only_re_exports_other_modules() -> None:
    """A module whose body is nothing but imports (and `__all__`) hides where names live."""
    hollow = []
    for package in PROJECT_PACKAGES:
        for path in _modules(package):
            if path.name == "__init__.py":
                continue
            body = ast.parse(path.read_text()).body
            statements = [
                node
                for node in body
                if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
            ]
            only_imports = all(
                isinstance(node, ast.Import | ast.ImportFrom)
                or (
                    isinstance(node, ast.Assign)
                    and any(getattr(t, "id", None) == "__all__" for t in node.targets)
                )
                for node in statements
            )
            if statements and only_imports:
                hollow.append(str(path.relative_to(REPO_ROOT)))
    assert hollow == []


def test_the_shipped_model_imports_only_numpy_pandas_sklearn_and_the_standard_library() -> None:
    modules = _modules("tasks/model")
    assert [p.name for p in modules] == ["__init__.py", "segment_model.py"]
    allowed = MODEL_THIRD_PARTY | set(sys.stdlib_module_names) | {"__future__"}
    foreign = sorted(
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in modules
        for name in _imports(path)
        if name.split(".")[0] not in allowed
    )
    assert foreign == []


def test_the_import_rules_themselves_catch_a_project_import(tmp_path: Path) -> None:
    """Guard for the checks above: an import of the project or of prefect is seen."""
    module = tmp_path / "module.py"
    module.write_text("import prefect\n\ndef f():\n    from tasks.data import ingest\n")
    assert _imports(module) == {"prefect", "tasks.data"}
