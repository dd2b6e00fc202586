"""`statelink report`: one self-contained HTML page a reviewer can triage from, offline.

Reads a `statelink score` output (and its `<out>.meta.json`) and the dump it scored, and
writes one HTML file with no script at all, no external resource, styles inline and every
figure an embedded PNG:

- the run: counts, the drift warning, the operating point and what the probability means;
- the top accounts: score, label, reasons, cluster (a link to it), profile and sample
  tweets, as raw text;
- the largest coordination clusters: the ties drawn, a posting timeline, a weekday x hour
  heatmap in the operators' time zone (`features.local_utc_offset_hours`), the traces and
  the most shared items (the ties of `pipeline/network.py`).

Every piece of user text goes through `html.escape` (quotes included), so a dump's
`<script>` or `onerror=` is shown, never run (tests/test_report.py, in headless Chromium).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from pipeline.io import atomic_path

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}table{border-collapse:collapse;width:100%}
table{table-layout:fixed}td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
th{background:#f4f4f4}th:nth-child(1){width:2.5em}th:nth-child(2){width:16%}th:nth-child(3){width:4em}
th:nth-child(4){width:7em}th:nth-child(5){width:22%}th:nth-child(6){width:11%}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:.6em}.flag{color:#b03a2e;font-weight:600}
.tweet{font-size:12px;color:#444;border-left:3px solid #ddd;padding-left:6px;margin:3px 0;white-space:pre-wrap}
figure{display:inline-block;margin:0 1em 1em 0}img{max-width:100%}.muted{color:#777}
"""


