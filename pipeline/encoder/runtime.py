"""What fine-tuning (finetune.py) and the int8 fast path (fast.py) both run on documents.

    tokenize(tokenizer, docs, prefix, max_length)   prefix + document -> token ids, unpadded
    pad_batch(ids, pad_id, device)                  token-id lists -> padded ids and attention mask
    cpu_threads(n)                                  torch's intra-op threads inside a block
    stratified_cap(y, cap, seed)                    a class-proportional subsample
    probabilities(logits, source)                   logits -> P(state-linked)

It sits below both and imports nothing else from pipeline.encoder, so neither of them needs
the other for these. torch is imported where it is used: importing this module loads no model
library (the int8 scorer runs without torch's weights).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
from scipy.special import expit

from pipeline.errors import StatelinkError


def tokenize(tokenizer, docs: Sequence[str], prefix: str, max_length: int) -> list[list[int]]:
    """Token ids of prefix + document, cut at max_length tokens; unpadded (batches pad later)."""
    enc = tokenizer([prefix + d for d in docs], truncation=True, max_length=max_length, padding=False)
    return [list(ids) for ids in enc["input_ids"]]


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int, device: str = "cpu"):
    """(input_ids, attention_mask) as long tensors on device, right-padded to the longest list."""
    import torch

    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.tensor(list(x), dtype=torch.long)
        mask[i, : len(x)] = 1
    return input_ids.to(device), mask.to(device)


@contextlib.contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to n inside the block, restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def stratified_cap(y: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most `cap` examples, each class kept in proportion (at least one each)."""
    y = np.asarray(y).astype(int)
    n = len(y)
    if cap is None or n <= cap:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    keep = []
    classes = np.unique(y)
    for c in classes:
        idx = np.flatnonzero(y == c)
        k = max(1, int(round(cap * len(idx) / n)))
        keep.append(rng.permutation(idx)[:k])
    out = np.sort(np.concatenate(keep))
    return out[:cap] if len(out) > cap else out


def probabilities(logits: np.ndarray, source: str) -> np.ndarray:
    """P(state-linked) = sigmoid(logit); a non-finite logit means a broken model, so it is refused."""
    if not np.isfinite(logits).all():
        raise StatelinkError(f"{source} produced non-finite scores.")
    return expit(logits)
