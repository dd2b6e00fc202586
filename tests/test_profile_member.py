"""The profile-only member: accounts without tweets are scored from what they have, and the
refit stage that fits the registered model again on every campaign."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.features.columns import PROFILE_FEATURES
from pipeline.reasons import PHRASES
from pipeline.scoring import PROFILE_DIR, GbmScorer
from tests.conftest import SHARED_SAMPLES

# Reasons a profile-only account may be given: the phrases of profile features.
PROFILE_PHRASES = {PHRASES[f] for f in PROFILE_FEATURES if f in PHRASES}


def _reason_parts(reasons: pd.Series) -> set[str]:
    prefix = "no tweets in the dump: profile only"
    return {p.strip() for r in reasons for p in r.split(";") if p.strip() and p.strip() != prefix}


def test_profile_features_are_what_the_profile_sql_computes(write_tables, tmp_path):
    from pipeline.config import FeaturesParams
    from pipeline.features.behaviour import profile_features_sql
    from pipeline.duck import connect
    from tests.conftest import account

    folder = write_tables([account("u1"), account("u2")], [])
    con = connect()
    con.execute(f"CREATE VIEW acc AS SELECT *, 'p' AS population FROM read_parquet('{folder / 'accounts.parquet'}')")
    cols = set(con.sql(profile_features_sql(FeaturesParams())).columns) - {"userid", "account_creation_date"}
    assert cols == set(PROFILE_FEATURES)


def test_accounts_without_tweets_are_scored_by_the_profile_member(trained_model, tmp_path):
    from pipeline.score import load_model, score_dump

    gbm_dir = trained_model["dir"] / "gbm"
    scorer = GbmScorer.load(gbm_dir)
    assert scorer.profile is not None and set(scorer.profile.features) <= set(PROFILE_FEATURES)
    # A users file alone: the accounts of one campaign, none of their tweets.
    accounts = pq.read_table(trained_model["interim"] / "accounts.parquet").to_pandas()
    only = tmp_path / "users_only"
    only.mkdir()
    pq.write_table(pq.read_table(trained_model["interim"] / "accounts.parquet"), only / "accounts.parquet")
    pq.write_table(pq.read_table(trained_model["interim"] / "tweets.parquet").slice(0, 0), only / "tweets.parquet")
    out = tmp_path / "scores.parquet"
    model = load_model(str(trained_model["model"]))
    rep = score_dump([str(only)], model, out, progress=False)
    scores = pd.read_parquet(out)
    assert rep.no_tweets == len(accounts) == len(scores) and scores["no_tweets"].all()
    # The profile member's own threshold, and reasons from profile features only.
    assert _reason_parts(scores["reasons"]) <= PROFILE_PHRASES
    assert not scores["reasons"].str.contains("posts|retweet|night|weekend|office hours").any()
    profile = GbmScorer.load(gbm_dir / PROFILE_DIR)
    flagged = scores["label"] == "state_linked"
    assert (scores.loc[flagged, "score"] >= profile.threshold).all()
    assert (scores.loc[~flagged, "score"] < profile.threshold).all()


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason=f"real samples not present at {SHARED_SAMPLES}")
def test_the_real_august_2019_users_file_is_scored_from_profiles(trained_model, tmp_path):
    from pipeline.score import load_model, score_dump

    src = SHARED_SAMPLES / "china_082019_1_users_csv_hashed.csv"
    out = tmp_path / "real.parquet"
    rep = score_dump([str(src)], load_model(str(trained_model["model"])), out, progress=False)
    scores = pd.read_parquet(out)
    assert rep.accounts == 744 and scores["no_tweets"].all()
    assert _reason_parts(scores["reasons"]) <= PROFILE_PHRASES
    # The 119 accounts registered on one day score above the rest: the batch is seen.
    users = pd.read_csv(src, dtype=str)
    batch = set(users.loc[users["account_creation_date"] == "2017-08-30", "userid"])
    assert len(batch) == 119
    in_batch = scores["userid"].isin(batch)
    assert scores.loc[in_batch, "score"].median() > scores.loc[~in_batch, "score"].median()
    cites = scores["reasons"].str.contains("created in a batch")
    assert cites[in_batch].mean() > 2 * cites[~in_batch].mean()


def test_refit_fits_the_registered_model_on_every_campaign(trained_model, tmp_path):
    from pipeline.config import load_params
    from pipeline.stages import refit
    from tests.conftest import REPO

    work = trained_model["dir"]
    params = load_params(REPO / "params.yaml")
    params.split.n_folds = 3
    params.train_gbm.n_estimators = 60
    paths = refit.Paths(features=work / "features.parquet", split=work / "split.parquet", gbm=work / "gbm",
                        encoder=tmp_path / "no_encoder", ensemble=tmp_path / "no_ensemble", out=tmp_path / "refit")
    refit.run(params, paths)
    record = json.loads((tmp_path / "refit" / "refit.json").read_text())
    split = pd.read_parquet(work / "split.parquet")
    assert record["refit_all"] and record["campaigns"] == sorted(split["campaign"].unique())
    assert record["accounts"] == len(split)
    # Calibrated across every campaign, the held-out one included.
    cross = pd.read_parquet(tmp_path / "refit" / "gbm" / "cross.parquet")
    assert set(cross["campaign"]) == set(split["campaign"]) and len(cross) == len(split)
    assert record["gbm"]["calibrated_on"]["campaigns"] == record["campaigns"]
    assert (tmp_path / "refit" / "gbm" / PROFILE_DIR / "model.txt").exists()
    refitted, evaluated = GbmScorer.load(tmp_path / "refit" / "gbm"), GbmScorer.load(work / "gbm")
    feats = pd.read_parquet(work / "features.parquet")
    assert not np.allclose(refitted.raw(feats), evaluated.raw(feats))
    # Off: the evaluated fit, copied as it is.
    params.register_.refit_all = False
    refit.run(params, paths)
    assert json.loads((tmp_path / "refit" / "refit.json").read_text()) == {"refit_all": False}
    assert (tmp_path / "refit" / "gbm" / "model.txt").read_bytes() == (work / "gbm" / "model.txt").read_bytes()


def test_no_profile_feature_left_means_no_profile_member(tmp_path):
    """`exclude_features` may leave no profile feature: the folder is fitted without the
    member (no LightGBM error) and the main model scores accounts without tweets."""
    from pathlib import Path

    from pipeline.config import load_params
    from pipeline.models.fit import fit_gbm_folder

    base = load_params(Path(__file__).resolve().parents[1] / "params.yaml")

    def with_gbm(**update):
        gbm = base.train_gbm.model_copy(update={"n_estimators": 30, "text_ngram": base.train_gbm.text_ngram.model_copy(
            update={"enabled": False})} | update)
        return base.model_copy(update={"train_gbm": gbm})

    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "userid": [f"u{i}" for i in range(n)], "campaign": np.where(np.arange(n) % 2, "a", "b"),
        "label": np.where(y == 1, "state_linked", "control"), "fold": rng.integers(0, 3, n),
        "n_tweets_seen": np.where(np.arange(n) < 20, 0, 30), "doc": "",
        "log_followers": rng.normal(0, 1, n), "share_retweets": y + rng.normal(0, 0.5, n),
    })
    params = with_gbm(exclude_features=list(PROFILE_FEATURES))
    stale = tmp_path / "gbm" / PROFILE_DIR
    stale.mkdir(parents=True)
    (stale / "meta.json").write_text("{}")  # an earlier fit's member must not survive into this folder
    fitted = fit_gbm_folder(frame, params, tmp_path / "gbm")
    assert fitted.profile is None and fitted.features == ["share_retweets"]
    assert not stale.exists()
    scorer = GbmScorer.load(tmp_path / "gbm")
    assert scorer.profile is None
    thresholds = scorer.thresholds(frame)
    assert np.all(thresholds == scorer.threshold)
    assert np.all(np.isfinite(scorer.score(frame)))
    # With the profile features kept, the member is fitted on them alone.
    kept = fit_gbm_folder(frame, with_gbm(exclude_features=[]), tmp_path / "gbm2")
    assert kept.profile is not None and kept.profile.features == ["log_followers"]
