"""The package's import graph, read from the source (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pipeline"


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(f.relative_to(REPO).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = f
    return out


def imported_names(path: Path) -> list[tuple[str, str | None]]:
    """(module, imported name or None) for each package import in one file."""
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == "pipeline"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "pipeline":
            out += [(node.module, a.name) for a in node.names]
    return out


def graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a package's __init__ counts as imported too)."""
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for module, name in imported_names(f):
            target = f"{module}.{name}" if name and f"{module}.{name}" in mods else module
            parts = target.split(".")
            # Importing a.b.c runs a/__init__ and a/b/__init__ first, except the packages that
            # hold `m` itself: Python is already importing those when `m` runs.
            own = {".".join(m.split(".")[:i]) for i in range(1, m.count(".") + 1)}
            edges[m].update(p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in mods and p not in own)
            if target in mods:
                edges[m].add(target)
        edges[m].discard(m)
    return edges


def closure(start: str) -> set[str]:
    """Every package module that importing `start` can reach."""
    g, seen, todo = graph(), set(), [start]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(g[m])
            # A module's own packages run before it.
            todo.extend(p for p in (".".join(m.split(".")[:i]) for i in range(1, m.count(".") + 1)) if p in g)
    return seen


def stage_deps(stage: str) -> list[str]:
    """The package files the stage module reaches, as `dvc.yaml` deps: a whole sub-package is
    named by its folder when every module in it is reached."""
    mods = modules()
    files = {mods[m].relative_to(REPO) for m in closure(f"pipeline.stages.{stage}")}
    folders = {f.parent for f in files if f.parent != Path("pipeline") and f.parent.parent == Path("pipeline")}
    whole = {d for d in folders if {p.relative_to(REPO) for p in (REPO / d).glob("*.py")} <= files}
    return sorted({str(f) for f in files if f.parent not in whole} | {str(d) for d in whole})


if __name__ == "__main__":  # print every stage's deps, to paste into dvc.yaml
    import yaml

    for name in yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]:
        print(f"{name}:", *stage_deps(name), sep="\n  - ")
