"""The layout shows the architecture, and nothing imports upward (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "llmatlas"

# Lower numbers are lower layers; a package may import its own layer and those below.
LAYERS: dict[str, int] = {
    "core": 0,
    "catalog": 1,
    "estimate": 1,
    "backends": 2,
    "sandbox": 2,
    "tasks": 3,
    "engine": 3,
    "market": 3,
    "advise": 4,
    "arena": 4,
    "api": 5,
    "report": 6,
    "cli": 6,
    "web": 6,
}
TOP_LEVEL = {"__init__", "__main__"}  # the package's own files (version)


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[str]:
    """llmatlas packages a module imports (lazy imports inside functions count too)."""
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "llmatlas":
            parts = node.module.split(".")
            out += [parts[1]] if len(parts) > 1 else [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name.split(".")[1] for a in node.names if a.name.startswith("llmatlas.")]
    return out


def test_every_package_has_a_layer() -> None:
    packages = {_package(p) for p in SRC.rglob("*.py")} - TOP_LEVEL
    assert packages <= set(LAYERS), f"add {sorted(packages - set(LAYERS))} to LAYERS and docs/architecture.md"


def test_no_module_imports_upward() -> None:
    bad = []
    for path in SRC.rglob("*.py"):
        pkg = _package(path)
        if pkg in TOP_LEVEL:
            continue
        for target in _imports(path):
            if target in LAYERS and LAYERS[target] > LAYERS[pkg]:
                bad.append(
                    f"{path.relative_to(SRC)} ({pkg}, layer {LAYERS[pkg]}) imports {target} (layer {LAYERS[target]})"
                )
    assert not bad, "\n".join(bad)


def test_architecture_doc_lists_the_layers() -> None:
    doc = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    for pkg in LAYERS:
        assert f"`{pkg}/`" in doc or f"`{pkg}.py`" in doc, pkg


# A name may repeat only where it means the same role in each package: its pydantic models (schema),
# its lookup by name (registry), a front end's application object (app), the package marker.
SAME_ROLE = {"__init__", "app", "registry", "schema"}


def test_no_two_modules_share_a_name_for_different_jobs() -> None:
    seen: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        seen.setdefault(path.stem, []).append(str(path.relative_to(SRC)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1 and name not in SAME_ROLE}
    assert not clashes, f"modules with one name in several packages: {clashes}"


def test_no_base_module_hides_a_task_type() -> None:
    """Each task type has a module of its name (task.py: the protocol; multiple_choice.py, generation.py)."""
    bases = [p.relative_to(SRC) for p in SRC.rglob("base.py")]
    assert bases == [Path("backends/base.py")]  # the Backend interface every backend implements
