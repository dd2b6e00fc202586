"""Are two workspaces' pipeline outputs the same? For behaviour-preserving changes.

    python bench/same_outputs.py BEFORE_DIR AFTER_DIR [--tol 1e-12]

Walks every output `dvc.yaml` declares (outs, metrics, plots) in both workspaces, after a
`dvc repro` in each, and prints one line per file:

- `identical`: the same bytes;
- `equal to TOL`: not the same bytes, but every number agrees to TOL (relative or absolute)
  and everything else is equal: Parquet tables column by column, JSON trees, LightGBM's
  text model token by token. That is what a library function in place of a hand copy of
  the same formula (`scipy.special.expit` for a sigmoid) leaves behind;
- `timing only`: JSON that differs only under keys that hold wall-clock seconds;
- `DIFFERENT` with the first difference.

The registered MLflow model folder carries a copy of the package's code and a creation
time and uuid in `MLmodel`, so those are reported as `code/metadata` and not compared.
Exit 1 when any file is DIFFERENT or missing on one side.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml

TIMING_KEYS = {"seconds", "wall_seconds", "elapsed", "duration_s", "started", "finished", "created_utc",
               "tweet_rows_per_second"}
TIMING_SUFFIXES = ("_seconds", "_per_s", "_per_second")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def declared_outputs(repo: Path) -> list[Path]:
    stages = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    outs = []
    for stage in stages.values():
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key, []):
                outs.append(Path(entry if isinstance(entry, str) else next(iter(entry))))
    return outs


def files_under(root: Path, rel: Path) -> list[Path]:
    path = root / rel
    if path.is_dir():
        return sorted(p.relative_to(root) for p in path.rglob("*") if p.is_file())
    return [rel] if path.exists() else []


def close(a: float, b: float, tol: float) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def compare_json(a, b, tol: float, path: str = "") -> tuple[str | None, bool]:
    """(first difference or None, whether all differences sit under timing keys)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(set(a) ^ set(b))}", False
        timing_only = True
        first = None
        for k in a:
            diff, timing = compare_json(a[k], b[k], tol, f"{path}.{k}")
            if diff:
                timing = timing or k in TIMING_KEYS or k.endswith(TIMING_SUFFIXES)
                # Report the first difference that is not a timing, if there is one.
                if first is None or (timing_only and not timing):
                    first = diff
                timing_only = timing_only and timing
        return first, first is not None and timing_only
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items", False
        for i, (x, y) in enumerate(zip(a, b)):
            diff, timing = compare_json(x, y, tol, f"{path}[{i}]")
            if diff:
                return diff, timing
        return None, False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return (None, False) if close(float(a), float(b), tol) else (f"{path}: {a} vs {b}", False)
    return (None, False) if a == b else (f"{path}: {a!r} vs {b!r}", False)


def compare_parquet(a: Path, b: Path, tol: float) -> str | None:
    ta, tb = pq.read_table(a), pq.read_table(b)
    if ta.schema != tb.schema:
        return f"schema {ta.schema} vs {tb.schema}"
    if ta.num_rows != tb.num_rows:
        return f"{ta.num_rows} vs {tb.num_rows} rows"
    for name in ta.column_names:
        ca, cb = ta.column(name).to_pylist(), tb.column(name).to_pylist()
        for i, (x, y) in enumerate(zip(ca, cb)):
            if x == y:
                continue
            if isinstance(x, float) and isinstance(y, float) and close(x, y, tol):
                continue
            return f"column {name} row {i}: {x!r} vs {y!r}"
    return None


def compare_text_numbers(a: str, b: str, tol: float) -> str | None:
    """Text equal once every number is allowed to differ by TOL (LightGBM's model.txt)."""
    if NUMBER.sub("#", a) != NUMBER.sub("#", b):
        return "text differs beyond its numbers"
    for x, y in zip(NUMBER.findall(a), NUMBER.findall(b)):
        if x != y and not close(float(x), float(y), tol):
            return f"number {x} vs {y}"
    return None


def verdict(before: Path, after: Path, rel: Path, tol: float) -> str:
    a, b = before / rel, after / rel
    if rel.parts[:2] == ("models", "statelink") and (rel.name == "MLmodel" or "code" in rel.parts):
        return "code/metadata (not compared)"
    if not a.exists() or not b.exists():
        return "DIFFERENT: missing in " + ("before" if not a.exists() else "after")
    if a.read_bytes() == b.read_bytes():
        return "identical"
    if rel.suffix == ".parquet":
        diff = compare_parquet(a, b, tol)
    elif rel.suffix == ".json":
        diff, timing = compare_json(json.loads(a.read_text()), json.loads(b.read_text()), tol)
        if diff and timing:
            return "timing only"
    elif rel.suffix in (".txt", ".md", ".csv"):
        diff = compare_text_numbers(a.read_text(errors="replace"), b.read_text(errors="replace"), tol)
    else:
        diff = "binary files differ"
    return f"equal to {tol:g}" if diff is None else f"DIFFERENT: {diff}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--tol", type=float, default=1e-12)
    args = ap.parse_args(argv)
    rels = sorted({f for out in declared_outputs(args.after) for root in (args.before, args.after)
                   for f in files_under(root, out)})
    counts: dict[str, int] = {}
    bad = 0
    for rel in rels:
        v = verdict(args.before, args.after, rel, args.tol)
        counts[v.split(":")[0]] = counts.get(v.split(":")[0], 0) + 1
        bad += v.startswith("DIFFERENT")
        print(f"{v:<32} {rel}")
    print("; ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
