"""Benchmark the feature families: tweets/s and peak RSS, behaviour and coordination apart.

Builds a dump of N tweets over N/100 accounts from the sample generator's machinery: one
generated base population of 2,000 accounts x 100 tweets, replicated with fresh ids and
shifted times. Each replica is its own population (campaign `replica_k`): the generator's
text pools are small, so identical texts across replicas would otherwise make every
replica one giant copy-paste network, which no real dump is. Within a population the cost
of pair-building is bounded by the item caps in `features.coordination`, not by its size.
Each family is timed in its own process, so peak RSS is per family. The working table both
families read (`tables.materialise_tweets`: tweets joined to accounts once) is built once
per run in the pipeline, so it is timed apart and counted once in the total.

    python bench/features.py                    # 1M and 10M tweets
    python bench/features.py --tweets 1000000   # one size
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

BASE_ACCOUNTS = 2000
FAMILIES = ("behaviour", "coordination", "text")
TWEETS_PER_ACCOUNT = 100


def build_dump(n_tweets: int, work: Path) -> Path:
    import duckdb

    from pipeline.config import IngestParams, SampleParams
    from pipeline.ingest import ingest_dumps, labelled_dumps
    from pipeline.dev.sample import generate_sample

    base = work / "base"
    if not (base / "interim" / "tweets.parquet").exists():
        generate_sample(SampleParams(seed=3, n_accounts=BASE_ACCOUNTS, tweets_per_account=TWEETS_PER_ACCOUNT), base / "raw")
        # Every <campaign>/<label>/ folder the generator wrote, unlabelled: each replica is later
        # given its own campaign. (params.yaml's data.dumps also name the shifted world's dumps.)
        dumps = [(path, None, None) for path, _, _ in labelled_dumps(base / "raw")]
        ingest_dumps(dumps, base / "interim", IngestParams())
    out = work / f"n{n_tweets}"
    if (out / ".complete").exists():  # built by an earlier run with the same base
        return out
    out.mkdir(exist_ok=True)
    con = duckdb.connect()
    base_tweets = con.execute(f"SELECT COUNT(*) FROM read_parquet('{base}/interim/tweets.parquet')").fetchone()[0]
    reps = max(1, round(n_tweets / base_tweets))
    # Replica k: ids suffixed with k, times shifted by k*37 minutes so minute bins differ.
    con.execute(f"""
        COPY (SELECT * REPLACE (userid || '_' || k AS userid, 'replica_' || k AS campaign, NULL::VARCHAR AS label)
              FROM read_parquet('{base}/interim/accounts.parquet'), range({reps}) r(k))
        TO '{out}/accounts.parquet' (FORMAT parquet)""")
    con.execute(f"""
        COPY (SELECT * REPLACE (
                 tweetid || '_' || k AS tweetid, userid || '_' || k AS userid,
                 CASE WHEN retweet_tweetid IS NULL THEN NULL ELSE retweet_tweetid || '_' || k END AS retweet_tweetid,
                 tweet_time + INTERVAL (k * 37) MINUTE AS tweet_time,
                 'replica_' || k AS campaign, NULL::VARCHAR AS label)
              FROM read_parquet('{base}/interim/tweets.parquet'), range({reps}) r(k))
        TO '{out}/tweets.parquet' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    con.close()
    (out / ".complete").touch()
    return out


def run_family(family: str, data: Path) -> dict:
    """Time one family in this process; report tweets/s and this process's peak RSS."""

    from pipeline.config import FeaturesParams
    from pipeline.features.behaviour import compute_behaviour
    from pipeline.features.tables import POPULATION_SQL
    from pipeline.features.coordination import compute_coordination
    from pipeline.features.tables import materialise_tweets
    from pipeline.features.text import compute_text

    import contextlib
    import tempfile as tf

    from pipeline.features.tables import connect

    stack = contextlib.ExitStack()
    con = stack.enter_context(connect("4GB", spill_dir=Path(tf.mkdtemp(prefix="bench-duckdb-", dir=data.parent))))
    con.execute(f"CREATE VIEW acc AS SELECT *, {POPULATION_SQL} AS population FROM read_parquet('{data}/accounts.parquet')")
    con.execute(f"CREATE VIEW tweets AS SELECT * FROM read_parquet('{data}/tweets.parquet')")
    n_tweets = con.execute("SELECT COUNT(*) FROM tweets").fetchone()[0]
    n_accounts = con.execute("SELECT COUNT(*) FROM acc").fetchone()[0]
    params = FeaturesParams()
    t0 = time.perf_counter()
    if family != "text":  # the text family reads the tweets themselves, not the working table
        materialise_tweets(con)
    t_mat = time.perf_counter() - t0
    t0 = time.perf_counter()
    if family == "behaviour":
        rows = len(compute_behaviour(con, FeaturesParams()).fetchnumpy()["userid"])
    elif family == "text":
        compute_text(con, params.text)
        rows = con.execute("SELECT COUNT(*) FROM txt").fetchone()[0]
    else:
        rows = compute_coordination(con, params.coordination).num_rows
    secs = time.perf_counter() - t0
    peak = peak_rss_gb()
    return {"family": family, "tweets": n_tweets, "accounts": n_accounts, "rows": rows,
            "materialise_s": round(t_mat, 2), "seconds": round(secs, 2), "tweets_per_s": round(n_tweets / secs), "peak_rss_gb": round(peak, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tweets", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--work", type=Path, default=None, help="Folder for the generated dumps (kept between runs).")
    ap.add_argument("--family", choices=FAMILIES, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.family:  # child process: one family, one measurement
        print(json.dumps(run_family(args.family, args.data)))
        return
    work = args.work or Path(tempfile.gettempdir()) / "statelink-bench-features"
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.tweets:
        data = build_dump(n, work)
        for family in FAMILIES:
            out = subprocess.run([sys.executable, __file__, "--family", family, "--data", str(data)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            print(f"{r['tweets']:>11,} tweets {r['accounts']:>8,} accounts  {family:<13} "
                  f"{r['seconds']:>7.1f} s  {r['tweets_per_s']:>10,} tweets/s  peak RSS {r['peak_rss_gb']:.2f} GB"
                  f"  (working table {r['materialise_s']:.1f} s)", flush=True)
    sizes = sorted({r["tweets"] for r in results})
    # One working table per run: its slower build of the two is counted once. The issue's
    # target is behaviour + coordination; text is printed beside it.
    def at(n, fam):
        return next(r for r in results if r["tweets"] == n and r["family"] == fam)

    total = {n: max(at(n, "behaviour")["materialise_s"], at(n, "coordination")["materialise_s"])
             + at(n, "behaviour")["seconds"] + at(n, "coordination")["seconds"] for n in sizes}
    for n in sizes:
        print(f"{n:>11,} tweets: working table + behaviour + coordination {total[n]:.1f} s; "
              f"with text {total[n] + at(n, 'text')['seconds']:.1f} s")
    if len(sizes) > 1:
        print(f"time ratio {sizes[-1]:,} / {sizes[0]:,} tweets: {total[sizes[-1]] / total[sizes[0]]:.1f} "
              f"(size ratio {sizes[-1] / sizes[0]:.0f}); behaviour+coordination at {sizes[-1]:,}: {total[sizes[-1]]:.1f} s")


if __name__ == "__main__":
    main()