def esc(value) -> str:
    """User text for HTML: escaped, quotes included; a missing value is empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _anchor(cluster: str) -> str:
    """An HTML id for a cluster (its id holds '+', '/' and '=' from hashed userids)."""
    return "cl-" + base64.urlsafe_b64encode(str(cluster).encode()).decode().rstrip("=")


def render(scores: pd.DataFrame, meta: dict | None, accounts: pd.DataFrame, tweets: pd.DataFrame,
           network: dict[str, pd.DataFrame], utc_offset_hours: int, top: int = 50, clusters: int = 6,
           tweets_per_account: int = 3) -> str:
    """The report's HTML from its tables (pure: no files read)."""
    from pipeline import plots

    meta = meta or {}
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
             f"<title>statelink triage report</title><style>{STYLE}</style></head><body>",
             "<h1>statelink triage report</h1>"]
    flagged = int((scores["label"] == "state_linked").sum())
    parts.append(f"<p>{len(scores):,} accounts scored, <span class='flag'>{flagged:,} flagged</span> at the operating point"
                 + (f" (threshold {float(meta['threshold']):.3f})" if "threshold" in meta else "")
                 + f", {int(scores['no_tweets'].sum()):,} scored from profile only. Model: {esc(meta.get('model', 'unknown'))}.</p>")
    drift = meta.get("drift") or {}
    if drift.get("warning"):
        parts.append(f"<p class='warn'><b>Out of distribution.</b> {esc(drift['warning'])}</p>")
    meaning = (meta.get("calibration") or {}).get("meaning")
    if meaning:
        parts.append(f"<p class='muted'>{esc(meaning)}</p>")
    parts.append("<p class='muted'>Scores are for triage by a reviewer: rank and read, never act on a label alone.</p>")

    prof = accounts.set_index("userid")
    by_user = {u: g.sort_values("tweet_time", ascending=False) for u, g in tweets.groupby("userid")}
    parts.append(f"<h2>Top {min(top, len(scores))} accounts</h2><table><tr><th>#</th><th>account</th><th>score</th>"
                 "<th>label</th><th>reasons</th><th>cluster</th><th>profile and sample tweets</th></tr>")
    for i, r in enumerate(scores.sort_values(["score", "userid"], ascending=[False, True]).head(top).itertuples(), 1):
        p = prof.loc[r.userid] if r.userid in prof.index else None
        # In a hashed row the archive writes the id's hash as both names: show it once.
        name = "" if p is None else " ".join(
            x for x in (esc(p["user_display_name"]) if p["user_display_name"] != r.userid else "",
                        f"@{esc(p['user_screen_name'])}" if p["user_screen_name"] not in (None, r.userid) else "") if x)
        profile = "" if p is None else (
            f"<div class='muted'>{esc(p['user_profile_description'])} · {esc(p['follower_count'])} followers · "
            f"created {esc(p['account_creation_date'])}</div>")
        sample = "".join(f"<div class='tweet'>{esc(t)}</div>"
                         for t in by_user.get(r.userid, pd.DataFrame({"tweet_text": []}))["tweet_text"].head(tweets_per_account))
        cl = r.coord_cluster if isinstance(r.coord_cluster, str) else ""
        link = f"<a href='#{_anchor(cl)}'>{esc(cl)}</a>" if cl else ""
        label = f"<span class='flag'>{esc(r.label)}</span>" if r.label == "state_linked" else esc(r.label)
        parts.append(f"<tr><td>{i}</td><td>{esc(r.userid)}<br>{name}</td><td>{r.score:.3f}</td><td>{label}</td>"
                     f"<td>{esc(r.reasons)}</td><td>{link}</td><td>{profile}{sample}</td></tr>")
    parts.append("</table>")

    labels = dict(zip(scores["userid"], scores["label"]))
    edges, nodes = network["edges"], network["nodes"]
    table = network["clusters"].sort_values(["size", "cluster"], ascending=[False, True]).head(clusters)
    parts.append(f"<h2>Coordination clusters (the {len(table)} largest of {len(network['clusters'])})</h2>")
    for c in table.itertuples():
        members = set(nodes.loc[nodes["cluster"] == c.cluster, "userid"])
        ce = edges[edges["source"].isin(members) & edges["target"].isin(members)]
        times = tweets.loc[tweets["userid"].isin(members), "tweet_time"]
        share = sum(labels.get(u) == "state_linked" for u in members) / max(len(members), 1)
        parts.append(f"<h3 id='{_anchor(c.cluster)}'>{esc(c.cluster)}</h3>"
                     f"<p>{c.size} accounts, {c.ties} ties; traces: {esc(', '.join(c.traces))}; "
                     f"{share:.0%} flagged; most shared: {esc(' · '.join(str(x) for x in c.top_items))}</p>")
        figs = [(plots.cluster_network_png(ce, labels), "the cluster's ties")]
        if len(times):
            figs += [(plots.timeline_png(times), "tweets per day"),
                     (plots.weekday_hour_png(times, utc_offset_hours), "weekday by hour")]
        parts.append("".join(f"<figure>{_img(png, alt)}<figcaption>{esc(alt)}</figcaption></figure>" for png, alt in figs))
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(scores_path: Path, inputs: list[str], out: Path, features, *, top: int = 50, clusters: int = 6,
                 evidence_items: int = 5, ingest=None, memory_limit: str = "4GB") -> str:
    """`statelink report`: read the scores and the dump, compute its network, write the HTML atomically."""
    import shutil

    import pyarrow.parquet as pq

    from pipeline.errors import InputError
    from pipeline.network import ingested, interim_network
    from pipeline.score import meta_path

    scores_path, out = Path(scores_path), Path(out)
    if not scores_path.exists():
        raise InputError(f"{scores_path} does not exist; write it with `statelink score`.")
    scores = (pd.read_csv(scores_path, dtype={"userid": str, "coord_cluster": str}) if scores_path.suffix.lower() == ".csv"
              else pd.read_parquet(scores_path))
    mp = meta_path(scores_path)
    meta = json.loads(mp.read_text(encoding="utf-8")) if mp.exists() else None
    work = out.parent / f".{out.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    try:
        interim = ingested(inputs, work, ingest)
        accounts = pq.read_table(interim / "accounts.parquet").to_pandas()
        missing = set(scores["userid"]) - set(accounts["userid"])
        if missing:
            raise InputError(f"{scores_path} scores {len(missing):,} accounts the dump does not hold (e.g. "
                             f"{sorted(missing)[0]}); pass the dump that was scored.")
        tweets = pq.read_table(interim / "tweets.parquet", columns=["userid", "tweet_text", "tweet_time"]).to_pandas()
        network = interim_network(interim, features, evidence_items, work, memory_limit)
        text = render(scores, meta, accounts, tweets, network, features.local_utc_offset_hours, top, clusters)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return f"wrote {out} ({len(text) / 1e6:.1f} MB): {min(top, len(scores))} accounts, {min(clusters, len(network['clusters']))} clusters"
