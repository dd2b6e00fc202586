"""The statelink model as one MLflow pyfunc: raw account and tweet rows in, scores out.

Input: one DataFrame in the shape of the archive's tweets file — every tweet row carries
its account's profile columns; an account with no tweets is one row with an empty
`tweetid`. `model_input(accounts, tweets)` builds it from `statelink ingest` output.
Output: one row per account, the score contract's columns (`pipeline/contract.py`).

The whole featurise → predict → calibrate path runs inside `predict`, so the CLI, the
notebooks and Spark load the same model and can never drift from training. The model is
logged with MLflow's models-from-code: `statelink_model.py` beside this file is the code
MLflow loads (MLflow models are code: load them only from stores you trust).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline import duck
from pipeline.config import FeaturesParams
from pipeline.contract import OUTPUT_COLUMNS, mlflow_schema
from pipeline.errors import InputError
from pipeline.features.build import build_features
from pipeline.schema import ACCOUNTS_SCHEMA, TWEETS_SCHEMA
from pipeline.scoring import GbmScorer

ACCOUNT_INPUT = [f.name for f in ACCOUNTS_SCHEMA if f.name not in ("from_users_file", "campaign", "label", "source_file")]
TWEET_INPUT = [f.name for f in TWEETS_SCHEMA if f.name not in ("userid", "campaign", "label", "source_file", "poll_choices")]
INPUT_COLUMNS = ACCOUNT_INPUT + TWEET_INPUT


LIST_COLUMNS = ("hashtags", "urls", "user_mentions")
BOOL_COLUMNS = ("is_hashed", "is_retweet")
TIME_COLUMNS = ("account_creation_date", "tweet_time")
# Counts and coordinates are doubles in the model's signature: integers cannot hold the
# missing values that real dumps have.
DOUBLE_COLUMNS = ("follower_count", "following_count", "latitude", "longitude",
                  "quote_count", "reply_count", "like_count", "retweet_count")


def input_schema():
    """The pyfunc's explicit input schema (MLflow cannot infer one from empty lists)."""
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.schema import Array

    specs = []
    for col in INPUT_COLUMNS:
        if col in LIST_COLUMNS:
            specs.append(ColSpec(Array(DataType.string), col, required=False))
        elif col in BOOL_COLUMNS:
            specs.append(ColSpec(DataType.boolean, col, required=False))
        elif col in TIME_COLUMNS:
            specs.append(ColSpec(DataType.datetime, col, required=col == "tweet_time"))
        elif col in DOUBLE_COLUMNS:
            specs.append(ColSpec(DataType.double, col, required=False))
        else:
            specs.append(ColSpec(DataType.string, col, required=col in ("userid", "tweetid")))
    return Schema(specs)


def output_schema():
    """The pyfunc's output schema: the score contract (pipeline/contract.py)."""
    return mlflow_schema()


def normalise_input(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a frame to the input schema's types; fill what the archive leaves implicit."""
    frame = frame.copy()
    for col in INPUT_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    for col in DOUBLE_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["tweet_time"] = pd.to_datetime(frame["tweet_time"], utc=True, errors="coerce").dt.tz_localize(None)
    frame["account_creation_date"] = pd.to_datetime(frame["account_creation_date"], errors="coerce")
    # A retweet is known by its retweet id where the flag is missing; hashing by the id's shape.
    rt = frame["is_retweet"].astype("object")
    frame["is_retweet"] = rt.where(rt.notna(), frame["retweet_tweetid"].notna()).astype(bool)
    hashed = frame["is_hashed"].astype("object")
    frame["is_hashed"] = hashed.where(hashed.notna(), ~frame["userid"].astype(str).str.isdigit()).astype(bool)
    for col in LIST_COLUMNS:
        frame[col] = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [] for v in frame[col]]
    for col in INPUT_COLUMNS:
        if col not in DOUBLE_COLUMNS + BOOL_COLUMNS + TIME_COLUMNS + LIST_COLUMNS:
            frame[col] = frame[col].astype("object").where(frame[col].notna(), None)
    return frame[INPUT_COLUMNS]


