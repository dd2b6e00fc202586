"""Coordination features on tiny hand-made populations with known answers."""

from __future__ import annotations

import pytest

from pipeline.config import FeaturesParams
from tests.conftest import account, tweet
from tests.stages import run_features


def _features(write_tables, tmp_path, accounts, tweets, **coord):
    params = FeaturesParams(coordination={**FeaturesParams().coordination.model_dump(), **coord})
    d = write_tables(accounts, tweets)
    table = run_features(d, tmp_path / "features.parquet", params)
    return {r["userid"]: r for r in table.to_pylist()}


def _originals(author="core"):
    return [tweet(f"o{i}", author, f"2019-08-05 0{i}:00", tweet_text=f"original number {i} about the weather and tea") for i in range(3)]


def test_co_retweet_and_fast_retweet_make_a_tie(write_tables, tmp_path):
    accounts = [account("core"), account("amp1"), account("amp2"), account("loner")]
    tweets = _originals()
    # amp1 and amp2 retweet the same three tweets within a minute; loner posts on its own.
    for amp in ("amp1", "amp2"):
        tweets += [
            tweet(f"{amp}-rt{i}", amp, f"2019-08-05 0{i}:01", is_retweet=True, retweet_tweetid=f"o{i}", retweet_userid="core",
                  tweet_text=f"RT @core: original number {i}")
            for i in range(3)
        ]
    tweets += [tweet("l1", "loner", "2019-09-01 12:00", tweet_text="my cat likes the garden very much")]
    f = _features(write_tables, tmp_path, accounts, tweets)
    assert f["amp1"]["co_retweet_partners"] == 1
    assert f["amp2"]["co_retweet_partners"] == 1
    assert f["amp1"]["share_rt_within_60s"] == pytest.approx(1.0)
    assert f["amp1"]["rt_delay_median_s"] == pytest.approx(60)
    assert f["core"]["n_fast_retweeted"] == 3
    assert f["amp1"]["coord_cluster"] == f["amp2"]["coord_cluster"] != ""
    assert f["amp1"]["coord_cluster_size"] >= 2
    # An account alone has no ties.
    assert f["loner"]["coord_partners"] == 0
    assert f["loner"]["coord_cluster_size"] == 1
    assert f["loner"]["coord_cluster"] == ""
    assert f["loner"]["share_rt_within_60s"] == 0


def test_reworded_copy_is_a_near_duplicate(write_tables, tmp_path):
    text = "香港暴徒破坏社会秩序，我们坚决支持香港警察严正执法，维护法治！"
    edited = "香港暴徒破坏社会秩序！我们坚决支持香港警察严正执法，维护法治 https://t.co/abc"
    other = "今天天气很好，我和朋友一起去公园散步，看到很多花开了。"
    accounts = [account("a"), account("b"), account("c")]
    tweets = [
        tweet("1", "a", "2019-08-05 02:00", tweet_text=text),
        tweet("2", "b", "2019-08-06 05:13", tweet_text=edited),
        tweet("3", "c", "2019-08-07 09:00", tweet_text=other),
    ]
    f = _features(write_tables, tmp_path, accounts, tweets, min_shared=1)
    assert f["a"]["share_posts_near_duplicate"] == pytest.approx(1.0)
    assert f["b"]["share_posts_near_duplicate"] == pytest.approx(1.0)
    assert f["c"]["share_posts_near_duplicate"] == 0
    assert f["a"]["near_duplicate_partners"] == 1
    assert f["c"]["near_duplicate_partners"] == 0


def test_popular_items_and_other_populations_do_not_tie(write_tables, tmp_path):
    # Five accounts retweet the same two tweets, but the cap says more than 4 is "popular".
    accounts = [account(f"u{i}") for i in range(5)] + [account("x", campaign="c2"), account("y", campaign="c2")]
    tweets = []
    for i in range(5):
        tweets += [tweet(f"r{i}{j}", f"u{i}", f"2020-01-0{j + 1} 10:{i:02d}", is_retweet=True, retweet_tweetid=f"viral{j}") for j in range(2)]
    # x and y share a URL twice but live in another population from u0.. only with each other.
    for j in range(2):
        tweets += [tweet(f"x{j}", "x", f"2020-02-0{j + 1} 10:00", urls=[f"http://example.org/{j}"], campaign="c2"),
                   tweet(f"y{j}", "y", f"2020-02-0{j + 1} 15:00", urls=[f"http://example.org/{j}"], campaign="c2")]
    f = _features(write_tables, tmp_path, accounts, tweets, max_item_accounts=4)
    assert all(f[f"u{i}"]["co_retweet_partners"] == 0 for i in range(5))
    assert f["x"]["co_url_partners"] == 1 and f["y"]["co_url_partners"] == 1


def test_synchronised_posting_needs_repeated_shared_minutes(write_tables, tmp_path):
    accounts = [account("a"), account("b"), account("c")]
    tweets = []
    for j in range(4):
        tweets += [tweet(f"a{j}", "a", f"2020-03-0{j + 1} 09:1{j}", tweet_text=f"a says {j} hello there"),
                   tweet(f"b{j}", "b", f"2020-03-0{j + 1} 09:1{j}", tweet_text=f"b writes {j} something else")]
    tweets += [tweet("c0", "c", "2020-03-01 09:10", tweet_text="c once at the same minute")]
    f = _features(write_tables, tmp_path, accounts, tweets)
    assert f["a"]["sync_partners"] == 1 and f["b"]["sync_partners"] == 1
    assert f["c"]["sync_partners"] == 0  # one shared minute is chance, not coordination
