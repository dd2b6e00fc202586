"""How the registered model holds up off its own sample: another world, and an operation that hides.

    python bench/robustness.py [--model models/statelink] [--sample data/raw/sample]
                               [--holdout covid_2020] [--world-seed 11] [--world-accounts 1000]

Scores, with `statelink score`'s own path (`score.score_dump`, cascade as configured):

- `clean`: the bundled held-out campaign, as `dvc repro` evaluates it;
- `shifted`: a world written by other hands (`pipeline/dev/shifted.py`: other personas,
  vocabularies, activity, time zones, organic communities that share viral posts), which
  the model never saw, scored as one dump;
- each evasion trick alone on the held-out campaign's state-linked posts, and all combined
  (`pipeline/dev/evasion.py`: zero-width characters, homoglyphs, full-width ASCII,
  emoji/hashtag padding), and all combined on the shifted world.

and prints, per scenario: PR-AUC; the share of organic accounts flagged at the operating
point; precision at 1 % prevalence; the shares of state-linked and of organic accounts in a
coordination cluster; and the share the text encoder read. Labels come from the dumps'
folders (`<campaign>/<label>/`), never from the scores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import EvaluateParams, load_params  # noqa: E402
from pipeline.dev.evasion import TRICKS, evade_dump  # noqa: E402
from pipeline.dev.shifted import generate_world  # noqa: E402
from pipeline.ingest import ingest_dumps  # noqa: E402
from pipeline.metrics import binary_metrics  # noqa: E402
from pipeline.score import load_model, score_dump  # noqa: E402

COLUMNS = ("scenario", "accounts", "pr_auc", "organic_flagged", "precision_at_1pct", "state_linked_in_cluster",
           "organic_in_cluster", "read_by_encoder", "seconds")


def labelled_dumps(root: Path) -> list[tuple[str, str, str]]:
    """(path, campaign, label) for every `<campaign>/<label>/` folder under `root`."""
    return [(str(d), d.parent.name, d.name) for d in sorted(root.glob("*/*")) if d.is_dir()]


def truth(root: Path, work: Path) -> pd.DataFrame:
    """userid -> label, read from the dump folders by ingest (not from anything the model sees)."""
    ingest_dumps(labelled_dumps(root), work, progress=False)
    return pd.read_parquet(work / "accounts.parquet", columns=["userid", "label"])


def run_scenario(name: str, root: Path, model, work: Path, cascade, ev: EvaluateParams) -> dict:
    t0 = time.perf_counter()
    out = work / f"{name}.parquet"
    rep = score_dump([str(root)], model, out, progress=False, cascade=cascade)
    scores = pd.read_parquet(out).merge(truth(root, work / f"{name}-truth"), on="userid", validate="one_to_one")
    y = (scores["label_y"] == "state_linked").to_numpy().astype(int)
    flagged = (scores["label_x"] == "state_linked").to_numpy()
    in_cluster = (scores["coord_cluster"].fillna("") != "").to_numpy()
    threshold = model.bundle.threshold
    m = binary_metrics(y, scores["score"].to_numpy(), threshold, ev.low_prevalence, ev.fpr_budget)
    return {
        "scenario": name, "accounts": len(scores), "pr_auc": m["pr_auc"],
        "organic_flagged": float(flagged[y == 0].mean()),
        "precision_at_1pct": m["precision_at_1pct_prevalence"],
        "state_linked_in_cluster": float(in_cluster[y == 1].mean()),
        "organic_in_cluster": float(in_cluster[y == 0].mean()),
        "read_by_encoder": (rep.encoder_accounts or 0) / max(rep.accounts, 1),
        "seconds": time.perf_counter() - t0,
    }


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [r["scenario"], f"{r['accounts']:,}"] + [f"{r[c]:.3f}" for c in COLUMNS[2:-1]] + [f"{r['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/statelink")
    ap.add_argument("--sample", type=Path, default=Path("data/raw/sample"))
    ap.add_argument("--holdout", default="covid_2020")
    ap.add_argument("--world-seed", type=int, default=11)
    ap.add_argument("--world-accounts", type=int, default=1000)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--scenarios", nargs="*", help="Run only these (default: all).")
    args = ap.parse_args(argv)
    params = load_params(args.params)
    cascade = tuple(params.score.cascade_band) if params.score.cascade else None
    model = load_model(args.model)
    rows = []
    with tempfile.TemporaryDirectory(prefix="robustness-") as tmp:
        work = Path(tmp)
        clean = work / "clean"
        shutil.copytree(args.sample / args.holdout, clean / args.holdout)  # discovery does not follow links
        shifted = work / "shifted"
        generate_world(args.world_seed, args.world_accounts, shifted)
        scenarios = {"clean": clean, "shifted": shifted}
        for trick in TRICKS:
            scenarios[f"clean+{trick}"] = clean
        scenarios["clean+all tricks"] = clean
        scenarios["shifted+all tricks"] = shifted
        for name, root in scenarios.items():
            if args.scenarios and name not in args.scenarios:
                continue
            if "+" in name:
                tricks = TRICKS if name.endswith("all tricks") else (name.split("+", 1)[1],)
                attacked = work / name.replace(" ", "_").replace("+", "-")
                evade_dump(root, attacked, tricks, seed=0)
                root = attacked
            rows.append(run_scenario(name.replace(" ", "_"), root, model, work, cascade, params.evaluate))
            print(f"{rows[-1]['scenario']}: PR-AUC {rows[-1]['pr_auc']:.3f} ({rows[-1]['seconds']:.0f} s)", file=sys.stderr)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