def model_input(accounts: pa.Table | pd.DataFrame, tweets: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """Left-join accounts to their tweets: the pyfunc's input frame."""
    con = duck.connect()
    try:
        con.register("a_in", accounts)
        con.register("t_in", tweets)
        acols = ", ".join(f"a.{c}" for c in ACCOUNT_INPUT)
        tcols = ", ".join(f"t.{c}" for c in TWEET_INPUT)
        frame = con.execute(
            f"SELECT {acols}, {tcols} FROM a_in a LEFT JOIN t_in t USING (userid) ORDER BY a.userid, t.tweet_time"
        ).df()
    finally:
        con.close()
    return normalise_input(frame)


def _split_input(frame: pd.DataFrame) -> tuple[pa.Table, pa.Table]:
    """The pyfunc frame back into typed accounts and tweets tables (schema-checked)."""
    missing = [c for c in ("userid", "tweetid", "tweet_time") if c not in frame.columns]
    if missing:
        raise InputError(f"the model input lacks the column(s) {missing}; build it with pipeline.serving.model_input.")
    frame = normalise_input(frame)
    frame["tweet_time"] = frame["tweet_time"].dt.tz_localize("UTC")
    frame["account_creation_date"] = frame["account_creation_date"].dt.date
    for col in DOUBLE_COLUMNS:
        if col not in ("latitude", "longitude"):
            frame[col] = frame[col].round().astype("Int64")
    acc = frame[ACCOUNT_INPUT].drop_duplicates("userid", keep="first")
    acc = acc.assign(from_users_file=True, campaign=None, label=None, source_file="model_input")
    tw = frame[frame["tweetid"].notna() & frame["tweet_time"].notna()][["userid"] + TWEET_INPUT]
    tw = tw.assign(campaign=None, label=None, source_file="model_input", poll_choices=None)
    return (
        pa.Table.from_pandas(acc[[f.name for f in ACCOUNTS_SCHEMA]], schema=ACCOUNTS_SCHEMA, preserve_index=False),
        pa.Table.from_pandas(tw[[f.name for f in TWEETS_SCHEMA]], schema=TWEETS_SCHEMA, preserve_index=False),
    )


@dataclass
class Bundle:
    """Everything the model needs to score: the parts `dvc repro` trained, loaded once."""

    scorer: GbmScorer
    features: FeaturesParams
    encoder: Callable[[list[str]], np.ndarray] | None = None  # documents -> P(state-linked)
    encoder_params: Any = None  # EncoderParams
    ensemble: dict | None = None

    @property
    def threshold(self) -> float:
        return self.ensemble["threshold"] if self.ensemble else self.scorer.threshold

    def thresholds(self, feats: pd.DataFrame) -> np.ndarray:
        """Each row's operating threshold: the profile-only member's for accounts without tweets."""
        out = np.full(len(feats), self.threshold)
        only = self.scorer.profile_only(feats)
        if only.any():
            out[only] = self.scorer.profile.threshold
        return out

    @property
    def calibrated_on(self) -> dict | None:
        """What the output probability means: the predictions its calibration and threshold
        were fitted on, their prevalence, and the label's precision there and at low prevalence."""
        return self.ensemble.get("calibrated_on") if self.ensemble else self.scorer.calibrated_on


DocsFn = Callable[[list[str]], list[str]]


def documents_for(tweets, bundle: Bundle) -> DocsFn | None:
    """userids -> encoder documents, the same sample of tweets as training used; None without an encoder.

    `tweets`: a tweets.parquet path, or a DuckDB connection with a `tweets` table
    (`documents.account_documents`).
    """
    if bundle.encoder is None:
        return None
    ep = bundle.encoder_params

    def docs(userids: list[str]) -> list[str]:
        from pipeline.documents import account_documents

        d = account_documents(tweets, userids, ep.tweets_per_account, ep.seed, ep.max_chars)
        return [d[u] for u in userids]

    return docs


def score_tables(accounts: pa.Table, tweets: pa.Table, bundle: Bundle, memory_limit: str = "4GB",
                 band: tuple[float, float] | None = None, stats: dict | None = None,
                 features: list | None = None) -> pd.DataFrame:
    """Score every account in `accounts`; coordination is computed across all of them.
    `features`, when given a list, receives the feature frame (for the drift check)."""
    con = duck.connect(config={"memory_limit": memory_limit, "threads": duck.available_cores()})
    try:
        con.register("acc_in", accounts)
        con.register("tw_in", tweets)
        feats = build_features(con, "acc_in", "tw_in", bundle.features).to_pandas()
        if features is not None:
            features.append(feats)
        return score_features(feats, bundle, documents_for(con, bundle), band, stats)
    finally:
        con.close()


def score_features(feats: pd.DataFrame, bundle: Bundle | GbmScorer, docs: DocsFn | None = None,
                   band: tuple[float, float] | None = None, stats: dict | None = None) -> pd.DataFrame:
    """The model's output for a feature frame: score, label, reasons and context columns.

    With an encoder, its score is stacked with LightGBM's. `band` is the scoring cascade:
    the encoder (the slow part) runs only on accounts whose LightGBM score lies inside it;
    the others keep the calibrated LightGBM score. `stats`, when given, accumulates
    encoder_accounts and the seconds spent on LightGBM, documents and the encoder.
    """
    stats = {} if stats is None else stats
    t0 = time.perf_counter()
    if isinstance(bundle, GbmScorer):
        bundle = Bundle(bundle, FeaturesParams())
    out = bundle.scorer.score_with_reasons(feats)
    _add(stats, "seconds_gbm", time.perf_counter() - t0)
    if bundle.encoder is not None and docs is not None and len(out):
        from pipeline.models.ensemble import apply_stacker

        gbm = out["score"].to_numpy()
        run = np.ones(len(out), bool) if band is None else (gbm >= band[0]) & (gbm <= band[1])
        # An account without tweets has no text to read: the profile-only member's score stands.
        run &= ~bundle.scorer.profile_only(feats)
        enc = np.full(len(out), np.nan)
        if run.any():
            t1 = time.perf_counter()
            texts = docs(out.loc[run, "userid"].tolist())
            t2 = time.perf_counter()
            enc[run] = bundle.encoder(texts)
            _add(stats, "seconds_documents", t2 - t1)
            _add(stats, "seconds_encoder", time.perf_counter() - t2)
        _add(stats, "encoder_accounts", int(run.sum()))
        out["score"] = apply_stacker(bundle.ensemble, gbm, enc)
        out["label"] = np.where(out["score"] >= bundle.thresholds(feats), "state_linked", "not_flagged")
        # The encoder's say, in words, where it pushed the stacked score up.
        pushed = run & (np.nan_to_num(enc, nan=0.0) >= bundle.ensemble.get("encoder_threshold", 0.5))
        out.loc[pushed, "reasons"] = "text encoder finds state-linked narratives; " + out.loc[pushed, "reasons"]
        out["reasons"] = out["reasons"].str.rstrip("; ")
    out["coord_cluster"] = feats["coord_cluster"].to_numpy()
    out["n_tweets_seen"] = feats["n_tweets_seen"].to_numpy()
    out["no_tweets"] = feats["n_tweets_seen"].to_numpy() == 0
    # An account with no tweets is scored from its profile alone; say so in its reasons.
    out.loc[out["no_tweets"], "reasons"] = "no tweets in the dump: profile only; " + out.loc[out["no_tweets"], "reasons"]
    return out[OUTPUT_COLUMNS]


def _add(stats: dict, key: str, value: float) -> None:
    stats[key] = stats.get(key, 0) + value


def score_frame(frame: pd.DataFrame, bundle: Bundle) -> pd.DataFrame:
    accounts, tweets = _split_input(frame)
    if accounts.num_rows == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OUTPUT_COLUMNS})
    return score_tables(accounts, tweets, bundle)


