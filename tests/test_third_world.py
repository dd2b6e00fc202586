"""The third world (pipeline/dev/third.py): read back with the standard library, as a stranger
to the generator would, and through the ingest stage, which must take it whole."""

from __future__ import annotations

import csv
import gzip
import io
import statistics
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.dev.third import generate_world
from pipeline.ingest import ingest_dumps
from pipeline.schema import TWEETS_COLUMNS, USERS_COLUMNS

SEED = 7
ACCOUNTS = 240


def _read(path: Path) -> tuple[list[str], list[dict]]:
    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    reader = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""))
    header = next(reader)
    return header, [dict(zip(header, rec, strict=True)) for rec in reader]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("third")
    summary = generate_world(SEED, ACCOUNTS, out)
    users, tweets = {}, []
    for camp in summary:
        for label in summary[camp]:
            for f in sorted((out / camp / label).iterdir()):
                header, rows = _read(f)
                if "_users_" in f.name:
                    assert tuple(header) == USERS_COLUMNS
                    users.update({r["userid"]: {**r, "label": label, "campaign": camp} for r in rows})
                else:
                    assert tuple(header) == TWEETS_COLUMNS
                    tweets += rows
    with open(out / "roles.csv", encoding="utf-8") as fh:
        roles = {r["userid"]: r["role"] for r in csv.DictReader(fh)}
    return out, summary, users, tweets, roles


def test_same_seed_same_bytes(world, tmp_path):
    out, *_ = world
    generate_world(SEED, ACCOUNTS, tmp_path)
    for f in sorted(out.rglob("*.*")):
        assert (tmp_path / f.relative_to(out)).read_bytes() == f.read_bytes(), f


def test_two_campaigns_with_a_minority_of_state_linked_accounts(world):
    _out, summary, users, _tweets, _roles = world
    assert len(summary) == 2
    assert len(users) == ACCOUNTS
    share = sum(u["label"] == "state_linked" for u in users.values()) / len(users)
    assert 0.25 <= share <= 0.35


def test_activity_is_heavy_tailed(world):
    _out, _s, users, tweets, _roles = world
    per = Counter(t["userid"] for t in tweets)
    counts = [per.get(u, 0) for u in users]
    assert sum(c <= 5 for c in counts) / len(counts) >= 0.2  # many accounts post almost nothing
    assert max(counts) >= 20 * statistics.median(counts)  # a few post thousands of times more


def test_ids_hashed_below_5000_followers_and_tweet_ids_encode_time(world):
    _out, _s, users, tweets, _roles = world
    for u in users.values():
        assert (len(u["userid"]) == 44) == (int(u["follower_count"]) < 5000), u
    for t in tweets[:500]:
        ms = (int(t["tweetid"]) >> 22) + 1288834974657
        when = datetime.strptime(t["tweet_time"], "%Y-%m-%d %H:%M").timestamp() * 1000
        assert abs(ms - when) < 61_000


def test_organic_crowds_retweet_the_same_viral_posts(world):
    _out, _s, users, tweets, _roles = world
    sharers = defaultdict(set)
    for t in tweets:
        if t["is_retweet"] == "True" and users[t["userid"]]["label"] == "control":
            sharers[t["retweet_tweetid"]].add(t["userid"])
    assert max(len(s) for s in sharers.values()) >= 10


def test_amplifiers_retweet_writers_within_minutes_and_aged_accounts_hours_later(world):
    _out, _s, _users, tweets, roles = world
    when = {t["tweetid"]: datetime.strptime(t["tweet_time"], "%Y-%m-%d %H:%M") for t in tweets}
    lags = defaultdict(list)
    for t in tweets:
        if t["is_retweet"] == "True" and t["retweet_tweetid"] in when:
            lags[roles[t["userid"]]].append((when[t["tweetid"]] - when[t["retweet_tweetid"]]).total_seconds() / 60)
    assert statistics.median(lags["op_amplifier"]) < 30
    assert statistics.median(lags["op_aged"]) > 120


def test_the_operation_breaks_type(world):
    """Not every state-linked account is young, silent in the evening and on the web client."""
    _out, _s, users, tweets, roles = world
    aged = [u for uid, u in users.items() if roles[uid] == "op_aged"]
    assert aged and all(u["account_creation_date"] < "2020" for u in aged)
    clients = Counter(t["tweet_client_name"] for t in tweets if roles[t["userid"]] == "op_aged")
    assert clients["Twitter Web App"] == 0 and sum(clients.values()) > 0
    # Journalists quote the operation's own posts.
    op_ids = {t["tweetid"] for t in tweets if roles[t["userid"]] == "op_writer"}
    assert any(t["quoted_tweet_tweetid"] in op_ids for t in tweets if roles[t["userid"]] == "journalist")


def test_ingest_reads_the_world_without_quarantine(world, tmp_path):
    out, summary, users, tweets, _roles = world
    specs = [(str(out / c / lab), c, lab) for c in summary for lab in summary[c]]
    report = ingest_dumps(specs, tmp_path / "interim")
    assert report.quarantined == 0, report.files
    assert report.accounts == len(users)
    assert report.tweets == len(tweets)
