"""Fine-tune a multilingual encoder to score accounts from their text.

Model: the base encoder (no pooler) -> pooling (mean over real tokens, or the first token:
`pooling`) -> dropout -> one linear logit; P(state-linked) = sigmoid(logit). Each account is
one document (pipeline.documents) prefixed with the base model's text prefix ("query: " for
e5), cut at `max_length` tokens.

Training (`fine_tune`): class-weighted BCE (balanced, as the LightGBM model), AdamW (no decay on
biases and LayerNorms; the head at its own, higher learning rate), transformers' scheduler
(`scheduler`: warmup, then linear decay by default), gradient accumulation, early stopping on
a grouped validation set checked `evals_per_epoch` times per epoch (the best weights are
restored), everything seeded. On CPU only the top `trainable_layers` layers train: the
embeddings and lower layers are frozen, run without dropout, and their output is computed once
per document (`LowerCache`, shared by the out-of-fold models), so a step costs the top layers
only; batches group documents of similar length (`batches`). Where the time went and what each
change paid is in bench/encoder.py. The device is CUDA when available, else CPU with
`cpu_threads` threads; on CUDA the params' `gpu` profile applies (every layer trains) and
training runs under bfloat16 autocast.

Out of fold (`train_encoder_oof`): the split's grouped folds are mapped onto `oof_folds` models
(fold % oof_folds). Model k trains on the other folds, stops early on one whole split fold
among them (so no creation batch is on both sides), and scores fold k. The final model trains
on all training accounts for the mean best number of epochs of the fold models; accounts with
fold -1 (held-out campaigns) are never trained on or used for stopping.

Formats (`save_classifier`): the encoder via save_pretrained (config.json + model.safetensors),
the tokenizer files, `head.safetensors` (head.weight [1, hidden], head.bias [1]) and
`classifier.json` (pooling, prefix, max_length, training record). No pickles.

Fast inference (`fast=True`): on CPU, the smoothed int8 ONNX Runtime graph of
pipeline.encoder.fast, one document per run (`int8.onnx` in the classifier folder, built from
training documents, for the final model only); on CUDA, bfloat16 autocast. The out-of-fold
models score in fp32 through the frozen-layer cache (`score_out_of_fold`, which says why).
fp32 documents are scored longest first in length-sorted batches, so padding is minimal.
Measured figures are in bench/encoder.py's docstring.

Layers: this module uses pipeline.encoder.fast (the int8 path) and pipeline.encoder.runtime
(tokenising, padding, threads, sampling, sigmoid); neither of those imports anything from here.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from pipeline.config import EncoderParams
from pipeline.encoder.convert import mean_pool
from pipeline.encoder.fast import FAST_FILE, OnnxClassifier, build_int8, calibration_sample, load_int8
from pipeline.encoder.provision import load_base, text_prefix
from pipeline.encoder.runtime import cpu_threads, pad_batch, probabilities, stratified_cap, tokenize
from pipeline.errors import InputError, StatelinkError
from pipeline.io import staged_dir
from pipeline.metrics import roc_auc_or_none

CLASSIFIER_JSON = "classifier.json"
HEAD_FILE = "head.safetensors"
FORMAT = "statelink-encoder-classifier"
FORMAT_VERSION = 1


def _torch():
    import torch

    return torch


# ------------------------------------------------------------------ model --------------------


@functools.cache
def _module_class():
    torch = _torch()
    nn = torch.nn

    class EncoderClassifier(nn.Module):
        """encoder -> pool (mean over real tokens, or the first token) -> dropout -> Linear(hidden, 1).

        `forward` runs the transformers model whole (what the ONNX export traces). `lower` and
        `upper` split it at layer k, for training the top layers on a cache of the frozen
        lower layers' output: upper(lower(x, k), k) is forward(x)."""

        def __init__(self, encoder: nn.Module, dropout: float = 0.1, pooling: str = "mean") -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(encoder.config.hidden_size, 1)
            self.pooling = pooling
            # Set by fine_tune / load_classifier: prefix, max_length, training record.
            self.settings: dict[str, Any] = {}

        def _head(self, hidden, attention_mask):
            pooled = hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, attention_mask)
            return self.head(self.dropout(pooled.float())).squeeze(-1)

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self._head(hidden, attention_mask)

        def _mask(self, hidden, attention_mask):
            from transformers.masking_utils import create_bidirectional_mask

            # The mask the transformers model builds for its layers (sdpa or eager alike).
            return create_bidirectional_mask(config=self.encoder.config, inputs_embeds=hidden,
                                             attention_mask=attention_mask)

        def lower(self, input_ids, attention_mask, k: int):
            """Hidden states after the embeddings and the first k layers."""
            hidden = self.encoder.embeddings(input_ids=input_ids)
            mask = self._mask(hidden, attention_mask)
            for layer in self.encoder.encoder.layer[:k]:
                hidden = layer(hidden, mask)
            return hidden

        def upper(self, hidden, attention_mask, k: int):
            """Logits from the hidden states after layer k: the layers above it and the head."""
            mask = self._mask(hidden, attention_mask)
            for layer in self.encoder.encoder.layer[k:]:
                hidden = layer(hidden, mask)
            return self._head(hidden, attention_mask)

    return EncoderClassifier


