"""The layout is the design: a module's folder says which process it runs in and what it may
import (docs/development.md). Read from the source with ast; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each group, and the groups its modules may import (itself always).
ALLOWED: dict[str, set[str]] = {
    # bench/errors.py, terminal.py, nvml.py, model_spec.py (bench.ModelSpec, the public API
    # of a user's model file): helpers of every process
    "shared": set(),
    "registry": {"shared", "models"},  # bench/backends/__init__.py, base.py: no framework
    # bench/backends/registry.py: stdlib-only facts; a user's model (models/user) checks
    # what it returns against bench.ModelSpec and refuses bad input with bench.errors.
    "models": {"models", "registry", "shared"},
    "matrix": {"shared", "registry", "models"},
    "results": {"shared", "registry", "models", "matrix"},
    "analysis": {"shared", "registry", "models", "matrix", "results"},
    "frameworks": {"shared", "registry", "models", "matrix"},  # bench/backends/*_backends.py
    "worker": {"shared", "registry", "frameworks", "models", "matrix", "results"},
    "parent": {"shared", "registry", "models", "matrix", "results", "analysis"},
    "report": {"shared", "registry", "models", "matrix", "results", "analysis"},
    "cli": {"shared", "registry", "models", "matrix", "results", "analysis", "parent", "report"},
}


def group_of(module: str) -> str | None:
    """The group of a dotted module name of this project, or None (a third-party module)."""
    parts = module.split(".")
    if parts[0] == "models":
        return "models"
    if parts[0] == "report":
        return "report"
    if parts[0] != "bench":
        return None
    if len(parts) == 1 or parts[1] in ("errors", "terminal", "nvml", "model_spec", "__main__"):
        return "cli" if parts[1:2] == ["__main__"] else "shared"
    if parts[1] == "backends":
        if len(parts) == 2 or parts[2] in ("base", "registry"):
            return "registry"
        return "frameworks"
    return parts[1] if parts[1] in ALLOWED else "unknown"


def module_name(path: Path) -> str:
    dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return dotted.removesuffix(".__init__")


def sources() -> list[Path]:
    return sorted(p for top in ("bench", "models", "report") for p in (ROOT / top).rglob("*.py"))


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The project modules ``path`` imports; with ``top_level_only``, those executed on import
    (not inside a function, not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = True
            if not (top_level_only and inner):
                if isinstance(child, ast.Import):
                    found.update(a.name for a in child.names)
                elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                    found.add(child.module)
                    found.update(f"{child.module}.{a.name}" for a in child.names)
            visit(child, inner)

    visit(tree, False)
    known = {module_name(p) for p in sources()}
    return {m for m in found if m in known}


def test_every_module_is_in_a_group():
    unknown = [module_name(p) for p in sources() if group_of(module_name(p)) == "unknown"]
    assert unknown == [], f"modules outside the groups of docs/development.md: {unknown}"


def test_each_group_imports_only_what_it_may():
    wrong = []
    for path in sources():
        mine = group_of(module_name(path))
        assert mine is not None
        for target in imports(path, top_level_only=False):
            theirs = group_of(target)
            if theirs is not None and theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{module_name(path)} ({mine}) imports {target} ({theirs})")
    assert wrong == [], "\n".join(wrong)


def test_no_import_cycle():
    graph = {module_name(p): imports(p, top_level_only=True) for p in sources()}
    # A package's submodule importing its package's __init__ is how Python loads it; only
    # an edge back from a module its own import reaches is a cycle.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or node.startswith(nxt + "."):
                continue  # a module importing its parent package
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    ("module", "group"),
    [
        ("bench.worker.main", "worker"),
        ("bench.parent.runner", "parent"),
        ("bench.backends", "registry"),
        ("bench.backends.torch_backends", "frameworks"),
        ("bench.errors", "shared"),
        ("bench.model_spec", "shared"),
        ("models.user.torch", "models"),
        ("numpy", None),
    ],
)
def test_group_of(module, group):
    assert group_of(module) == group


def test_the_rule_catches_a_parent_importing_the_worker(tmp_path, monkeypatch):
    """The checker itself: a planted module of the parent that imports the worker is named."""
    planted = ROOT / "bench" / "parent" / "_planted_for_test.py"
    planted.write_text("from bench.worker import timing\n")
    try:
        with pytest.raises(AssertionError, match="_planted_for_test"):
            test_each_group_imports_only_what_it_may()
    finally:
        planted.unlink()


def test_every_scenario_has_its_four_parts():
    """A scenario's matrix (bench.matrix.scenarios), measurement (bench.worker.scenarios),
    summary rows (bench.analysis.summary_rows) and report section (report/sections/)."""
    plans = {p.stem for p in (ROOT / "bench/matrix/scenarios").glob("*.py")} - {
        "__init__",
        "base",
    }
    measures = {p.stem for p in (ROOT / "bench/worker/scenarios").glob("*.py")} - {
        "__init__",
        "base",
    }
    rows = (ROOT / "bench/analysis/summary_rows.py").read_text()
    assert plans == measures
    for name in plans:
        assert f'"{name}": ' in rows, f"bench/analysis/summary_rows.py: no table for {name}"
        section = ROOT / "report" / "sections" / f"{name}.py"
        assert section.exists() or (section.parent / name).is_dir(), f"no report section {name}"
