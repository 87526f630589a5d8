"""What a model folder must provide, as data: checked by the tests, read by the registry.

``problems(name)`` lists what a model lacks, in words (empty when it meets the
contract). It imports the spec and reference (NumPy only) and, per framework, only
checks that the file exists and names its functions: importing it would import the
framework, which the parity tests do.
"""

from __future__ import annotations

import ast
from pathlib import Path

import models
from bench.backends.registry import FRAMEWORKS

# Names every spec.py defines.
SPEC_NAMES = (
    "Config",
    "PROFILES",
    "BATCH_SIZE",
    "describe",
    "init_params",
    "make_batch",
    "flops_per_step",
    "buffers",
    "STREAM_MODES",
)
# What a sequence model's spec adds (STREAM_MODES non-empty).
SEQUENCE_NAMES = ("stream_config",)
REFERENCE_NAMES = ("forward",)
# Per framework file: the functions it defines, as the framework's registry entry says
# (``prepare_input`` is optional everywhere).
FRAMEWORK_NAMES = {name: info.model_functions for name, info in FRAMEWORKS.items()}
PROFILES = ("quick", "full")
MODES = ("infer", "train")


def defined_names(path: Path) -> set[str]:
    """Top-level functions, classes and assignments of a Python file, read without importing."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _positive_per_profile(table: object) -> bool:
    if not isinstance(table, dict) or tuple(table) != PROFILES:
        return False
    return all(isinstance(v, int | float) and v > 0 for v in table.values())


def problems(name: str) -> list[str]:
    """Everything ``models/<name>/`` lacks to be a model, one sentence each."""
    folder = models.folder(name)
    found = []
    spec = models.spec(name)
    missing = [n for n in SPEC_NAMES if not hasattr(spec, n)]
    if spec.__dict__.get("STREAM_MODES"):
        missing += [n for n in SEQUENCE_NAMES if not hasattr(spec, n)]
    if missing:
        found.append(f"{name}/spec.py lacks {', '.join(missing)}")
    else:
        for table in ("PROFILES", "BATCH_SIZE"):
            keys = tuple(getattr(spec, table))
            if keys != PROFILES:
                found.append(f"{name}/spec.py: {table} has {keys}, expected {PROFILES}")
        wrong = set(spec.STREAM_MODES) - set(MODES)
        if wrong:
            found.append(f"{name}/spec.py: STREAM_MODES has unknown modes {sorted(wrong)}")
    # Optional: its build's cost per profile for bench/cost.py's prior (without it, the
    # prior derives one from the model's FLOPs and parameter tensors).
    factor = getattr(spec, "COST_FACTOR", None)
    if factor is not None and not _positive_per_profile(factor):
        found.append(f"{name}/spec.py: COST_FACTOR needs a positive number per {PROFILES}")
    reference = models.reference(name)
    if not all(hasattr(reference, n) for n in REFERENCE_NAMES):
        found.append(f"{name}/reference.py lacks {', '.join(REFERENCE_NAMES)}")
    for framework, required in FRAMEWORK_NAMES.items():
        path = folder / f"{framework}.py"
        if not path.is_file():
            found.append(f"{name}/{framework}.py is missing")
            continue
        lacking = [n for n in required if n not in defined_names(path)]
        if lacking:
            found.append(f"{name}/{framework}.py lacks {', '.join(lacking)}")
    return found