def load_encoder(folder: Path, ep) -> Callable[[list[str]], np.ndarray]:
    """documents -> P(state-linked), scored exactly as the train_encoder stage scored held-out accounts.

    Fast inference: the folder's int8 ONNX graph, one document per run on every available core
    (`duck.available_cores`), without loading the torch model. Otherwise the fp32 torch classifier.
    """
    if ep.fast_inference:
        from pipeline.encoder.fast import load_int8

        # Documents run one per core: as many at once as there are cores (scores do not change).
        return load_int8(folder, duck.available_cores())
    from pipeline.encoder.finetune import load_classifier, predict_model

    model, tok = load_classifier(folder, "cpu")
    return lambda docs: predict_model(model, tok, docs, ep.eval_batch_size, device="cpu")


def make_bundle(gbm: Path | str, features: FeaturesParams, encoder: Path | str | None = None, encoder_params=None,
                ensemble: Path | str | None = None) -> Bundle:
    """The model's parts from their folders: LightGBM alone, or stacked with the encoder when
    both the encoder and the ensemble are given."""
    bundle = Bundle(GbmScorer.load(gbm), features)
    if encoder is not None and ensemble is not None:
        bundle.encoder, bundle.encoder_params = load_encoder(Path(encoder), encoder_params), encoder_params
        bundle.ensemble = json.loads((Path(ensemble) / "meta.json").read_text(encoding="utf-8"))
    return bundle


def load_bundle(artifacts: dict[str, str]) -> Bundle:
    """Load the model's parts from MLflow artifact paths (`gbm`, `features_params`, and
    optionally `encoder`, `encoder_params`, `ensemble`)."""
    params = FeaturesParams.model_validate(json.loads(Path(artifacts["features_params"]).read_text(encoding="utf-8")))
    if not (artifacts.get("encoder") and artifacts.get("ensemble")):
        return make_bundle(artifacts["gbm"], params)
    from pipeline.config import EncoderParams

    ep = EncoderParams.model_validate(json.loads(Path(artifacts["encoder_params"]).read_text(encoding="utf-8")))
    return make_bundle(artifacts["gbm"], params, artifacts["encoder"], ep, artifacts["ensemble"])