def EncoderClassifier(encoder, dropout: float = 0.1, pooling: str = "mean"):  # noqa: N802 - a factory that reads as the class
    return _module_class()(encoder, dropout, pooling)


def frozen_layers(model, params: EncoderParams) -> int | None:
    """How many transformer layers (from the bottom) stay frozen; None: per freeze_embeddings only."""
    if params.trainable_layers is None:
        return None
    n = int(model.encoder.config.num_hidden_layers)
    return max(0, n - int(params.trainable_layers))


def _freeze(model, params: EncoderParams) -> list:
    """Freeze what params say; returns the modules that must also run without dropout."""
    k = frozen_layers(model, params)
    if k is None:
        if params.freeze_embeddings:
            model.encoder.get_input_embeddings().weight.requires_grad_(False)
        return []
    fixed = [model.encoder.embeddings, *model.encoder.encoder.layer[:k]]
    for m in fixed:
        m.requires_grad_(False)
    return fixed


class LowerCache:
    """The frozen lower layers' output per document, computed once (no dropout, no gradient).

    Keyed by the document's token ids, so the out-of-fold models, which train on subsets of the
    same documents with the same frozen layers, share one cache. Valid for one base model folder
    and one layer count (`key`); fine_tune refuses a cache made for another. Memory: tokens x
    hidden x 4 bytes per document (e5-small, 128 tokens: 192 KiB)."""

    def __init__(self, base_dir: Path, k: int) -> None:
        self.key = (str(Path(base_dir).resolve()), int(k))
        self.hidden: dict[tuple[int, ...], Any] = {}
        self.seconds = 0.0

    def fill(self, model, ids: Sequence[Sequence[int]], pad_id: int, batch_size: int, device: str) -> None:
        """Compute the documents not cached yet, longest first in batches (little padding)."""
        torch = _torch()
        todo = sorted({tuple(x) for x in ids if tuple(x) not in self.hidden}, key=lambda x: (-len(x), x))
        if not todo:
            return
        t0 = time.perf_counter()
        k = self.key[1]
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            for a in range(0, len(todo), batch_size):
                chunk = todo[a : a + batch_size]
                input_ids, mask = pad_batch(chunk, pad_id, device)
                hidden = model.lower(input_ids, mask, k).float().cpu()
                for x, h in zip(chunk, hidden):
                    self.hidden[x] = h[: len(x)].clone()
        model.train(was_training)
        self.seconds += time.perf_counter() - t0

    def batch(self, ids: Sequence[Sequence[int]], device: str):
        """(hidden [B, T, H] zero-padded, attention_mask [B, T]) for these documents."""
        torch = _torch()
        hs = [self.hidden[tuple(x)] for x in ids]
        width = max(len(h) for h in hs)
        out = torch.zeros((len(hs), width, hs[0].shape[-1]), dtype=torch.float32)
        mask = torch.zeros((len(hs), width), dtype=torch.long)
        for i, h in enumerate(hs):
            out[i, : len(h)] = h
            mask[i, : len(h)] = 1
        return out.to(device), mask.to(device)


def batches(gen: np.random.Generator, lengths: Sequence[int], batch_size: int, bucketing: bool) -> list[np.ndarray]:
    """One epoch's batches of indices. Bucketing: a random permutation cut into pools of 50
    batches, each pool sorted by length and cut into batches, the batches shuffled; so a batch
    holds documents of similar length (less padding) and each epoch still differs."""
    n = len(lengths)
    order = gen.permutation(n)
    if not bucketing:
        return [order[a : a + batch_size] for a in range(0, n, batch_size)]
    lengths = np.asarray(lengths)
    pool = 50 * batch_size
    out = []
    for a in range(0, n, pool):
        part = order[a : a + pool]
        part = part[np.argsort(-lengths[part], kind="stable")]
        out += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
    return [out[i] for i in gen.permutation(len(out))]


