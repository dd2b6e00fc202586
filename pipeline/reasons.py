"""Reasons in words: the features that pushed an account's score up, from SHAP values.

LightGBM computes exact TreeSHAP contributions (`pred_contrib=True`); the top positive
ones are phrased for a reviewer who has not read the feature catalogue.
"""

from __future__ import annotations

import numpy as np

PHRASES: dict[str, str] = {
    "share_office_hours_local": "posts in Beijing office hours on weekdays",
    "share_weekend_local": "rarely posts at weekends",
    "share_night_local": "rarely posts at night (Beijing time)",
    "share_evening_local": "rarely posts in the evening",
    "lunch_dip_ratio": "activity dips at lunchtime",
    "hour_entropy_local": "narrow daily posting schedule",
    "hour_entropy_utc": "narrow daily posting schedule",
    "share_web_client": "posts mostly from a web client",
    "share_mobile_client": "rarely posts from a phone",
    "client_entropy": "uses few clients",
    "log_followers": "few followers",
    "under_ten_followers": "under ten followers",
    "log_following": "follows few or many accounts",
    "log_follower_ratio": "follows far more accounts than follow it",
    "has_description": "empty profile description",
    "description_length": "short or empty profile description",
    "has_location": "no profile location",
    "has_profile_url": "no profile link",
    "creation_batch_size": "created in a batch with many other accounts",
    "account_age_at_first_tweet_days": "account age when it started posting",
    "account_age_at_last_tweet_days": "account age at its last post",
    "share_retweets": "mostly retweets",
    "share_originals": "share of original posts",
    "share_replies": "rarely replies",
    "mean_likes_received": "near-zero likes",
    "mean_retweets_received": "near-zero retweets of its posts",
    "share_zero_engagement": "posts get no engagement",
    "share_urls_state_media": "links to state media",
    "share_urls_mainstream_news": "rarely links mainstream news",
    "n_tweet_languages": "posts in several languages (repurposed account?)",
    "share_lang_matches_profile": "tweet language differs from profile language",
    "coord_partners": "tied to other accounts by coordinated activity",
    "coord_cluster_size": "member of a large coordinated cluster",
    "coord_max_tie_weight": "strong coordination tie to another account",
    "co_retweet_partners": "retweets the same tweets as other accounts",
    "near_duplicate_partners": "posts near-copies of other accounts' text",
    "share_posts_near_duplicate": "much of its text is copied from other accounts",
    "text_ngram_score": "its wording resembles state-linked accounts' text",
    "lex_hk_share": "uses the Hong Kong protest narrative's terms (rioters, black hand, foreign forces)",
    "lex_covid_share": "uses the COVID-19 narrative's terms (responsible major country, Fort Detrick)",
    "lex_guo_share": "attacks Guo Wengui or Steve Bannon",
    "lex_xinjiang_share": "uses the Xinjiang narrative's terms (vocational training, genocide lie)",
    "lex_any_share": "uses state narratives' terms",
    "camouflage_share": "posts proverbs, poems or quotes as filler",
    "trad_char_share": "its mix of Simplified and Traditional Chinese",
    "han_char_share": "share of Chinese text",
    "latin_char_share": "share of Latin-script text",
    "co_hashtag_seq_partners": "uses the same hashtag sequences as other accounts",
    "co_url_partners": "shares the same links as other accounts",
    "sync_partners": "posts in the same minutes as other accounts",
    "share_rt_within_60s": "retweets within a minute of the original",
    "share_rt_within_600s": "retweets within minutes of the original",
    "rt_delay_median_s": "retweets soon after the original",
    "n_fast_retweeted": "its posts are retweeted within a minute by others",
    "text_score": "text resembles known state-linked narratives",
    "encoder_score": "text encoder finds state-linked narratives",
}


def phrase(feature: str) -> str:
    return PHRASES.get(feature, feature.replace("_", " "))


def top_reasons(contrib: np.ndarray, features: list[str], k: int = 3, min_contrib: float = 0.05,
                values: np.ndarray | None = None) -> list[str]:
    """Per row, up to `k` phrases for the largest positive contributions (log-odds units).

    `contrib` is LightGBM's pred_contrib output: one column per feature plus the bias last.
    With `values` (the feature matrix), a feature missing for the account is never a reason:
    its contribution is the model's guess about what is absent, not something the account did.
    """
    values_c = np.asarray(contrib)[:, : len(features)].copy()
    if values is not None:
        values_c[np.isnan(np.asarray(values, dtype=float))] = -np.inf
    values = values_c
    order = np.argsort(-values, axis=1)[:, :k]
    out = []
    for row, idx in zip(values, order):
        parts = [phrase(features[i]) for i in idx if row[i] >= min_contrib]
        out.append("; ".join(dict.fromkeys(parts)))
    return out
