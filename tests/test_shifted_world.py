"""The shifted world (pipeline/dev/shifted.py) and the evasion playbook (pipeline/dev/evasion.py).

The world is read back with the standard library (csv, gzip, zipfile), as a stranger to the
generator would, and through the ingest stage, which must take it without a quarantined row.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import re
import statistics
import unicodedata
import zipfile
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.dev.evasion import HOMOGLYPHS, TRICKS, ZERO_WIDTH, evade_dump, evade_text
from pipeline.dev.shifted import DEFAULT_ACCOUNTS, generate_world
from pipeline.ingest import ingest_dumps
from pipeline.schema import TWEETS_COLUMNS, USERS_COLUMNS

SEED = 11


# ---------------------------------------------------------------- readers (stdlib only)


def _csv_texts(path: Path) -> list[tuple[str, str]]:
    """(member name, text) of every CSV that `path` is or holds."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return [(n, zf.read(n).decode("utf-8")) for n in sorted(zf.namelist())]
    if path.name.endswith(".gz"):
        return [(path.name[:-3], gzip.decompress(path.read_bytes()).decode("utf-8"))]
    return [(path.name, path.read_text(encoding="utf-8"))]


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [dict(zip(header, rec, strict=True)) for rec in reader]


def read_dump(folder: Path) -> tuple[list[dict], list[dict], list[list[str]], list[list[str]]]:
    """(users rows, tweets rows, users headers, tweets headers) of one dump folder."""
    users, tweets, uh, th = [], [], [], []
    for f in sorted(folder.iterdir()):
        for name, text in _csv_texts(f):
            header, rows = _rows(text)
            if "tweets" in name:
                tweets += rows
                th.append(header)
            elif "users" in name:
                users += rows
                uh.append(header)
    return users, tweets, uh, th


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _tree_texts(root: Path) -> dict[str, str]:
    """Every CSV of a tree, decompressed: path (and member) -> text."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            for name, text in _csv_texts(p):
                out[f"{p.relative_to(root)}::{name}"] = text
    return out


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("shifted") / "raw"
    return out, generate_world(SEED, DEFAULT_ACCOUNTS, out)


@pytest.fixture(scope="module")
def dumps(world) -> dict[tuple[str, str], tuple[list[dict], list[dict], list, list]]:
    out, summary = world
    return {(c, lab): read_dump(out / c / lab) for c in summary for lab in summary[c]}


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small") / "raw"
    generate_world(SEED, 200, out)
    return out


# ---------------------------------------------------------------- the world


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, small_world):
    again = tmp_path / "again"
    generate_world(SEED, 200, again)
    assert _tree_bytes(again) == _tree_bytes(small_world)
    other = tmp_path / "other"
    generate_world(SEED + 1, 200, other)
    a, b = _tree_bytes(other), _tree_bytes(small_world)
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a)


def test_layout_sizes_and_columns(world, dumps):
    out, summary = world
    assert len(summary) >= 2
    n_accounts = n_tweets = n_state = 0
    for camp, labels in summary.items():
        assert set(labels) == {"state_linked", "control"}
        for lab, info in labels.items():
            assert info["files"] and all((out / f).is_file() for f in info["files"])
            users, tweets, uh, th = dumps[(camp, lab)]
            assert len(users) == info["accounts"] and len(tweets) == info["tweets"]
            assert all(h == list(USERS_COLUMNS) for h in uh) and all(h == list(TWEETS_COLUMNS) for h in th)
            n_accounts += info["accounts"]
            n_tweets += info["tweets"]
            n_state += info["accounts"] if lab == "state_linked" else 0
    assert n_accounts == DEFAULT_ACCOUNTS
    assert 0.25 <= n_state / n_accounts <= 0.35
    assert 20_000 <= n_tweets <= 40_000
    # formats of the real releases: minute-precision times, both is_retweet spellings,
    # hashed ids (base64-like, 41-44 characters, and 64-hex) beside numeric ones
    tweets = [t for _u, ts, _a, _b in dumps.values() for t in ts]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", t["tweet_time"]) for t in tweets)
    assert {t["is_retweet"] for t in tweets} == {"true", "false", "True", "False"}
    uids = [u["userid"] for us, _t, _a, _b in dumps.values() for u in us]
    assert any(u.isdigit() for u in uids)
    assert any(41 <= len(u) <= 44 and u.endswith("=") for u in uids)
    assert any(re.fullmatch(r"[0-9a-f]{64}", u) for u in uids)
    assert {t["latitude"] for t in tweets} > {"absent"}  # a few geotagged posts


def test_ingest_reads_the_world_without_quarantine(world, tmp_path):
    out, summary = world
    specs = [(str(out / c / lab), c, lab) for c in summary for lab in summary[c]]
    report = ingest_dumps(specs, tmp_path / "interim")
    assert report.quarantined == 0, report.files
    assert report.accounts == sum(i["accounts"] for c in summary.values() for i in c.values())
    assert report.tweets == sum(i["tweets"] for c in summary.values() for i in c.values())
    assert report.accounts_rebuilt_from_tweets == 0


def test_some_accounts_have_no_tweets(dumps):
    for users, tweets, _uh, _th in dumps.values():
        silent = {u["userid"] for u in users} - {t["userid"] for t in tweets}
        assert silent, "every dump lists some accounts that never tweeted"


def test_activity_is_heavy_tailed(dumps):
    per = Counter(t["userid"] for _u, ts, _a, _b in dumps.values() for t in ts)
    counts = sorted(per.values())
    median = statistics.median(counts)
    assert median <= 30
    assert counts[-1] >= 20 * median
    assert sum(c <= 5 for c in counts) / len(counts) >= 0.25  # many accounts with a handful


def test_organic_communities_co_retweet_viral_posts(dumps):
    for camp in {c for c, _ in dumps}:
        _users, tweets, _a, _b = dumps[(camp, "control")]
        by_target: dict[str, set[str]] = defaultdict(set)
        times: dict[str, list[datetime]] = defaultdict(list)
        for t in tweets:
            if t["retweet_tweetid"]:
                by_target[t["retweet_tweetid"]].add(t["userid"])
                times[t["retweet_tweetid"]].append(datetime.strptime(t["tweet_time"], "%Y-%m-%d %H:%M"))
        popular = [tid for tid, who in by_target.items() if len(who) >= 10]
        assert len(popular) >= 12, f"{camp}: only {len(popular)} posts retweeted by 10+ organic accounts"
        # ... and they pile on fast: most retweets of a popular post come within hours
        fast = 0
        for tid in popular:
            ts = sorted(times[tid])
            fast += sum((x - ts[0]).total_seconds() <= 6 * 3600 for x in ts) / len(ts) >= 0.5
        assert fast / len(popular) >= 0.7
        # the same trending hashtags and the same links across many organic accounts
        tag_users, url_users = defaultdict(set), defaultdict(set)
        for t in tweets:
            if t["is_retweet"].lower() == "true":
                continue
            for tag in re.findall(r"'([^']+)'", t["hashtags"]):
                tag_users[tag].add(t["userid"])
            for url in re.findall(r"'([^']+)'", t["urls"]):
                url_users[url].add(t["userid"])
        assert max(len(v) for v in tag_users.values()) >= 30
        assert max(len(v) for v in url_users.values()) >= 5


def test_operation_amplifies_its_own_obscure_posts_within_minutes(dumps):
    for camp in {c for c, _ in dumps}:
        users, tweets, _a, _b = dumps[(camp, "state_linked")]
        followers = {u["userid"]: int(u["follower_count"]) for u in users}
        originals = {t["tweetid"]: t for t in tweets if not t["retweet_tweetid"]}
        delays, amplifiers = [], defaultdict(set)
        for t in tweets:
            o = originals.get(t["retweet_tweetid"])
            if o is not None and followers[o["userid"]] < 50:
                d = datetime.strptime(t["tweet_time"], "%Y-%m-%d %H:%M") - datetime.strptime(o["tweet_time"],
                                                                                             "%Y-%m-%d %H:%M")
                delays.append(d.total_seconds())
                amplifiers[o["tweetid"]].add(t["userid"])
        assert len(delays) >= 200
        assert statistics.median(delays) <= 15 * 60
        assert sum(len(v) >= 3 for v in amplifiers.values()) >= 25  # several accounts on one obscure post


def test_operations_break_type(dumps):
    state = [(u, ts) for (c, lab), (u, ts, _a, _b) in dumps.items() if lab == "state_linked"]
    users = [x for us, _ in state for x in us]
    tweets = [x for _, ts in state for x in ts]
    veterans = [u for u in users if u["account_creation_date"] < "2017-01-01" and int(u["follower_count"]) >= 1000]
    assert len(veterans) >= 5
    assert sum(t["tweet_client_name"].startswith("Twitter for") for t in tweets) / len(tweets) >= 0.4
    # shifts, not office hours: for most operators, most posts fall outside Beijing 09-18
    outside: dict[str, list[bool]] = defaultdict(list)
    for t in tweets:
        if not t["retweet_tweetid"]:
            outside[t["userid"]].append(not 9 <= (int(t["tweet_time"][11:13]) + 8) % 24 < 18)
    shares = [sum(v) / len(v) for v in outside.values() if len(v) >= 5]
    assert statistics.median(shares) >= 0.5
    created = Counter(u["account_creation_date"] for u in users)
    assert created.most_common(1)[0][1] >= 10  # ... and bulk registration all the same


def test_text_is_multilingual_and_not_sample_text(dumps):
    tweets = [t["tweet_text"] for _u, ts, _a, _b in dumps.values() for t in ts]
    joined = "\n".join(tweets)
    assert "动态清零" in joined and "兩岸一家親" in joined and "civilian airship" in joined
    # narratives of the bundled sample are not this world's
    assert "德特里克堡" not in joined and "止暴制乱" not in joined


# ---------------------------------------------------------------- evasion: texts

_TEXTS = [
    "Dynamic zero-COVID has saved millions of lives. The numbers speak for themselves",
    "动态清零是对人民生命健康最负责任的选择，请扩散 #动态清零 https://t.co/AbCdEf1234",
    "转发：美国在乌克兰的biolab到底在研究什么？USA 2022！",
    "RT @zlj517: Pelosi's visit to Taiwan was a reckless provocation #ZeroCOVID https://t.co/abc",
    "兩岸一家親，台灣同胞不要被民進黨綁架 @someone",
    "Café crème, naïve façade — e\u0301 and Ｆｕｌｌ already",
]


def _clean(s: str) -> str:
    return unicodedata.normalize("NFKC", "".join(c for c in s if unicodedata.category(c) != "Cf"))


def _latin_outside_links(text: str) -> bool:
    return bool(re.search(r"[A-Za-z0-9]", re.sub(r"^RT @\S+|https?://\S+|[@#]\S+", "", text)))


@pytest.mark.parametrize("tricks", [("zero_width",), ("fullwidth",), ("zero_width", "fullwidth")])
def test_zero_width_and_fullwidth_normalise_back(tricks):
    rng = random.Random(3)
    for text in _TEXTS:
        if tricks == ("fullwidth",) and not _latin_outside_links(text):
            assert evade_text(text, tricks, rng) == text  # nothing it may touch
            continue
        for _ in range(20):
            out = evade_text(text, tricks, rng)
            assert out != text
            assert _clean(out) == _clean(text)
            if "zero_width" in tricks:
                assert any(c in ZERO_WIDTH for c in out)
            if text.isascii():
                assert _clean(out) == text


def test_fullwidth_skips_pure_chinese_and_zero_width_does_not():
    rng = random.Random(4)
    text = "兩岸一家親，台灣同胞不要被民進黨綁架"
    assert evade_text(text, ("fullwidth", "homoglyph"), rng) == text
    out = evade_text(text, ("zero_width",), rng)
    assert out != text and _clean(out) == _clean(text)


def test_homoglyphs_differ_but_look_the_same():
    rng = random.Random(5)
    for text in _TEXTS:
        if not _latin_outside_links(text):
            assert evade_text(text, ("homoglyph",), rng) == text
            continue
        for _ in range(20):
            out = evade_text(text, ("homoglyph",), rng)
            assert out != text and len(out) == len(text)
            swapped = [(a, b) for a, b in zip(text, out) if a != b]
            assert swapped and all(b in HOMOGLYPHS[a] for a, b in swapped)
            assert len(swapped) < sum(c in HOMOGLYPHS for c in text)  # a share, not every letter


def test_padding_appends_emoji_or_hashtags():
    rng = random.Random(6)
    for text in _TEXTS:
        out = evade_text(text, ("padding",), rng)
        assert out.startswith(text.rstrip()) and len(out) > len(text)


def test_links_mentions_hashtags_and_retweet_head_survive_every_trick():
    rng = random.Random(7)
    text = "RT @zlj517: Pelosi's visit was a provocation #ZeroCOVID https://t.co/abc @ChinaDaily"
    for _ in range(30):
        out = evade_text(text, TRICKS, rng)
        assert out.startswith("RT @zlj517: ")
        for token in ("#ZeroCOVID", "https://t.co/abc", "@ChinaDaily"):
            assert token in out


def test_evade_text_is_deterministic_and_checks_tricks():
    a = evade_text(_TEXTS[0], TRICKS, random.Random(9))
    assert a == evade_text(_TEXTS[0], TRICKS, random.Random(9))
    assert a != evade_text(_TEXTS[0], TRICKS, random.Random(10))
    with pytest.raises(ValueError, match="Unknown evasion trick"):
        evade_text("x", ("leetspeak",), random.Random(0))


# ---------------------------------------------------------------- evasion: dumps


def test_evade_dump_rewrites_only_state_linked_tweet_text(small_world, tmp_path):
    out = tmp_path / "evaded"
    report = evade_dump(small_world, out, TRICKS, seed=5)
    before, after = _tree_bytes(small_world), _tree_bytes(out)
    assert before.keys() == after.keys()
    for path in before:
        if "/state_linked/" not in f"/{path}":
            assert before[path] == after[path], path  # other dumps: byte for byte
    texts_before, texts_after = _tree_texts(small_world), _tree_texts(out)
    assert texts_before.keys() == texts_after.keys()
    changed = 0
    for key, text in texts_before.items():
        if "state_linked" not in key or "tweets" not in key.split("::")[1]:
            assert texts_after[key] == text, key  # users files: same content
            continue
        h0, rows0 = _rows(text)
        h1, rows1 = _rows(texts_after[key])
        assert h0 == h1 and len(rows0) == len(rows1)
        own = {r["tweetid"]: r for r in rows0}
        new_text = {r["tweetid"]: r["tweet_text"] for r in rows1}
        for r0, r1 in zip(rows0, rows1):
            assert {k: v for k, v in r0.items() if k != "tweet_text"} == {k: v for k, v in r1.items()
                                                                          if k != "tweet_text"}
            changed += r0["tweet_text"] != r1["tweet_text"]
            if r0["retweet_tweetid"] in own:  # a retweet of the dump's own post carries its edits
                assert r1["tweet_text"].split(": ", 1)[1] == new_text[r0["retweet_tweetid"]]
            elif r0["retweet_tweetid"]:  # an outside post cannot be edited
                assert r1["tweet_text"] == r0["tweet_text"]
    assert changed == report["texts_changed"] > 0
    assert report["texts_changed"] >= 0.5 * report["texts_seen"]
    # the same seed, the same bytes
    again = tmp_path / "again"
    evade_dump(small_world, again, TRICKS, seed=5)
    assert _tree_bytes(again) == after
    # and the attacked tree still loads cleanly
    specs = [(str(p), p.parent.name, p.name) for p in sorted(out.glob("*/*")) if p.is_dir()]
    assert ingest_dumps(specs, tmp_path / "interim").quarantined == 0


def test_evade_dump_handles_the_bundled_sample_containers(tmp_path):
    from pipeline.config import SampleParams
    from pipeline.dev.sample import generate_sample

    raw = tmp_path / "sample"
    generate_sample(SampleParams(seed=3, n_accounts=90, tweets_per_account=6), raw)
    report = evade_dump(raw, tmp_path / "evaded", ("zero_width", "fullwidth"), seed=1)
    # its state-linked tweets come as split parts, a zip and a plain CSV: all rewritten
    kinds = {Path(f).suffix for f in report["files"]}
    assert kinds == {".csv", ".zip"} and any("_part" in f for f in report["files"])
    assert report["texts_changed"] > 0
    for path, data in _tree_bytes(raw).items():
        if "/control/" in f"/{path}":
            assert (tmp_path / "evaded" / path).read_bytes() == data
    evaded = _tree_texts(tmp_path / "evaded")
    for key, text in _tree_texts(raw).items():
        if "state_linked" in key and "tweets" in key:
            assert evaded[key] != text
            # zero-width and full-width tricks normalise away, field by field
            assert [_clean(r["tweet_text"]) for r in _rows(evaded[key])[1]] == [
                _clean(r["tweet_text"]) for r in _rows(text)[1]]