# ------------------------------------------------------------------ helpers ------------------


def resolve_device(params: EncoderParams) -> str:
    return params.resolve_device()


def _setup(params: EncoderParams) -> tuple[EncoderParams, str]:
    """Params with the device profile applied, and the device; sets CPU threads."""
    torch = _torch()
    device = params.resolve_device()
    if device == "cuda" and not torch.cuda.is_available():
        raise StatelinkError("encoder.device is 'cuda' but torch sees no GPU; use 'auto' or 'cpu'.")
    params = params.for_device(device)
    if device == "cpu":
        torch.set_num_threads(params.cpu_threads)
    return params, device


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-example weights that give both classes equal total weight (as the LightGBM model).

    sklearn's "balanced" weights, n / (n_classes * count). A set of one class (a small
    validation fold can be) is weighted as one of two classes, 1/2 each, so its loss stays on
    the same scale as a two-class set's; for two classes the * n_classes / 2 is exact.
    """
    from sklearn.utils.class_weight import compute_class_weight

    y = np.asarray(y).astype(int)
    if len(y) == 0:
        return np.zeros(0, dtype=np.float32)
    classes, index = np.unique(y, return_inverse=True)
    per_class = compute_class_weight("balanced", classes=classes, y=y)
    return (per_class[index] * len(classes) / 2).astype(np.float32)


def example_weights(y: np.ndarray, class_weight: str) -> np.ndarray:
    """Per-example loss weights for `encoder.class_weight`: balanced, or 1 each ("none")."""
    return balanced_weights(y) if class_weight == "balanced" else np.ones(len(y), np.float32)


def _train_mode(model, fixed: Sequence) -> None:
    """Training mode, with the frozen modules `fixed` kept in eval mode (no dropout where
    nothing trains, which is also what makes the frozen-layer cache exact)."""
    model.train()
    for m in fixed:
        m.eval()


@contextlib.contextmanager
def _progress(total: int, desc: str, enabled: bool | None) -> Iterator[Callable[[float], None]]:
    """A progress bar on stderr for the block; yields `advance(loss)`, called once an optimizer step.

    enabled=None: shown on a terminal only, so DVC logs, notebooks and tests stay quiet. On a
    terminal the bar is erased when done; forced on elsewhere, its last state is printed once
    (a file cannot take the terminal's redraws).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    shown = console.is_terminal if enabled is None else enabled
    with Progress(TextColumn(desc), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("loss {task.fields[loss]}"), console=console, disable=not shown,
                  transient=console.is_terminal, refresh_per_second=1) as bar:
        task = bar.add_task(desc, total=total, loss="")
        yield lambda loss: bar.update(task, advance=1, loss=f"{loss:.3f}")


def _autocast(device: str, enabled: bool):
    torch = _torch()
    if device == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ------------------------------------------------------------------ scoring ------------------


def _logits(model, ids: list[list[int]], pad_id: int, batch_size: int, device: str, bf16: bool) -> np.ndarray:
    """Logits of pre-tokenised documents, longest first (little padding), in the input order.

    One document per call on CPU runs on one thread: a single 128-token document is too small
    to split across cores (measured: as fast as two threads on an idle machine), and when
    another process holds a core, two spinning threads ran ~10x slower than one.
    """
    torch = _torch()
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = np.empty(len(ids), dtype=np.float64)
    was_training = model.training
    model.eval()
    threads = cpu_threads(1) if (batch_size == 1 and device == "cpu") else contextlib.nullcontext()
    with torch.inference_mode(), _autocast(device, bf16), threads:
        for a in range(0, len(order), batch_size):
            chunk = order[a : a + batch_size]
            input_ids, mask = pad_batch([ids[i] for i in chunk], pad_id, device)
            out[chunk] = model(input_ids, mask).float().cpu().numpy()
    model.train(was_training)
    return out


def predict_model(
    model, tokenizer, docs: Sequence[str], batch_size: int = 64, fast: bool = False,
    device: str | None = None, max_length: int | None = None, *,
    calibration_docs: Sequence[str] | None = None, workers: int = 1,
) -> np.ndarray:
    """P(state-linked) per document from an in-memory classifier.

    fast on CUDA: bfloat16 autocast. fast on CPU: the int8 ONNX fast path (pipeline.encoder.fast)
    built for this model from `calibration_docs` (training documents, required), one document
    per run on `workers` threads; the model itself is not changed.
    """
    if len(docs) == 0:
        return np.zeros(0, dtype=np.float64)
    settings = getattr(model, "settings", {})
    device = device or next(model.parameters()).device.type
    if fast and device == "cpu":
        if max_length is not None and max_length != settings.get("max_length", 128):
            raise InputError("the int8 fast path scores at the model's own max_length.")
        if not calibration_docs:
            raise InputError("the CPU fast path needs calibration_docs (training documents) to build its int8 file.")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="statelink-int8-") as work:
            path = build_int8(model, calibration_docs, Path(work) / "int8.onnx")
            return OnnxClassifier(path, workers).predict(docs, tokenizer)
    max_length = max_length or settings.get("max_length", 128)
    ids = tokenize(tokenizer, docs, settings.get("text_prefix", ""), max_length)
    model.to(device)
    logits = _logits(model, ids, tokenizer.pad_token_id, batch_size, device, fast and device == "cuda")
    return probabilities(logits, "the encoder")


