"""Benchmark `statelink score`: accounts/s end to end and per stage, peak RSS, the model's
load time, the encoder's share, with and without the encoder cascade.

    python bench/score.py                                  # a real-shaped dump: 18k accounts, ~540k tweets
    python bench/score.py --accounts 100000                # a larger real-shaped dump
    python bench/score.py --shape replicated               # 100k accounts / 10M tweets, texts replicated
    python bench/score.py --shape replicated --tweets 1000000
    python bench/score.py --model models/statelink         # the model `dvc repro` built
    python bench/score.py --shape replicated --tweets 1000000 --variants cascade spark   # local vs Spark local[2]

Two dump shapes. `real` (the default) is shaped like a real release: the shifted world's
generator (pipeline/dev/shifted.py) at the size asked, Pareto-tailed tweets per account (a
third post 1-5 tweets, a few thousands), distinct texts with edits, raw archive files
(gzip, zip, split parts), so the figures include ingest. `replicated` is the features
benchmark's (bench/features.py: a generated base population replicated with fresh ids, so
every text recurs ~50 times); its ingested tables are scored directly, so the figures are
features + scoring + writing. Each variant runs in its own process, so peak RSS is its own.
PR-AUC of the cascade vs the full encoder is measured on the labelled sample held-out
campaign (data/interim, from `dvc repro`), where labels exist. The spark variant scores the
same dump with `--engine spark` (local mode) and is compared account by account with the
cascade's output; its peak RSS is the driver's only (the JVM and Python workers are children).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import peak_rss_gb

REPO = Path(__file__).resolve().parents[1]


def run_variant(data: Path, model: str, cascade: bool, partitions: int, out: Path, engine: str = "local") -> dict:
    from pipeline.config import load_params
    from pipeline.score import load_model, score_dump

    band = tuple(load_params(REPO / "params.yaml").score.cascade_band) if cascade else None
    t0 = time.perf_counter()
    loaded = load_model(model)
    load_s = time.perf_counter() - t0
    rep = score_dump([str(data)], loaded, out, partitions=partitions, progress=False, cascade=band, engine=engine)
    total = time.perf_counter() - t0
    return {"cascade": cascade, "band": band, "accounts": rep.accounts, "tweets": rep.tweets,
            "encoder_accounts": rep.encoder_accounts, "seconds_total": round(total, 1),
            "seconds": {"load_model": round(load_s, 1), **rep.seconds}, "score_detail": rep.detail,
            "accounts_per_s": round(rep.accounts / total, 1), "peak_rss_gb": round(peak_rss_gb(), 2)}


def holdout_quality(model: str, bands: list[tuple[float, float]]) -> dict:
    """PR-AUC on the held-out sample campaign: encoder on every account vs each cascade band,
    with the share of accounts each band sends to the encoder."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from sklearn.metrics import average_precision_score, roc_auc_score

    from pipeline.config import load_params
    from pipeline.score import load_model
    from pipeline.serving import score_tables

    params = load_params(REPO / "params.yaml")
    interim = REPO / "data" / "interim"
    acc = pq.read_table(interim / "accounts.parquet")
    held = acc.filter(pc.is_in(acc.column("campaign"), pa_array(params.split.holdout_campaigns)))
    tw = pq.read_table(interim / "tweets.parquet", filters=[("campaign", "in", params.split.holdout_campaigns)])
    bundle = load_model(model).bundle
    labels = held.select(["userid", "label"]).to_pandas().rename(columns={"label": "truth"})
    out = {}
    for band in [None, *bands]:
        stats: dict = {}
        t0 = time.perf_counter()
        scored = score_tables(held, tw, bundle, band=band, stats=stats)
        secs = time.perf_counter() - t0
        both = scored.merge(labels, on="userid")
        y = both["truth"] == "state_linked"
        out["full" if band is None else f"[{band[0]}, {band[1]}]"] = {
            "pr_auc": round(average_precision_score(y, both["score"]), 4),
            "roc_auc": round(roc_auc_score(y, both["score"]), 4),
            "flagged": int((both["label"] == "state_linked").sum()),
            "encoder_share": round(stats.get("encoder_accounts", 0) / max(len(both), 1), 3),
            "seconds": round(secs, 1)}
    return out


def pa_array(values):
    import pyarrow as pa

    return pa.array(values, pa.string())


VARIANTS = ["cascade", "full", "spark"]


