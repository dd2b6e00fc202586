"""The bundled sample: deterministic, archive-format files, and no single feature separates IO.

Every check reads the written files back with the standard library only (csv, gzip, zipfile,
json), the way a stranger to the generator would.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import unicodedata
import zipfile
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pipeline.config import SampleParams
from pipeline.dev.sample import CAMPAIGNS, generate_sample
from pipeline.schema import TWEETS_COLUMNS, USERS_COLUMNS

CAMPAIGN_NAMES = ("hk_2019", "covid_2020", "xinjiang_2021")
LABELS = ("state_linked", "control")
WEB = {"Twitter Web App", "Twitter Web Client"}


# ---------------------------------------------------------------- readers (stdlib only)


def _csv_text(path: Path) -> list[str]:
    """Text of every CSV held by `path` (plain, .gz or .zip)."""
    if path.name.endswith(".csv.gz"):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            return [f.read()]
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return [zf.read(n).decode("utf-8") for n in zf.namelist() if n.endswith(".csv")]
    return [path.read_text(encoding="utf-8")]


def read_csv(path: Path) -> tuple[list[list[str]], list[dict[str, str]]]:
    headers, rows = [], []
    for text in _csv_text(path):
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader)
        headers.append(header)
        rows.extend(dict(zip(header, rec, strict=True)) for rec in reader)
    return headers, rows


def read_dump(folder: Path) -> tuple[list[dict], list[dict]]:
    """(users rows, tweets rows) of one dump; JSONL tweets are mapped to archive column names."""
    users, tweets = [], []
    for f in sorted(folder.iterdir()):
        if "users" in f.name:
            users.extend(read_csv(f)[1])
        elif "tweets" in f.name and f.name.endswith(".jsonl"):
            for line in f.read_text(encoding="utf-8").splitlines():
                o = json.loads(line)
                u = o["user"]
                tweets.append({
                    "tweetid": o["id_str"], "userid": u["id_str"], "user_screen_name": u["screen_name"],
                    "user_display_name": u["name"], "user_profile_description": u["description"],
                    "follower_count": str(u["followers_count"]),
                    "account_creation_date": datetime.strptime(u["created_at"], "%a %b %d %H:%M:%S %z %Y")
                    .date().isoformat(),
                    "tweet_time": datetime.strptime(o["created_at"], "%a %b %d %H:%M:%S %z %Y").strftime("%Y-%m-%d %H:%M"),
                    "tweet_client_name": o["source"].split(">")[1].split("<")[0],
                    "is_retweet": str("retweeted_status" in o),
                    "retweet_tweetid": o["retweeted_status"]["id_str"] if "retweeted_status" in o else "",
                    "like_count": str(o["favorite_count"]),
                    "tweet_text": o.get("full_text", o.get("text")),
                })
        elif "tweets" in f.name:
            tweets.extend(read_csv(f)[1])
    return users, tweets


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample_small")
    return out, generate_sample(SampleParams(seed=3, n_accounts=200, tweets_per_account=20), out)


# ---------------------------------------------------------------- determinism and size


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_different_seed_different(tmp_path, small):
    out_small, _ = small
    again = tmp_path / "again"
    generate_sample(SampleParams(seed=3, n_accounts=200, tweets_per_account=20), again)
    a, b = _tree_bytes(out_small), _tree_bytes(again)
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]]

    other = tmp_path / "other"
    generate_sample(SampleParams(seed=4, n_accounts=200, tweets_per_account=20), other)
    c = _tree_bytes(other)
    assert c.keys() == a.keys()
    assert all(a[k] != c[k] for k in a)


def test_sizes_follow_params(small):
    out, summary = small
    n_accounts = sum(summary[c][lab]["accounts"] for c in CAMPAIGN_NAMES for lab in LABELS)
    n_tweets = sum(summary[c][lab]["tweets"] for c in CAMPAIGN_NAMES for lab in LABELS)
    assert 180 <= n_accounts <= 200
    assert 0.7 * 200 * 20 <= n_tweets <= 1.3 * 200 * 20
    for c in CAMPAIGN_NAMES:
        io_n, ctl_n = summary[c]["state_linked"]["accounts"], summary[c]["control"]["accounts"]
        assert 0.33 <= io_n / (io_n + ctl_n) <= 0.47, c
        for lab in LABELS:  # the summary describes what is on disk
            users, tweets = read_dump(out / c / lab)
            assert len(tweets) == summary[c][lab]["tweets"]
            assert len({t["userid"] for t in tweets}) == summary[c][lab]["accounts"]
            if users:
                assert {u["userid"] for u in users} == {t["userid"] for t in tweets}


def test_tweets_per_account_heavy_tailed(small):
    out, _ = small
    counts = defaultdict(int)
    for c in CAMPAIGN_NAMES:
        for lab in LABELS:
            for t in read_dump(out / c / lab)[1]:
                counts[t["userid"]] += 1
    v = np.asarray(sorted(counts.values()))
    assert (v <= 2).sum() >= 5  # some accounts with one or two tweets
    assert v.max() >= 8 * np.median(v)


# ---------------------------------------------------------------- layout and formats


def test_layout_and_packaging(small):
    out, summary = small
    for c in CAMPAIGN_NAMES:
        for lab in LABELS:
            folder = out / c / lab
            names = sorted(p.name for p in folder.iterdir())
            assert names == sorted(Path(f).name for f in summary[c][lab]["files"])
            assert any("tweets" in n for n in names)
            assert not any(n.endswith(".tmp") or n.startswith(".") for n in names)
    all_names = [Path(f).name for c in summary.values() for d in c.values() for f in d["files"]]
    assert any(n.endswith("_part1.csv") for n in all_names) and any(n.endswith("_part2.csv") for n in all_names)
    assert any(n.endswith(".csv.gz") for n in all_names)
    assert any(n.endswith(".zip") for n in all_names)
    jsonl = [f for c in summary.values() for lab, d in c.items() for f in d["files"] if f.endswith(".jsonl")]
    assert jsonl and all("/control/" in f and "tweets" in Path(f).name for f in jsonl)
    for f in jsonl:  # a JSONL control dump has no users file
        assert not any("users" in p.name for p in (out / f).parent.iterdir())


def test_csv_headers_quoting_and_fields(small):
    out, summary = small
    poll_expected = {"hk_2019": True, "covid_2020": True, "xinjiang_2021": False}
    is_rt_values: set[str] = set()
    for c in CAMPAIGN_NAMES:
        for lab in LABELS:
            for f in summary[c][lab]["files"]:
                path = out / f
                if f.endswith(".jsonl"):
                    continue
                for text in _csv_text(path):
                    first_line = text.split("\n", 1)[0]
                    # every field double-quoted, header included
                    assert first_line.startswith('"') and first_line.endswith('"')
                    assert next(csv.reader([first_line], quoting=csv.QUOTE_ALL))
                headers, rows = read_csv(path)
                for h in headers:
                    if "users" in path.name:
                        assert tuple(h) == USERS_COLUMNS
                    else:
                        expect = TWEETS_COLUMNS + (("poll_choices",) if poll_expected[c] else ())
                        assert tuple(h) == expect, (f, h)
                if "tweets" not in path.name:
                    for u in rows:
                        date.fromisoformat(u["account_creation_date"])
                    continue
                for t in rows:
                    datetime.strptime(t["tweet_time"], "%Y-%m-%d %H:%M")
                    assert t["latitude"] == t["longitude"] == "absent"
                    is_rt_values.add(t["is_retweet"])
                    for col in ("hashtags", "urls", "user_mentions"):
                        assert t[col] == "" or (t[col].startswith("[") and t[col].endswith("]"))
                    for col in ("like_count", "retweet_count"):
                        assert t[col] == "" or t[col].isdigit()
    assert {"True", "False"} <= is_rt_values and {"true", "false"} <= is_rt_values


def test_archive_quirks_present(small):
    out, _ = small
    rows = []
    for c in CAMPAIGN_NAMES:
        for lab in LABELS:
            rows.extend(read_dump(out / c / lab)[1])
    csv_rows = [t for t in rows if "latitude" in t]
    assert any("\n" in t["tweet_text"] for t in csv_rows)
    assert any('"' in t["tweet_text"] or '"' in t["user_profile_description"] for t in csv_rows)
    assert any("e+18" in t["quoted_tweet_tweetid"] for t in csv_rows)  # ids written as floats
    assert any(t["like_count"] == "" for t in csv_rows)
    assert any(t["hashtags"].startswith("['") for t in csv_rows)
    assert any(t["tweet_text"].startswith("RT @") for t in csv_rows)


def test_jsonl_is_api_v1_format(small):
    out, summary = small
    files = [out / f for c in summary.values() for d in c.values() for f in d["files"] if f.endswith(".jsonl")]
    objs = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    assert objs
    for o in objs:
        datetime.strptime(o["created_at"], "%a %b %d %H:%M:%S %z %Y")
        datetime.strptime(o["user"]["created_at"], "%a %b %d %H:%M:%S %z %Y")
        assert ("full_text" in o) or ("text" in o)
        assert o["source"].startswith('<a href="') and o["source"].endswith("</a>") and 'rel="nofollow"' in o["source"]
        assert {"id_str", "name", "screen_name", "followers_count", "friends_count", "lang"} <= o["user"].keys()
        assert {"hashtags", "urls", "user_mentions"} <= o["entities"].keys()
        for k in ("retweet_count", "favorite_count", "reply_count", "quote_count"):
            assert isinstance(o[k], int)
    rts = [o for o in objs if "retweeted_status" in o]
    assert rts and all(o["retweeted_status"]["user"]["id_str"] for o in rts)


def test_ids_hashed_and_numeric_mix_in_both_classes(small):
    out, _ = small
    for lab in LABELS:
        ids = set()
        for c in CAMPAIGN_NAMES:
            for t in read_dump(out / c / lab)[1]:
                ids.add((t["userid"], t["user_screen_name"], t["user_display_name"]))
        hashed = [x for x in ids if not x[0].isdigit()]
        numeric = [x for x in ids if x[0].isdigit()]
        assert hashed and numeric, lab
        for uid, screen, display in hashed:
            assert 41 <= len(uid) <= 44 and uid.endswith("=")
            assert screen == display == uid  # a hashed row carries the hash as its names
        assert all(8 <= len(u) <= 19 for u, _, _ in numeric)


def test_no_account_in_two_dumps(small):
    out, _ = small
    owner: dict[str, tuple[str, str]] = {}
    for c in CAMPAIGN_NAMES:
        for lab in LABELS:
            for uid in {t["userid"] for t in read_dump(out / c / lab)[1]}:
                assert uid not in owner, (uid, owner.get(uid), (c, lab))
                owner[uid] = (c, lab)


def _in_dump_retweet_delays(tweets: list[dict]) -> tuple[list[tuple[str, float]], int]:
    """(userid, delay in minutes) of retweets whose original is in the same dump; and the
    number of all retweets."""
    by_id = {t["tweetid"]: t for t in tweets}
    rts = [t for t in tweets if t["is_retweet"].lower() == "true"]
    fmt = "%Y-%m-%d %H:%M"
    out = []
    for t in rts:
        orig = by_id.get(t["retweet_tweetid"])
        if orig is not None:
            out.append((t["userid"], (datetime.strptime(t["tweet_time"], fmt)
                                      - datetime.strptime(orig["tweet_time"], fmt)).total_seconds() / 60))
    return out, len(rts)


def test_in_dump_retweets_point_at_originals(small):
    out, _ = small
    for c in CAMPAIGN_NAMES:
        _, tweets = read_dump(out / c / "state_linked")
        by_id = {t["tweetid"]: t for t in tweets}
        for t in tweets:
            if t["is_retweet"].lower() == "true" and t["retweet_tweetid"] in by_id:
                orig = by_id[t["retweet_tweetid"]]
                assert t["retweet_userid"] == orig["userid"] != t["userid"]
                assert t["tweet_text"] == f"RT @{orig['user_screen_name']}: {orig['tweet_text']}"


def test_retweet_delays_overlap_but_io_is_faster(medium_dir):
    """IO amplifies its network faster on average [ASPI20], but both classes retweet inside
    their dump, organic cascades are fast too (heavy-tailed, most in the first hour), and part
    of IO retweets come in scheduled batches hours later; IO also retweets state media whose
    originals are not in the dump, so not all of its retweets point inside."""
    delays = {}
    for lab in LABELS:
        d, n_rts = [], 0
        for c in CAMPAIGN_NAMES:
            x, n = _in_dump_retweet_delays(read_dump(medium_dir / c / lab)[1])
            d += [m for _, m in x]
            n_rts += n
        assert 0.2 * n_rts <= len(d) <= 0.95 * n_rts, lab  # inside and outside the dump
        assert min(d) >= 0
        delays[lab] = np.asarray(d)
    io, ctl = delays["state_linked"], delays["control"]
    assert np.median(io) < np.median(ctl)  # faster on average
    assert (io <= 10).mean() > (ctl <= 10).mean()
    assert (ctl <= 10).mean() > 0.1  # organic fast retweets exist
    assert (io >= 6 * 60).mean() > 0.1  # and so do slow (batched) IO retweets


def test_io_text_is_reused_across_accounts(small):
    """IO copy-pastes templates across accounts; identical original texts recur across users."""
    out, _ = small
    for c in CAMPAIGN_NAMES:
        users_by_text = defaultdict(set)
        for t in read_dump(out / c / "state_linked")[1]:
            if not t["tweet_text"].startswith("RT @"):
                users_by_text[t["tweet_text"].split(" https://t.co/")[0]].add(t["userid"])
        assert max(len(v) for v in users_by_text.values()) >= 3, c


# ---------------------------------------------------------------- realism: no single feature separates


def account_stats(out: Path) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Simple per-account statistics computed from the written files alone.

    `rt_delay_median_min` (median delay of an account's retweets of originals in the same
    dump) is NaN for accounts without such retweets.
    """
    feats = defaultdict(list)
    labels, campaigns = [], []
    for ci, c in enumerate(CAMPAIGN_NAMES):
        for lab in LABELS:
            per = defaultdict(list)
            tweets = read_dump(out / c / lab)[1]
            rt_delays = defaultdict(list)
            for uid, m in _in_dump_retweet_delays(tweets)[0]:
                rt_delays[uid].append(m)
            for t in tweets:
                per[t["userid"]].append(t)
            for uid, ts in per.items():
                times = [datetime.strptime(t["tweet_time"], "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc) for t in ts]
                bj = [datetime.fromtimestamp(x.timestamp() + 8 * 3600, timezone.utc) for x in times]
                office = [b.weekday() < 5 and 9 <= b.hour < 18 for b in bj]
                created = date.fromisoformat(ts[0]["account_creation_date"])
                likes = [int(t["like_count"]) for t in ts if t["like_count"]]
                feats["follower_count"].append(int(ts[0]["follower_count"]))
                feats["office_share"].append(np.mean(office))
                feats["web_share"].append(np.mean([t["tweet_client_name"] in WEB for t in ts]))
                feats["retweet_share"].append(np.mean([t["is_retweet"].lower() == "true" for t in ts]))
                feats["is_hashed"].append(float(not uid.isdigit()))
                feats["age_days_at_first_tweet"].append((min(times).date() - created).days)
                feats["mean_likes"].append(np.mean(likes) if likes else 0.0)
                feats["has_description"].append(float(bool(ts[0]["user_profile_description"])))
                feats["n_tweets"].append(len(ts))
                feats["rt_delay_median_min"].append(np.median(rt_delays[uid]) if rt_delays[uid] else np.nan)
                labels.append(lab == "state_linked")
                campaigns.append(ci)
    return {k: np.asarray(v, float) for k, v in feats.items()}, np.asarray(labels), np.asarray(campaigns)


@pytest.fixture(scope="module")
def medium_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample_medium")
    generate_sample(SampleParams(seed=11, n_accounts=900), out)  # default 30 tweets per account
    return out


@pytest.fixture(scope="module")
def medium(medium_dir):
    return account_stats(medium_dir)


def test_no_single_feature_separates_the_classes(medium):
    feats, y, camp = medium
    assert 0.3 < y.mean() < 0.5
    assert np.isfinite(feats["rt_delay_median_min"]).mean() > 0.4
    for name, x in feats.items():
        ok = np.isfinite(x)  # the delay statistic is defined only for accounts with in-dump retweets
        auc = roc_auc_score(y[ok], x[ok])
        assert max(auc, 1 - auc) < 0.9, (name, auc)
        for ci in range(len(CAMPAIGN_NAMES)):  # nor within any one campaign
            m = (camp == ci) & ok
            auc_c = roc_auc_score(y[m], x[m])
            assert max(auc_c, 1 - auc_c) < 0.93, (name, CAMPAIGN_NAMES[ci], auc_c)


def test_io_still_distinguishable_on_average(medium):
    feats, y, _ = medium
    io, ctl = y, ~y
    assert feats["office_share"][io].mean() > feats["office_share"][ctl].mean() + 0.1
    assert feats["web_share"][io].mean() > feats["web_share"][ctl].mean() + 0.1
    assert np.median(feats["follower_count"][io]) < np.median(feats["follower_count"][ctl])
    assert feats["mean_likes"][io].mean() < feats["mean_likes"][ctl].mean()
    d = feats["rt_delay_median_min"]
    assert np.nanmedian(d[io]) < np.nanmedian(d[ctl])  # IO amplifies faster on average [ASPI20]
    # and no feature is degenerate within a class: every class shows some spread
    for name, x in feats.items():
        assert np.nanstd(x[io]) > 0 and np.nanstd(x[ctl]) > 0, name


def test_campaign_windows_and_languages(small):
    out, _ = small
    windows = {c.name: (c.start, c.end) for c in CAMPAIGNS}
    for c in CAMPAIGN_NAMES:
        for lab in LABELS:
            tweets = read_dump(out / c / lab)[1]
            days = sorted(datetime.strptime(t["tweet_time"], "%Y-%m-%d %H:%M").date() for t in tweets)
            start, end = windows[c]
            in_window = np.mean([start <= d <= end + timedelta(days=3) for d in days])
            assert in_window > 0.75, (c, lab)
            texts = " ".join(t["tweet_text"] for t in tweets)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in texts) and any(ch.isascii() and ch.isalpha() for ch in texts)


# ---------------------------------------------------------------- text: organic text is personal, IO text is copy-paste


_NORM_DROP = re.compile(r"(^RT\s+)|(https?://\S+)|(@\w+)")


def _normalised(text: str) -> str:
    """The near-duplicate detector's normalisation (pipeline/features/coordination.py): URLs,
    mentions, punctuation, symbols (emoji), digits and whitespace removed, lower-cased."""
    text = _NORM_DROP.sub("", text)
    return "".join(c for c in text if not (unicodedata.category(c)[0] in "PS" or c in "0123456789" or c.isspace())).lower()


def _cross_account_near_duplicate(docs: list[tuple[str, str]], thr: float = 0.6) -> list[bool]:
    """For (userid, normalised text) docs: does another account post a text whose char 3-gram
    set has Jaccard >= thr with it? Exact (prefix-filtered all-pairs), no MinHash."""
    texts = sorted({n for _, n in docs})
    users = defaultdict(set)
    for u, n in docs:
        users[n].add(u)
    grams = {n: frozenset(n[i:i + 3] for i in range(len(n) - 2)) for n in texts}
    freq: dict[str, int] = defaultdict(int)
    for g in grams.values():
        for x in g:
            freq[x] += 1
    index: dict[str, list[int]] = defaultdict(list)
    near = {n: set(users[n]) for n in texts}
    for i, n in enumerate(texts):
        g = sorted(grams[n], key=lambda x: (freq[x], x))
        prefix = len(g) - int(thr * len(g) + 1e-9) + 1  # any pair with J >= thr shares a prefix gram
        cands = set()
        for x in g[:prefix]:
            cands.update(index[x])
            index[x].append(i)
        for j in cands:
            a, b = grams[n], grams[texts[j]]
            inter = len(a & b)
            if inter / (len(a) + len(b) - inter) >= thr:
                near[n] |= users[texts[j]]
                near[texts[j]] |= users[n]
    return [bool(near[n] - {u}) for u, n in docs]


@pytest.fixture(scope="module")
def text_stats(tmp_path_factory) -> dict[str, dict[str, float]]:
    out = tmp_path_factory.mktemp("sample_text")
    generate_sample(SampleParams(seed=5, n_accounts=300), out)
    stats = {}
    for lab in LABELS:
        shares, n_orig, n_distinct = [], 0, 0
        for c in CAMPAIGN_NAMES:
            tweets = read_dump(out / c / lab)[1]
            docs = [(t["userid"], _normalised(t["tweet_text"])) for t in tweets if t["is_retweet"].lower() != "true"]
            n_orig += len(docs)
            n_distinct += len({n for _, n in docs})
            docs = [d for d in docs if len(d[1]) >= 12]  # the detector's minimum text length
            per = defaultdict(list)
            for (u, _), dup in zip(docs, _cross_account_near_duplicate(docs)):
                per[u].append(dup)
            shares += [float(np.mean(v)) for v in per.values()]
        stats[lab] = {"share": float(np.mean(shares)), "distinct": n_distinct / n_orig}
    return stats


def test_organic_text_is_personal_and_io_text_is_copy_paste(text_stats):
    """Organic posts rarely have a near-duplicate by another account (shared headlines, news
    feeds, greetings, slogans, organic copy-paste only); IO core/amplifier posts mostly do
    (the same messages with small edits, verbatim camouflage) [TW19][SIO20][ASPI20]."""
    ctl, io = text_stats["control"], text_stats["state_linked"]
    assert ctl["share"] < 0.25, text_stats
    assert io["share"] > 0.6, text_stats
    assert io["share"] > ctl["share"] + 0.4, text_stats
    assert ctl["distinct"] >= 0.8, text_stats  # distinct normalised texts / originals
    assert io["distinct"] < 0.7, text_stats