# ------------------------------------------------------------------ training -----------------


def _param_groups(model, params: EncoderParams) -> list[dict]:
    decay, no_decay, head = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("head."):
            head.append(p)
        elif p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": decay, "lr": params.learning_rate, "weight_decay": params.weight_decay},
        {"params": no_decay, "lr": params.learning_rate, "weight_decay": 0.0},
        {"params": head, "lr": params.head_learning_rate, "weight_decay": 0.0},
    ]


def _seed_everything(seed: int) -> None:
    import random

    torch = _torch()
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def fine_tune(
    base_dir: Path,
    docs: Sequence[str],
    labels: np.ndarray,
    valid_docs: Sequence[str] | None = None,
    valid_labels: np.ndarray | None = None,
    params: EncoderParams | None = None,
    *,
    epochs: float | None = None,
    progress: bool | None = None,
    desc: str = "fine-tune",
    cache: LowerCache | None = None,
):
    """Fine-tune the encoder in base_dir on (docs, labels); returns the classifier (eval mode).

    labels: 1 = state-linked, 0 = control. With validation data, checks `evals_per_epoch` times
    an epoch and stops after `patience` checks without a lower (class-weighted) validation loss,
    restoring the best weights. `epochs` (may be fractional) overrides params.epochs: the final
    model trains for the fold models' mean best. With `trainable_layers` and `cache_frozen`,
    the frozen layers' output comes from `cache` (a LowerCache for base_dir; one is made when
    not given) instead of being recomputed every step. The result carries `.settings`
    (prefix, max_length, training record) and `.tokenizer`.
    """
    from transformers import get_scheduler

    torch = _torch()
    params = params or EncoderParams()
    params, device = _setup(params)
    labels = np.asarray(labels).astype(int)
    if len(docs) != len(labels):
        raise InputError(f"fine_tune got {len(docs)} documents and {len(labels)} labels.")
    if len(np.unique(labels)) < 2:
        raise InputError("fine_tune needs training accounts of both classes.")
    t0 = time.perf_counter()
    _seed_everything(params.seed)

    keep = stratified_cap(labels, params.max_train_accounts, params.seed)
    docs = [docs[i] for i in keep]
    labels = labels[keep]
    has_valid = valid_docs is not None and valid_labels is not None and len(valid_docs) > 0
    if has_valid:
        valid_labels = np.asarray(valid_labels).astype(int)
        vkeep = stratified_cap(valid_labels, params.max_valid_accounts, params.seed + 1)
        valid_docs = [valid_docs[i] for i in vkeep]
        valid_labels = valid_labels[vkeep]

    encoder, tokenizer = load_base(Path(base_dir))
    prefix = text_prefix(Path(base_dir))
    torch.manual_seed(params.seed)  # the head's initial weights, whatever loading consumed
    model = EncoderClassifier(encoder, params.dropout, params.pooling)
    fixed = _freeze(model, params)
    k = frozen_layers(model, params)
    model.to(device)
    _train_mode(model, fixed)

    ids = tokenize(tokenizer, docs, prefix, params.max_length)
    vids = tokenize(tokenizer, valid_docs, prefix, params.max_length) if has_valid else []
    pad = tokenizer.pad_token_id
    use_cache = k is not None and params.cache_frozen
    if use_cache:
        cache = cache or LowerCache(base_dir, k)
        if cache.key != LowerCache(base_dir, k).key:
            raise InputError(f"the frozen-layer cache was made for {cache.key}, not {(str(Path(base_dir).resolve()), k)}.")
        cache_before = cache.seconds
        cache.fill(model, [*ids, *vids], pad, params.eval_batch_size, device)
    weights = torch.tensor(example_weights(labels, params.class_weight), device=device)
    y = torch.tensor(labels, dtype=torch.float32, device=device)
    vweights = example_weights(valid_labels, params.class_weight) if has_valid else None

    def logits_of(chunk_ids):
        if use_cache:
            hidden, mask = cache.batch(chunk_ids, device)
            return model.upper(hidden, mask, k)
        input_ids, mask = pad_batch(chunk_ids, pad, device)
        return model(input_ids, mask)

    n = len(ids)
    lengths = [len(x) for x in ids]
    batches_per_epoch = math.ceil(n / params.batch_size)
    accum = params.grad_accum_steps
    steps_per_epoch = math.ceil(batches_per_epoch / accum)
    n_epochs = float(params.epochs if epochs is None else epochs)
    total = max(1, int(round(n_epochs * steps_per_epoch)))
    opt = torch.optim.AdamW(_param_groups(model, params))
    sched = get_scheduler(params.scheduler, opt, num_warmup_steps=int(params.warmup_ratio * total),
                          num_training_steps=total)
    eval_every = max(1, math.ceil(steps_per_epoch / params.evals_per_epoch))
    gen = np.random.default_rng(params.seed)
    trained = [p for g in opt.param_groups for p in g["params"]]

    def valid_loss() -> tuple[float, float | None]:
        if use_cache:
            model.eval()
            with torch.inference_mode():
                logits = np.concatenate([logits_of(vids[a : a + params.eval_batch_size]).float().cpu().numpy()
                                         for a in range(0, len(vids), params.eval_batch_size)])
        else:
            logits = _logits(model, vids, pad, params.eval_batch_size, device, device == "cuda")
        _train_mode(model, fixed)
        p = np.clip(expit(logits), 1e-7, 1 - 1e-7)
        losses = -(valid_labels * np.log(p) + (1 - valid_labels) * np.log(1 - p))
        return float((vweights * losses).mean()), roc_auc_or_none(valid_labels, logits)

    def state_copy() -> dict:
        # Frozen weights are the base model's: no copy needed to restore them.
        return {name: v.detach().to("cpu", copy=True) for name, v in model.named_parameters() if v.requires_grad}

    history: list[dict[str, Any]] = []
    best = {"loss": math.inf, "step": 0, "state": None, "auc": None}
    bad = 0
    step = 0
    train_losses: list[float] = []
    stop = False
    t_loop, c_loop = time.perf_counter(), time.process_time()
    eval_seconds = eval_cpu = 0.0
    seen = 0
    padded_tokens = real_tokens = 0
    with _progress(total, desc, progress) as advance:
        while step < total and not stop:
            epoch = batches(gen, lengths, params.batch_size, params.length_bucketing)
            for a in range(0, len(epoch), accum):
                if step >= total:
                    break
                group = epoch[a : a + accum]
                opt.zero_grad(set_to_none=True)
                loss_sum = 0.0
                for chunk in group:
                    chunk_ids = [ids[i] for i in chunk]
                    padded_tokens += len(chunk) * max(len(x) for x in chunk_ids)
                    real_tokens += sum(len(x) for x in chunk_ids)
                    with _autocast(device, True):
                        logits = logits_of(chunk_ids)
                    loss_each = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y[chunk], reduction="none")
                    # Each batch's mean, averaged over the accumulated batches.
                    loss = (loss_each * weights[chunk]).mean() / len(group)
                    loss.backward()
                    loss_sum += float(loss.detach())
                    seen += len(chunk)
                torch.nn.utils.clip_grad_norm_(trained, 1.0)
                opt.step()
                sched.step()
                step += 1
                train_losses.append(loss_sum)
                advance(loss_sum)
                if has_valid and (step % eval_every == 0 or step == total):
                    t_eval, c_eval = time.perf_counter(), time.process_time()
                    vloss, vauc = valid_loss()
                    eval_seconds += time.perf_counter() - t_eval
                    eval_cpu += time.process_time() - c_eval
                    history.append({"step": step, "train_loss": float(np.mean(train_losses[-eval_every:])),
                                    "valid_loss": vloss, "valid_auc": vauc})
                    if vloss < best["loss"] - 1e-4:
                        best = {"loss": vloss, "step": step, "auc": vauc, "state": state_copy()}
                        bad = 0
                    else:
                        bad += 1
                        if bad >= params.patience:
                            stop = True
                            break
    train_seconds = time.perf_counter() - t_loop - eval_seconds
    # CPU seconds of the optimizer steps: on a shared machine, steadier than wall time.
    train_cpu = time.process_time() - c_loop - eval_cpu
    if best["state"] is not None and best["step"] != step:
        model.load_state_dict(best["state"], strict=False)
    best_step = best["step"] if has_valid else step
    seconds = time.perf_counter() - t0
    model.eval()
    model.tokenizer = tokenizer
    model.settings = {
        "text_prefix": prefix,
        "max_length": params.max_length,
        "dropout": params.dropout,
        "pooling": params.pooling,
        "base_dir": str(base_dir),
        "device": device,
        "train": {
            "accounts": n,
            "positives": int(labels.sum()),
            "valid_accounts": len(vids),
            "steps": step,
            "steps_per_epoch": steps_per_epoch,
            "best_step": best_step,
            "best_epochs": best_step / steps_per_epoch,
            "best_valid_loss": None if best["state"] is None else best["loss"],
            "best_valid_auc": best["auc"],
            "stopped_early": stop,
            "history": history,
            "first_losses": train_losses[:5],
            "last_losses": train_losses[-5:],
            "trainable_layers": params.trainable_layers,
            "frozen_cache": use_cache,
            "cache_seconds": round(cache.seconds - cache_before, 2) if use_cache else None,
            # Padding share of the token positions the training batches computed.
            "padding_share": round(1 - real_tokens / max(padded_tokens, 1), 4),
            "seconds": round(seconds, 2),
            "train_seconds": round(train_seconds, 2),
            "eval_seconds": round(eval_seconds, 2),
            # Training throughput (optimizer steps only: no loading, tokenising or validation).
            "accounts_per_s": round(seen / max(train_seconds, 1e-9), 2),
            "train_cpu_seconds": round(train_cpu, 2),
            "accounts_per_cpu_s": round(seen / max(train_cpu, 1e-9), 2),
        },
    }
    return model


