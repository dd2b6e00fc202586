"""Behaviour features on tiny hand-made tables with answers worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import pyarrow.parquet as pq
import pytest

from pipeline.config import FeaturesParams
from pipeline.features.columns import feature_columns
from tests.stages import run_features
from tests.conftest import account, tweet


def _features(write_tables, tmp_path, accounts, tweets):
    d = write_tables(accounts, tweets)
    table = run_features(d, tmp_path / "features.parquet", FeaturesParams())
    rows = table.to_pylist()
    return {r["userid"]: r for r in rows}


def test_office_hours_are_counted_in_beijing_time(write_tables, tmp_path):
    # 2019-08-05 is a Monday. 02:00 UTC = 10:00 in Beijing (office); 13:00 UTC = 21:00 (evening).
    tweets = [
        tweet("1", "a", "2019-08-05 02:00"),
        tweet("2", "a", "2019-08-05 03:00"),
        tweet("3", "a", "2019-08-05 13:00"),
        tweet("4", "a", "2019-08-10 02:00"),  # Saturday: weekend, not office
    ]
    f = _features(write_tables, tmp_path, [account("a")], tweets)["a"]
    assert f["share_office_hours_local"] == pytest.approx(2 / 4)
    assert f["share_weekend_local"] == pytest.approx(1 / 4)
    assert f["share_evening_local"] == pytest.approx(1 / 4)
    assert f["n_tweets"] == 4
    assert f["active_days"] == 2


def test_tweet_type_shares_and_clients(write_tables, tmp_path):
    tweets = [
        tweet("1", "a", "2020-01-01 00:00", is_retweet=True, retweet_tweetid="9", tweet_client_name="Twitter Web App"),
        tweet("2", "a", "2020-01-01 00:01", in_reply_to_tweetid="8", tweet_client_name="Twitter Web App"),
        tweet("3", "a", "2020-01-01 00:02", quoted_tweet_tweetid="7"),
        tweet("4", "a", "2020-01-01 00:03"),
    ]
    f = _features(write_tables, tmp_path, [account("a")], tweets)["a"]
    assert f["share_retweets"] == pytest.approx(0.25)
    assert f["share_replies"] == pytest.approx(0.25)
    assert f["share_quotes"] == pytest.approx(0.25)
    assert f["share_originals"] == pytest.approx(0.25)
    assert f["share_web_client"] == pytest.approx(0.5)
    assert f["share_mobile_client"] == pytest.approx(0.5)
    assert f["client_entropy"] == pytest.approx(1.0)
    # Three one-minute gaps: all count as under a minute? No: a gap of exactly 60 s is not < 60.
    assert f["gap_median_s"] == pytest.approx(60)
    assert f["share_gaps_under_1min"] == pytest.approx(0.0)


def test_url_domains_and_hashtag_diversity(write_tables, tmp_path):
    tweets = [
        tweet("1", "a", "2020-01-01 00:00", urls=["http://www.globaltimes.cn/content/1"], hashtags=["HK", "hk"]),
        tweet("2", "a", "2020-01-01 01:00", urls=["https://bit.ly/xyz", "https://english.news.cn/a"], hashtags=["Covid"]),
        tweet("3", "a", "2020-01-01 02:00", urls=["https://www.nytimes.com/x"]),
    ]
    f = _features(write_tables, tmp_path, [account("a")], tweets)["a"]
    assert f["share_urls_state_media"] == pytest.approx(2 / 4)  # globaltimes.cn and english.news.cn
    assert f["share_urls_shortener"] == pytest.approx(1 / 4)
    assert f["share_urls_mainstream_news"] == pytest.approx(1 / 4)
    assert f["hashtag_diversity"] == pytest.approx(2 / 3)  # HK and hk are one tag
    assert f["urls_per_tweet"] == pytest.approx(4 / 3)


def test_handle_features_are_null_for_hashed_accounts(write_tables, tmp_path):
    h = "vMm2zemFOF7kmXoDyX24Bo+TorqhNutpZlATYyxsE="
    accounts = [
        account(h, user_screen_name=h, user_display_name=h, is_hashed=True),
        account("12", user_screen_name="baillopud5", user_display_name="前尘往事"),
    ]
    f = _features(write_tables, tmp_path, accounts, [tweet("1", "12", "2020-01-01 00:00")])
    assert f[h]["handle_length"] is None or math.isnan(f[h]["handle_length"])
    assert f["12"]["handle_length"] == 10
    assert f["12"]["handle_digits"] == 1
    assert f["12"]["name_has_cjk"] == 1
    assert f["12"]["name_equals_handle"] == 0
    # The hashed account has no tweets: profile features only, flagged.
    assert f[h]["no_tweets"] == 1 and f[h]["n_tweets_seen"] == 0


def test_creation_batches_are_counted_within_a_population(write_tables, tmp_path):
    day = date(2017, 8, 30)
    accounts = [account(str(i), account_creation_date=day) for i in range(5)]
    accounts += [account("late", account_creation_date=date(2019, 1, 1))]
    accounts += [account("other", account_creation_date=day, campaign="c2")]
    f = _features(write_tables, tmp_path, accounts, [tweet("1", "0", "2020-01-01 00:00")])
    assert f["0"]["creation_batch_size"] == 5
    assert f["late"]["creation_batch_size"] == 1
    assert f["other"]["creation_batch_size"] == 1  # another campaign is another population


def test_account_age_and_engagement(write_tables, tmp_path):
    accounts = [account("a", account_creation_date=date(2020, 1, 1), follower_count=3)]
    tweets = [
        tweet("1", "a", "2020-01-11 00:00", like_count=4),
        tweet("2", "a", "2020-01-21 00:00"),
        tweet("3", "a", "2020-01-22 00:00", is_retweet=True, like_count=100),  # retweets' counts are the original's
    ]
    f = _features(write_tables, tmp_path, accounts, tweets)["a"]
    assert f["account_age_at_first_tweet_days"] == 10
    assert f["account_age_at_last_tweet_days"] == 21
    assert f["mean_likes_received"] == pytest.approx(2.0)
    assert f["share_zero_engagement"] == pytest.approx(0.5)
    assert f["under_ten_followers"] == 1


def test_feature_table_is_float_and_excludes_release_artefacts(write_tables, tmp_path):
    d = write_tables([account("a"), account("b", is_hashed=True)], [tweet("1", "a", "2020-01-01 00:00")])
    table = run_features(d, tmp_path / "f.parquet", FeaturesParams())
    names = feature_columns(table)
    assert "userid" not in names and "is_hashed" in names
    # The model never sees release artefacts (params default).
    from pipeline.config import TrainGbmParams
    from pipeline.features.columns import model_features

    used = model_features(names, TrainGbmParams().exclude_features)
    assert "is_hashed" not in used and not [n for n in used if n.startswith(("handle_", "name_"))]
    assert "share_office_hours_local" in used
    assert all(str(table.schema.field(n).type) == "double" for n in names)
    assert pq.read_table(tmp_path / "f.parquet").num_rows == 2
