"""Coordination features on small hand-made populations with known answers.

A tie must beat chance, and chance needs a population to be measured against: each test
adds ordinary background accounts (`_background`) to the accounts it is about.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from pipeline.config import FeaturesParams
from tests.conftest import account, tweet
from tests.stages import run_features


def _features(write_tables, tmp_path, accounts, tweets, **coord):
    params = FeaturesParams(coordination={**FeaturesParams().coordination.model_dump(), **coord})
    d = write_tables(accounts, tweets)
    table = run_features(d, tmp_path / "features.parquet", params)
    return {r["userid"]: r for r in table.to_pylist()}


def _background(n: int = 40, seed: int = 0, campaign: str = "c1", prefix: str = "bg"):
    """Ordinary accounts: own posts at random times over two months, their own links and tags,
    retweets of scattered outside posts."""
    r = random.Random(seed)
    start = datetime(2019, 7, 1)
    accounts, tweets = [], []
    for i in range(n):
        uid = f"{prefix}{i}"
        accounts.append(account(uid, campaign=campaign))
        for j in range(r.randint(4, 12)):
            when = (start + timedelta(minutes=r.randrange(60 * 24 * 60))).strftime("%Y-%m-%d %H:%M")
            if r.random() < 0.3:
                tweets.append(tweet(f"{uid}-{j}", uid, when, is_retweet=True, retweet_tweetid=f"ext{r.randrange(400)}",
                                    tweet_text="RT @someone: a post", campaign=campaign))
            else:
                tweets.append(tweet(f"{uid}-{j}", uid, when, tweet_text=f"{uid} writes note {j} about day {r.random():.6f}",
                                    urls=[f"http://blog.example/{uid}/{j}"] if r.random() < 0.3 else [],
                                    hashtags=[f"t{r.randrange(50)}", f"t{r.randrange(50)}"] if r.random() < 0.2 else [],
                                    campaign=campaign))
    return accounts, tweets


def _originals(author="core"):
    return [tweet(f"o{i}", author, f"2019-08-05 0{i}:00", tweet_text=f"original number {i} about the weather and tea") for i in range(3)]


def test_co_retweet_and_fast_retweet_make_a_tie(write_tables, tmp_path):
    accounts, tweets = _background()
    accounts += [account("core"), account("amp1"), account("amp2"), account("loner")]
    tweets += _originals()
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
    accounts, tweets = _background()
    accounts += [account("a"), account("b"), account("c")]
    tweets += [
        tweet("1", "a", "2019-08-05 02:00", tweet_text=text),
        tweet("2", "b", "2019-08-05 02:13", tweet_text=edited),  # within the copy window (60 minutes)
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
    accounts, tweets = _background()
    more_accounts, more_tweets = _background(seed=1, campaign="c2", prefix="bh")
    accounts += more_accounts + [account(f"u{i}") for i in range(5)] + [account("x", campaign="c2"), account("y", campaign="c2")]
    tweets += more_tweets
    for i in range(5):
        tweets += [tweet(f"r{i}{j}", f"u{i}", f"2020-01-0{j + 1} 10:{i:02d}", is_retweet=True, retweet_tweetid=f"viral{j}") for j in range(2)]
    # x and y share a URL twice, minutes apart, but live in another population from u0.. only with each other.
    for j in range(2):
        tweets += [tweet(f"x{j}", "x", f"2020-02-0{j + 1} 10:00", urls=[f"http://example.org/{j}"], campaign="c2"),
                   tweet(f"y{j}", "y", f"2020-02-0{j + 1} 10:20", urls=[f"http://example.org/{j}"], campaign="c2")]
    f = _features(write_tables, tmp_path, accounts, tweets, max_item_accounts=4)
    assert all(f[f"u{i}"]["co_retweet_partners"] == 0 for i in range(5))
    assert f["x"]["co_url_partners"] == 1 and f["y"]["co_url_partners"] == 1


def test_synchronised_posting_needs_repeated_shared_minutes(write_tables, tmp_path):
    accounts, tweets = _background()
    accounts += [account("a"), account("b"), account("c")]
    for j in range(4):
        tweets += [tweet(f"a{j}", "a", f"2020-03-0{j + 1} 09:1{j}", tweet_text=f"a says {j} hello there"),
                   tweet(f"b{j}", "b", f"2020-03-0{j + 1} 09:1{j}", tweet_text=f"b writes {j} something else")]
    tweets += [tweet("c0", "c", "2020-03-01 09:10", tweet_text="c once at the same minute")]
    f = _features(write_tables, tmp_path, accounts, tweets)
    assert f["a"]["sync_partners"] == 1 and f["b"]["sync_partners"] == 1
    assert f["c"]["sync_partners"] == 0  # one shared minute is chance, not coordination


def _community_and_operation(seed: int = 3):
    """60 organic accounts retweet the same 20 viral posts at their own pace over three days;
    15 operation accounts retweet the same 20 obscure posts of one core account within minutes."""
    r = random.Random(seed)
    accounts, tweets = _background(60, seed=seed)
    t0 = datetime(2019, 8, 1, 8, 0)
    for i in range(60):
        uid = f"fan{i}"
        accounts.append(account(uid))
        for j in range(20):
            when = (t0 + timedelta(hours=6 * j, minutes=r.randrange(3 * 24 * 60))).strftime("%Y-%m-%d %H:%M")
            tweets.append(tweet(f"{uid}-v{j}", uid, when, is_retweet=True, retweet_tweetid=f"viral{j}", retweet_userid="star",
                                tweet_text=f"RT @star: viral post {j}"))
    accounts.append(account("core"))
    for j in range(20):
        posted = t0 + timedelta(hours=5 * j)
        tweets.append(tweet(f"ob{j}", "core", posted.strftime("%Y-%m-%d %H:%M"), tweet_text=f"obscure message {j} nobody reads"))
        for k in range(15):
            when = (posted + timedelta(minutes=r.randint(1, 9))).strftime("%Y-%m-%d %H:%M")
            tweets.append(tweet(f"op{k}-{j}", f"op{k}", when, is_retweet=True, retweet_tweetid=f"ob{j}", retweet_userid="core",
                                tweet_text=f"RT @core: obscure message {j}"))
    accounts += [account(f"op{k}") for k in range(15)]
    return accounts, tweets


def test_an_organic_community_sharing_viral_posts_forms_no_cluster_but_an_operation_does(write_tables, tmp_path):
    accounts, tweets = _community_and_operation()
    f = _features(write_tables, tmp_path, accounts, tweets)
    fans = [f[f"fan{i}"] for i in range(60)]
    ops = [f[f"op{k}"] for k in range(15)]
    assert sum(a["coord_cluster"] != "" for a in fans) == 0
    assert all(a["coord_cluster"] != "" for a in ops)
    assert len({a["coord_cluster"] for a in ops}) == 1
    assert all(a["co_retweet_partners"] == 14 for a in ops)


def test_without_the_window_and_the_null_the_community_would_be_one_cluster(write_tables, tmp_path):
    # The same world under the old rule (any time apart, no significance test): the organic
    # community ties into one large cluster. This is what the rule above prevents.
    accounts, tweets = _community_and_operation()
    f = _features(write_tables, tmp_path, accounts, tweets, co_share_window_minutes=None, significance=0.4999, min_shared=2)
    assert sum(f[f"fan{i}"]["coord_cluster"] != "" for i in range(60)) >= 50


def _phrase_community_and_cell(seed: int = 4):
    """40 organic accounts post combinations of the same 8 everyday phrases at their own times
    over two months; 8 operation accounts post the same 6 lines, each within minutes of the
    others."""
    r = random.Random(seed)
    accounts, tweets = _background(seed=seed)
    phrases = ["the bus fare went up again", "rainy season officially started", "best noodles I've had in years",
               "traffic downtown is unreal today", "watching the finals with the family", "power cut again on our street",
               "monday meetings should be illegal", "finally tried the new bakery"]
    t0 = datetime(2019, 7, 1)
    for i in range(40):
        uid = f"fan{i}"
        accounts.append(account(uid))
        for j in range(8):
            when = (t0 + timedelta(minutes=r.randrange(60 * 24 * 60))).strftime("%Y-%m-%d %H:%M")
            tweets.append(tweet(f"{uid}-p{j}", uid, when, tweet_text=", ".join(r.sample(phrases, 2))))
    for j in range(6):
        posted = t0 + timedelta(days=7 * j + 1, hours=2)
        line = ["prosperity depends on stability", "the rule of law protects everyone", "outside forces stir up chaos",
                "the vocational centres teach skills", "rumours spread by foreign media", "our compatriots live happily"][j]
        for k in range(8):
            when = (posted + timedelta(minutes=r.randint(0, 12))).strftime("%Y-%m-%d %H:%M")
            tweets.append(tweet(f"cell{k}-{j}", f"cell{k}", when, tweet_text=line))
    accounts += [account(f"cell{k}") for k in range(8)]
    return accounts, tweets


def test_a_community_sharing_phrases_over_weeks_forms_no_cluster_but_copies_within_minutes_do(write_tables, tmp_path):
    accounts, tweets = _phrase_community_and_cell()
    f = _features(write_tables, tmp_path, accounts, tweets)
    fans, cell = [f[f"fan{i}"] for i in range(40)], [f[f"cell{k}"] for k in range(8)]
    assert all(a["share_posts_near_duplicate"] > 0 for a in fans)  # their texts do match...
    assert sum(a["coord_cluster"] != "" for a in fans) == 0  # ...but no closer in time than chance
    assert all(a["near_duplicate_partners"] == 7 for a in cell) and len({a["coord_cluster"] for a in cell}) == 1


def test_accounts_active_in_the_same_hours_are_not_synchronised(write_tables, tmp_path):
    # Two communities, one active in the morning hour and one in the evening hour, every day
    # for three weeks: inside each, accounts share minutes by chance, more often than a null
    # that mixes the two expects. Two more accounts post in the same minute on twelve nights.
    r = random.Random(5)
    accounts, tweets = _background()
    t0 = datetime(2019, 7, 1, 20, 0)
    for i in range(40):
        accounts.append(account(f"eve{i}"))
        start = t0 if i < 20 else t0 - timedelta(hours=12)
        for d in range(21):
            for m in r.sample(range(60), 5):
                when = (start + timedelta(days=d, minutes=m)).strftime("%Y-%m-%d %H:%M")
                tweets.append(tweet(f"eve{i}-{d}-{m}", f"eve{i}", when, tweet_text=f"daily note {i} {d} {m}"))
    accounts += [account("pa"), account("pb")]
    for d in range(12):
        when = (t0 + timedelta(days=d, hours=3, minutes=r.randrange(60))).strftime("%Y-%m-%d %H:%M")
        tweets += [tweet(f"pa{d}", "pa", when, tweet_text=f"a posts {d}"), tweet(f"pb{d}", "pb", when, tweet_text=f"b posts {d}")]
    f = _features(write_tables, tmp_path, accounts, tweets)
    # 780 pairs inside the communities, each tested at `significance` (one-sided 0.001, by a normal
    # approximation): a handful of chance ties, where minute bins against the configuration null
    # tied 32 pairs.
    assert sum(f[f"eve{i}"]["sync_partners"] for i in range(40)) / 2 <= 5
    assert f["pa"]["sync_partners"] == 1 and f["pb"]["sync_partners"] == 1