# ------------------------------------------------------------------ out of fold --------------


def shared_cache(base_dir: Path, params: EncoderParams) -> LowerCache | None:
    """One frozen-layer cache for every model trained from base_dir with these params, or None
    where every layer trains (or caching is off)."""
    if params.trainable_layers is None or not params.cache_frozen:
        return None
    config = json.loads((Path(base_dir) / "config.json").read_text(encoding="utf-8"))
    return LowerCache(base_dir, max(0, int(config["num_hidden_layers"]) - int(params.trainable_layers)))


def score_out_of_fold(model, docs: Sequence[str], params: EncoderParams, device: str,
                      cache: LowerCache | None = None) -> np.ndarray:
    """P(state-linked) of an out-of-fold model on the documents it holds out, in its own precision.

    Why not the int8 file scoring uses: building one per fold model (ONNX export, then
    quantisation of a 366 MiB embedding table) cost ~40 s each, three times per `dvc repro`,
    and a document then scores alone. In fp32 the fold's documents go through the frozen
    layers once into `cache` (the later fold models and the final one train on them anyway),
    then through the trained top layers in length-sorted batches. The stacker therefore learns
    from fp32 scores and is evaluated on, and serves, int8 ones: int8 minus fp32 logit on the
    held-out campaign, final model, 6 layers: mean +0.10, sd 0.23 (architecture.md)."""
    torch = _torch()
    if len(docs) == 0:
        return np.zeros(0, dtype=np.float64)
    settings = model.settings
    ids = tokenize(model.tokenizer, docs, settings.get("text_prefix", ""), settings.get("max_length", params.max_length))
    k = frozen_layers(model, params)
    if cache is None or k is None or cache.key[1] != k:
        logits = _logits(model, ids, model.tokenizer.pad_token_id, params.eval_batch_size, device, device == "cuda")
        return probabilities(logits, "the encoder")
    cache.fill(model, ids, model.tokenizer.pad_token_id, params.eval_batch_size, device)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = np.empty(len(ids), dtype=np.float64)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for a in range(0, len(order), params.eval_batch_size):
            chunk = order[a : a + params.eval_batch_size]
            hidden, mask = cache.batch([ids[i] for i in chunk], device)
            out[chunk] = model.upper(hidden, mask, k).float().cpu().numpy()
    model.train(was_training)
    return probabilities(out, "the encoder")