def compare_engines(local: Path, spark: Path) -> str:
    """The local and Spark engines' outputs for the same dump, account by account."""
    import pandas as pd

    a, b = pd.read_parquet(local), pd.read_parquet(spark)
    both = a.merge(b, on="userid", suffixes=("_local", "_spark"), validate="one_to_one")
    diff = float((both["score_local"] - both["score_spark"]).abs().max())
    same = {c: bool((both[f"{c}_local"].fillna("") == both[f"{c}_spark"].fillna("")).all())
            for c in ("label", "reasons", "coord_cluster")}
    return (f"local vs spark: {len(a):,} / {len(b):,} accounts, {len(both):,} matched, max |score diff| {diff:.2e}, "
            + ", ".join(f"{c} {'identical' if v else 'DIFFERENT'}" for c, v in same.items()))


def real_dump(accounts: int, seed: int, work: Path) -> Path:
    """A real-shaped raw dump (the shifted world's generator), written once per size and seed."""
    from pipeline.dev.shifted import generate_world

    out = work / f"real-{accounts}-{seed}"
    if not (out / ".done").exists():
        import shutil

        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        generate_world(seed, accounts, out)
        (out / ".done").write_text("ok")
        print(f"wrote a real-shaped dump of {accounts:,} accounts in {time.perf_counter() - t0:.0f} s: {out}", flush=True)
    return out


def replicated_dump(tweets: int, work: Path) -> Path:
    from bench.features import build_dump

    return build_dump(tweets, work)


def _band(text: str) -> tuple[float, float]:
    lo, hi = (float(x) for x in text.split(","))
    return lo, hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=("real", "replicated"), default="real")
    ap.add_argument("--accounts", type=int, default=18_000, help="accounts of a real-shaped dump")
    ap.add_argument("--seed", type=int, default=3, help="seed of a real-shaped dump")
    ap.add_argument("--tweets", type=int, default=10_000_000, help="tweets of a replicated dump")
    ap.add_argument("--model", default=str(REPO / "models" / "statelink"))
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "statelink-bench-features")
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--quality", action="store_true", help="Also measure held-out PR-AUC, cascade vs full.")
    ap.add_argument("--bands", nargs="+", type=_band, metavar="LO,HI",
                    help="cascade bands compared by --quality (default: score.cascade_band and a few others)")
    ap.add_argument("--variants", nargs="*", choices=VARIANTS, default=["cascade", "full"],
                    help="Which runs to time (full = encoder on every account, slow on CPU; spark = the cascade "
                         "with --engine spark in local mode, compared score by score with the cascade's output).")
    args = ap.parse_args()
    if args.variant:  # child process
        out = args.work / f"scores-{args.variant}.parquet"
        print(json.dumps(run_variant(args.data, args.model, args.variant != "full", args.partitions, out,
                                     engine="spark" if args.variant == "spark" else "local")))
        return
    sys.path.insert(0, str(REPO))
    args.work.mkdir(parents=True, exist_ok=True)
    data = real_dump(args.accounts, args.seed, args.work) if args.shape == "real" else replicated_dump(args.tweets, args.work)
    for variant in args.variants:
        res = subprocess.run([sys.executable, __file__, "--variant", variant, "--data", str(data), "--model", args.model,
                              "--partitions", str(args.partitions), "--work", str(args.work)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{variant}: failed\n{res.stderr[-2000:]}")
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        steps = {**r["seconds"], **r["score_detail"]}
        stages = "  ".join(f"{k} {v:.1f}s ({r['accounts'] / v:,.0f}/s)" if v > 0 else f"{k} {v:.1f}s" for k, v in steps.items())
        enc = r["encoder_accounts"]
        share = f"{enc:,} accounts ({enc / max(r['accounts'], 1):.0%})" if enc is not None else "n/c"
        print(f"{variant:<8} {r['accounts']:>8,} accounts {r['tweets']:>11,} tweets  {r['seconds_total']:>7.1f} s  "
              f"{r['accounts_per_s']:>8,.1f} accounts/s  peak RSS {r['peak_rss_gb']:.2f} GB  model load {r['seconds']['load_model']:.1f} s  "
              f"encoder on {share} (band {r['band']})  [{stages}]", flush=True)
    if "spark" in args.variants and "cascade" in args.variants:
        print(compare_engines(args.work / "scores-cascade.parquet", args.work / "scores-spark.parquet"), flush=True)
    if args.quality:
        from pipeline.config import load_params

        default = tuple(load_params(REPO / "params.yaml").score.cascade_band)
        bands = args.bands or sorted({default, (0.05, 0.95), (0.1, 0.9), (0.2, 0.8), (0.3, 0.7)})
        for name, q in holdout_quality(args.model, bands).items():
            print(f"held-out {name:<12} PR-AUC {q['pr_auc']:.4f}  ROC-AUC {q['roc_auc']:.4f}  flagged {q['flagged']}  "
                  f"encoder on {q['encoder_share']:.1%} of accounts  {q['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
