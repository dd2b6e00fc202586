"""The house rules that keep the code readable and `dvc repro` honest, checked on the source."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
import yaml

from tests.import_graph import PACKAGE, REPO, closure, graph, imported_names, modules

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def _covered(file: Path, deps: list[str]) -> bool:
    rel = file.relative_to(REPO)
    return any(rel == Path(d) or Path(d) in rel.parents for d in deps)


def test_every_stage_has_its_module_and_every_module_a_stage():
    stage_modules = {p.stem for p in (PACKAGE / "stages").glob("*.py") if p.stem != "__init__"}
    assert stage_modules == set(STAGES), "pipeline/stages/<name>.py must mirror dvc.yaml's stages one to one"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_every_module_the_stage_runs(stage):
    """Editing any module a stage imports must make `dvc repro` re-run that stage."""
    deps = [d if isinstance(d, str) else next(iter(d)) for d in STAGES[stage].get("deps", [])]
    mods = modules()
    missing = sorted(str(mods[m].relative_to(REPO)) for m in closure(f"pipeline.stages.{stage}")
                     if not _covered(mods[m], deps))
    assert not missing, f"dvc.yaml stage '{stage}' runs these modules but does not depend on them: {missing}"


def test_no_import_cycles():
    g = nx.DiGraph([(a, b) for a, bs in graph().items() for b in bs])
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_names_cross_modules():
    crossings = [f"{f.relative_to(REPO)} imports {name} from {module}"
                 for f in modules().values() for module, name in imported_names(f)
                 if name and name.startswith("_") and not name.startswith("__")]
    assert not crossings, crossings


def test_developer_tools_stay_out_of_the_shipped_model(tmp_path):
    from pipeline.package import shipped_package

    copy = shipped_package(tmp_path)
    shipped = {p.relative_to(copy).as_posix() for p in copy.rglob("*.py")}
    assert "statelink_model.py" in shipped and "serving.py" in shipped
    assert not [p for p in shipped if p.startswith("dev/")], "the sample generator and notebook helpers must not ship"
    # Nothing the model runs may need them.
    needs_dev = [m for m in closure("pipeline.statelink_model") if m.startswith("pipeline.dev")]
    assert not needs_dev, needs_dev