def oof_fold_of(split_fold: np.ndarray, oof_folds: int) -> np.ndarray:
    """The out-of-fold model each split fold belongs to (fold % oof_folds; -1 stays -1)."""
    f = np.asarray(split_fold).astype(int)
    return np.where(f < 0, -1, f % oof_folds)


def _validation_fold(split_fold: np.ndarray, oof_fold: np.ndarray, k: int) -> int | None:
    """One whole split fold among model k's training folds, rotating with k, for early stopping."""
    candidates = sorted({int(f) for f, o in zip(split_fold, oof_fold) if o >= 0 and o != k})
    return candidates[k % len(candidates)] if len(candidates) > 1 else None


def _docs_for(frame: pd.DataFrame, docs) -> list[str]:
    if isinstance(docs, Mapping):
        missing = [u for u in frame["userid"] if u not in docs]
        if missing:
            raise InputError(f"no document for {len(missing)} accounts (e.g. {missing[0]}).")
        return [docs[u] for u in frame["userid"]]
    docs = list(docs)
    if len(docs) != len(frame):
        raise InputError(f"{len(docs)} documents for {len(frame)} accounts.")
    return docs


def train_encoder_oof(
    frame: pd.DataFrame, docs, base_dir: Path, params: EncoderParams, out_dir: Path,
    *, progress: bool | None = None, record: dict | None = None,
) -> tuple[np.ndarray, Path]:
    """Out-of-fold scores for the training accounts of `frame`, and the final model saved to out_dir.

    frame: one row per account with userid, label and the split's `fold` (-1 = held out: never
    trained on, score NaN). docs: userid -> document, or a list aligned with frame. Returns
    scores aligned with frame's rows. `record`, when given, receives the per-model training
    records and the fold bookkeeping (which accounts each model trained on and scored).
    """
    labels = (frame["label"].to_numpy() == "state_linked").astype(int)
    split_fold = frame["fold"].to_numpy().astype(int)
    texts = _docs_for(frame, docs)
    p_dev, device = _setup(params)
    fold = oof_fold_of(split_fold, p_dev.oof_folds)
    present = sorted(k for k in set(fold.tolist()) if k >= 0)
    if len(present) < 2:
        raise InputError("out-of-fold training needs training accounts in at least two folds.")
    oof = np.full(len(frame), np.nan)
    runs: list[dict[str, Any]] = []
    cache = shared_cache(base_dir, p_dev)
    for k in present:
        val_split_fold = _validation_fold(split_fold, fold, k)
        is_val = (split_fold == val_split_fold) if val_split_fold is not None else np.zeros(len(frame), bool)
        tr = np.flatnonzero((fold >= 0) & (fold != k) & ~is_val)
        va = np.flatnonzero(is_val)
        te = np.flatnonzero(fold == k)
        p_k = params.model_copy(update={"seed": params.seed + 1000 * (k + 1)})
        model = fine_tune(
            base_dir, [texts[i] for i in tr], labels[tr], [texts[i] for i in va], labels[va], p_k,
            progress=progress, desc=f"encoder fold {k + 1}/{len(present)}", cache=cache,
        )
        t0 = time.perf_counter()
        oof[te] = score_out_of_fold(model, [texts[i] for i in te], p_dev, device, cache)
        runs.append({
            "model": k,
            "split_folds": sorted({int(f) for f in split_fold[fold == k]}),
            "validation_split_fold": val_split_fold,
            "trained_on": frame["userid"].to_numpy()[tr].tolist(),  # before the max_train_accounts cap
            "validated_on": frame["userid"].to_numpy()[va].tolist(),
            "scored": frame["userid"].to_numpy()[te].tolist(),
            "score_seconds": round(time.perf_counter() - t0, 2),
            "oof_auc": roc_auc_or_none(labels[te], oof[te]),
            **model.settings["train"],
        })
        del model
    best_epochs = float(np.mean([r["best_epochs"] for r in runs]))
    # At least one evaluation interval's worth of training, whatever the folds said.
    final_epochs = max(best_epochs, 1.0 / p_dev.evals_per_epoch)
    tr_all = np.flatnonzero(fold >= 0)
    final = fine_tune(base_dir, [texts[i] for i in tr_all], labels[tr_all], None, None, params,
                      epochs=final_epochs, progress=progress, desc="encoder final", cache=cache)
    final.settings["train"]["epochs_from_folds"] = final_epochs
    save_classifier(final, final.tokenizer, out_dir)
    if p_dev.fast_inference:
        # The file CPU scoring uses (evaluate and `statelink score` alike), built once here.
        build_int8(final, _calibration(texts, labels, tr_all, p_dev), Path(out_dir) / FAST_FILE)
    if record is not None:
        record["folds"] = runs
        record["final"] = final.settings["train"]
        record["device"] = device
    return oof, Path(out_dir)


