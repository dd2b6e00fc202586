"""The `train_encoder` stage: documents -> out-of-fold encoder scores, a final model, held-out scores.

`run(params, paths)` writes `paths.out` as one folder, built beside it and renamed into place:

    config.json, model.safetensors, tokenizer files,      the final classifier (finetune.save_classifier)
    head.safetensors, classifier.json
    int8.onnx          the CPU fast path (pipeline.encoder.fast), when encoder.fast_inference is on
    oof.parquet        userid, campaign, label, fold, model, score   (training accounts, out of fold)
    holdout.parquet    userid, campaign, label, score                 (role == 'test', final model)
    meta.json          params used, device, timings, per-model training records, ROC-AUCs
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import EncoderParams
from pipeline.documents import account_documents
from pipeline.encoder.finetune import oof_fold_of, predict, train_encoder_oof
from pipeline.errors import InputError
from pipeline.io import staged_dir, write_json
from pipeline.metrics import roc_auc_or_none
from pipeline.schema import TWEETS_SCHEMA, check_schema


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)


@dataclass(frozen=True)
class Paths:
    tweets: Path  # data/interim/tweets.parquet
    split: Path  # data/split.parquet
    base: Path  # models/encoder/base, from provision_encoder
    out: Path  # models/encoder/classifier


def run(params: EncoderParams, paths: Paths, *, progress: bool | None = None) -> str:
    summary = train(params, paths, progress=progress)
    auc = summary["holdout_auc"]
    return (f"fine-tuned encoder on {summary['device']}: OOF ROC-AUC {summary['oof_auc']:.3f}, "
            f"held-out ROC-AUC {auc if auc is None else round(auc, 3)}, {summary['seconds']['total']:.0f} s")


def train(params: EncoderParams, paths: Paths, *, progress: bool | None = None) -> dict[str, Any]:
    """Train and score as described in the module docstring; returns the summary also in meta.json."""
    t0 = time.perf_counter()
    tweets_path, split_path, base_dir, out_dir = paths.tweets, paths.split, paths.base, paths.out
    check_schema(tweets_path, pa.schema([TWEETS_SCHEMA.field(n) for n in ("tweetid", "userid", "tweet_text", "is_retweet")]))
    split = pq.read_table(split_path, columns=["userid", "campaign", "label", "role", "fold"]).to_pandas()
    if not (base_dir / "config.json").is_file():
        raise InputError(f"{base_dir} holds no encoder; run the provision_encoder stage first.")
    p_dev = params.for_device(params.resolve_device())
    docs = account_documents(tweets_path, split["userid"], p_dev.tweets_per_account, p_dev.seed, p_dev.max_chars)
    t_docs = time.perf_counter() - t0
    train = split[(split["role"] == "train") & (split["fold"] >= 0)].reset_index(drop=True)
    test = split[split["role"] == "test"].reset_index(drop=True)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {}
    with staged_dir(out_dir, create=False) as tmp:
        oof, _ = train_encoder_oof(train, docs, base_dir, params, tmp, progress=progress, record=record)
        t_train = time.perf_counter() - t0 - t_docs
        oof_frame = train[["userid", "campaign", "label", "fold"]].copy()
        oof_frame["model"] = oof_fold_of(train["fold"].to_numpy(), p_dev.oof_folds)
        oof_frame["score"] = oof
        _write_parquet(oof_frame, tmp / "oof.parquet")

        t1 = time.perf_counter()
        holdout = test[["userid", "campaign", "label"]].copy()
        # Scored from the saved folder, as `statelink score` will (int8.onnx on CPU).
        holdout["score"] = predict(tmp, [docs[u] for u in test["userid"]], p_dev.eval_batch_size,
                                   fast=p_dev.fast_inference, device=record["device"], threads=p_dev.cpu_threads)
        _write_parquet(holdout, tmp / "holdout.parquet")
        t_holdout = time.perf_counter() - t1

        y_oof = (oof_frame["label"] == "state_linked").to_numpy().astype(int)
        y_test = (holdout["label"] == "state_linked").to_numpy().astype(int)
        doc_chars = np.array([len(d) for d in docs.values()])
        summary = {
            "params": p_dev.model_dump(),
            "device": record["device"],
            "accounts": {"train": len(train), "holdout": len(test), "empty_documents": int((doc_chars == 0).sum())},
            "mean_document_chars": float(doc_chars.mean()) if len(doc_chars) else 0.0,
            "oof_auc": roc_auc_or_none(y_oof, oof),
            "holdout_auc": roc_auc_or_none(y_test, holdout["score"].to_numpy()) if len(test) else None,
            "seconds": {"documents": round(t_docs, 2), "train_and_oof": round(t_train, 2),
                        "holdout": round(t_holdout, 2), "total": round(time.perf_counter() - t0, 2)},
            "folds": [{k: v for k, v in r.items() if k not in ("trained_on", "validated_on", "scored")}
                      | {"n_trained_on": len(r["trained_on"]), "n_validated_on": len(r["validated_on"]),
                         "n_scored": len(r["scored"])} for r in record["folds"]],
            "final": record["final"],
        }
        write_json(tmp / "meta.json", summary)
    return summary