# ------------------------------------------------------------------ formats ------------------


def _calibration(texts: Sequence[str], labels: np.ndarray, rows: np.ndarray, params: EncoderParams) -> list[str]:
    """The fast path's smoothing statistics come from these training documents (see fast.py)."""
    return calibration_sample([texts[i] for i in rows], labels[rows], params.fast_calibration_docs, params.seed)


def save_classifier(model, tokenizer, out_dir: Path) -> Path:
    """Write the classifier folder (see the module docstring) atomically; returns out_dir."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with staged_dir(out_dir) as tmp:
        model.encoder.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        head = {k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}
        save_file(head, str(tmp / HEAD_FILE), metadata={"format": "pt"})
        settings = dict(getattr(model, "settings", {}))
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "hidden_size": int(model.encoder.config.hidden_size),
            # "mean": over attention_mask of last_hidden_state; "cls": its first token.
            "pooling": settings.get("pooling", "mean"),
            "head": {"file": HEAD_FILE, "weight": list(head["weight"].shape), "bias": list(head["bias"].shape),
                     "output": "one logit; P(state_linked) = sigmoid(logit)"},
            "text_prefix": settings.get("text_prefix", ""),
            "max_length": settings.get("max_length", 128),
            "dropout": settings.get("dropout", 0.1),
            "settings": {k: v for k, v in settings.items() if k not in ("text_prefix", "max_length", "dropout", "pooling")},
        }
        (tmp / CLASSIFIER_JSON).write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n",
                                           encoding="utf-8")
    return out_dir


def load_classifier(model_dir: Path, device: str = "cpu"):
    """(classifier in eval mode, tokenizer) from a folder written by save_classifier."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    meta_path = model_dir / CLASSIFIER_JSON
    if not meta_path.is_file():
        raise InputError(f"{model_dir} has no {CLASSIFIER_JSON}; it was not written by save_classifier.")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{meta_path} is format {meta.get('format')} v{meta.get('format_version')}, "
                         f"expected {FORMAT} v{FORMAT_VERSION}.")
    encoder, tokenizer = load_base(model_dir)
    # Folders written before pooling was a choice describe mean pooling in words.
    pooling = meta.get("pooling") if meta.get("pooling") in ("mean", "cls") else "mean"
    model = EncoderClassifier(encoder, meta.get("dropout", 0.1), pooling)
    model.head.load_state_dict(load_file(str(model_dir / HEAD_FILE)))
    model.settings = {"text_prefix": meta["text_prefix"], "max_length": meta["max_length"],
                      "dropout": meta.get("dropout", 0.1), "pooling": pooling, **meta.get("settings", {})}
    model.tokenizer = tokenizer
    return model.to(device).eval(), tokenizer


def predict(model_dir: Path, docs: Sequence[str], batch_size: int = 64, fast: bool = True,
            device: str = "auto", threads: int | None = None) -> np.ndarray:
    """P(state-linked) per document from a saved classifier.

    fast on CPU: the folder's int8 ONNX file (written by train_encoder_oof), `threads` documents
    at a time; a folder without one is refused. fast on CUDA: bf16.
    """
    torch = _torch()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model_dir = Path(model_dir)
    if fast and device == "cpu":
        return load_int8(model_dir, threads or 1)(docs)
    if threads:
        torch.set_num_threads(threads)
    model, tokenizer = load_classifier(model_dir, device)
    return predict_model(model, tokenizer, docs, batch_size, fast=fast and device == "cuda", device=device)
