"""The fitted text feature: a character n-gram TF-IDF logistic score of each account's document.

Character n-grams need no word segmentation, so Simplified and Traditional Chinese, English
and anything else are read alike. The vectoriser is a hashing one (no vocabulary to store or
to leak), with IDF weights and the logistic model fitted on training accounts only. No
training account's score saw its own label (`training_scores`); held-out and scored accounts
get the model fitted on all training accounts. Saved as plain arrays (`np.savez`, loaded
without pickle).

The score LightGBM *trains* on is cross-campaign where it can be (`training_scores`): out of
fold inside a campaign, the score shares the campaign's topics and wording with the account
it scores, so it separated the training accounts almost perfectly (ROC-AUC 1.000 on both
training campaigns) and LightGBM gave it ~79 % of its gain; on a campaign or a world it never
saw, the score ranks less well and LightGBM over-trusted it. Each training account's score
comes from a model fitted on the *other* campaigns, so LightGBM learns how far the wording
of one operation carries to another, as it will have to on a new dump; out of fold (fitted
without its fold) only where the campaigns leave no choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit

from pipeline.config import TextNgramParams
from pipeline.io import atomic_path

FEATURE = "text_ngram_score"
FILE = "text_ngram.npz"


# sklearn's HashingVectorizer (`sklearn_counts`) is the definition of the counts below
# (tests/test_text_features.py holds them equal to it, matrix for matrix). Its char analyzer
# builds a Python string per n-gram and hashes each in turn, ~240 ns an n-gram: most of the
# LightGBM step of scoring a 10M-tweet dump. Here each distinct n-gram is hashed once, on
# arrays, and (row, column) pairs are counted by sorting: ~50 ns an n-gram.
_WHITE_SPACES = re.compile(r"\s\s+")  # the analyzer's own whitespace folding, as it does it
# Characters hashed per block: bounds the arrays (~60 bytes an n-gram) whatever the input size.
_CHUNK_CHARS = 1 << 20
_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_MASK32 = np.uint64(0xFFFFFFFF)


def _prepared(doc: str) -> str:
    return _WHITE_SPACES.sub(" ", doc.lower())


def _utf8(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each code point's UTF-8 bytes, packed little-endian in a uint64, and how many there are."""
    cp = cp.astype(np.uint64)
    n = 1 + (cp >= 0x80) + (cp >= 0x800) + (cp >= 0x10000)
    cont = lambda shift: np.uint64(0x80) | ((cp >> np.uint64(shift)) & np.uint64(0x3F))  # noqa: E731
    packed = np.select(
        [n == 1, n == 2, n == 3],
        [cp,
         (np.uint64(0xC0) | (cp >> np.uint64(6))) | cont(0) << np.uint64(8),
         (np.uint64(0xE0) | (cp >> np.uint64(12))) | cont(6) << np.uint64(8) | cont(0) << np.uint64(16)],
        (np.uint64(0xF0) | (cp >> np.uint64(18))) | cont(12) << np.uint64(8) | cont(6) << np.uint64(16) | cont(0) << np.uint64(24))
    return packed, n.astype(np.uint64)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _murmur3_32(lo: np.ndarray, hi: np.ndarray, length: np.ndarray) -> np.ndarray:
    """MurmurHash3_x86_32, seed 0 (sklearn's murmurhash3_32), of byte strings of up to 12
    bytes: bytes 0-7 little-endian in `lo`, 8-11 in `hi`, zero past `length`."""
    length = length.astype(np.uint32)
    full, tail = length // np.uint32(4), length % np.uint32(4)
    h = np.zeros(len(lo), np.uint32)
    with np.errstate(over="ignore"):
        for j, block in enumerate(((lo & _MASK32), (lo >> np.uint64(32)), (hi & _MASK32))):
            k = _rotl(block.astype(np.uint32) * _C1, 15) * _C2
            mixed = h ^ k
            # A whole block also rotates and adds; the tail (zero-padded, so the block itself) only xors.
            h = np.where(full > j, _rotl(mixed, 13) * np.uint32(5) + np.uint32(0xE6546B64),
                         np.where((full == j) & (tail > 0), mixed, h))
        h ^= length
        for shift, mult in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
            h ^= h >> np.uint32(shift)
            h *= np.uint32(mult)
        h ^= h >> np.uint32(16)
    return h.view(np.int32)


def _columns(packed: np.ndarray, nbytes: np.ndarray, n_features: int) -> np.ndarray:
    """Hashed column of each n-gram: rows of `packed`/`nbytes` are its n characters' UTF-8."""
    lo = np.zeros(len(packed), np.uint64)
    hi = np.zeros(len(packed), np.uint64)
    off = np.zeros(len(packed), np.uint64)
    for j in range(packed.shape[1]):
        b, nb = packed[:, j], nbytes[:, j]
        in_lo = off < 8
        shift = np.where(in_lo, off, 0) * np.uint64(8)
        lo |= np.where(in_lo, b << shift, 0).astype(np.uint64)
        # Bytes that cross from byte 7 into byte 8, and whole characters past byte 8.
        spill = np.where(in_lo & (off + nb > 8), b >> (np.uint64(64) - np.where(in_lo & (shift > 0), shift, 8)), 0)
        hi |= np.where(in_lo, spill, b << ((off - np.where(in_lo, off, 8)) * np.uint64(8))).astype(np.uint64)
        off += nb
    h = _murmur3_32(lo, hi, off).astype(np.int64)
    # As sklearn's _hashing_fast: abs(h) % n_features, with abs(-2**31) defined its way.
    return np.where(h == -(2 ** 31), (2 ** 31 - 1 - (n_features - 1)) % n_features, np.abs(h) % n_features)


def _block_counts(texts: list[str], p: TextNgramParams) -> sp.csr_matrix:
    """`counts` of prepared texts: each distinct n-gram hashed once, (row, column) pairs
    counted by sorting them."""
    n_features = 2 ** p.hash_bits
    lens = np.fromiter(map(len, texts), np.int64, len(texts))
    cp = np.frombuffer("".join(texts).encode("utf-32-le"), np.uint32).astype(np.int64)
    row = np.repeat(np.arange(len(texts), dtype=np.int64), lens)
    left = np.repeat(np.cumsum(lens), lens) - np.arange(len(cp))  # characters from here to the row's end
    keys = []
    for n in range(p.ngram_min, min(p.ngram_max, len(cp)) + 1):
        m = len(cp) - n + 1  # n-grams start at positions 0..m-1, those that stay inside their row
        ok = left[:m] >= n
        # The n code points (21 bits each, n <= 3) as one integer: a key per distinct n-gram.
        key = cp[:m].copy()
        for j in range(1, n):
            key |= cp[j:m + j] << (21 * j)
        codes, uniq = pd.factorize(key[ok])
        chars = np.stack([(uniq >> (21 * j)) & 0x1FFFFF for j in range(n)], axis=1)
        packed, nbytes = _utf8(chars.ravel())
        cols = _columns(packed.reshape(chars.shape), nbytes.reshape(chars.shape), n_features)
        keys.append((row[:m][ok] << p.hash_bits) | cols[codes])
    pairs = np.sort(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    starts = np.flatnonzero(np.diff(pairs, prepend=-1))
    first = pairs[starts]
    data = np.diff(np.append(starts, len(pairs))).astype(np.float32)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(first >> p.hash_bits, minlength=len(texts)))])
    return sp.csr_matrix((data, (first & (n_features - 1)).astype(np.int32), indptr), shape=(len(texts), n_features))


def sklearn_counts(docs, p: TextNgramParams) -> sp.csr_matrix:
    """`counts` by sklearn's vectoriser: the definition, and the path for n-grams past three
    characters (which do not fit the arrays' 63-bit keys)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    v = HashingVectorizer(analyzer="char", ngram_range=(p.ngram_min, p.ngram_max), n_features=2 ** p.hash_bits,
                          alternate_sign=False, norm=None, lowercase=True, dtype=np.float32)
    m = v.transform([d or "" for d in docs]).tocsr()
    m.sort_indices()
    return m


def counts(docs, p: TextNgramParams) -> sp.csr_matrix:
    """Hashed n-gram counts of documents: computed once, then sliced for every fold's fit.
    A row's columns are sorted and distinct, as sklearn's vectoriser leaves them."""
    if p.ngram_max > 3:
        return sklearn_counts(docs, p)
    texts = [_prepared(d or "") for d in docs]
    blocks, start, size = [], 0, 0
    for i, t in enumerate(texts):
        size += len(t)
        if size >= _CHUNK_CHARS:
            blocks.append(_block_counts(texts[start:i + 1], p))
            start, size = i + 1, 0
    if start < len(texts) or not blocks:
        blocks.append(_block_counts(texts[start:], p))
    return blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")


# Below this many documents one process is as fast as forking workers (20,000 sample
# documents: 3.5 s in one process, 2.1 s in two; 4,000: 0.54 and 0.58 s).
PARALLEL_MIN_DOCS = 8000


def _workers(n_docs: int, jobs: int | None) -> int:
    """Worker processes for scoring n_docs: forked ones only (Linux), so they share the
    parent's already-imported code (an MLflow model's own copy of pipeline/ included)."""
    import multiprocessing as mp

    from pipeline.duck import available_cores

    # Every core this process may use (its affinity, or STATELINK_THREADS), as the encoder does.
    jobs = jobs or available_cores()
    if jobs < 2 or n_docs < PARALLEL_MIN_DOCS or "fork" not in mp.get_all_start_methods():
        return 1
    return jobs


def _score_docs(model: "NgramModel", docs: list[str]) -> np.ndarray:
    return model.score_counts(counts(docs, model.params), _has_text(docs))


# What forked scoring workers read: inherited from the parent at fork, so the documents are
# never pickled to them (that cost as much as half the work).
_FORKED: tuple["NgramModel", list[str]] | None = None


def _score_slice(a: int, b: int) -> np.ndarray:
    model, docs = _FORKED
    return _score_docs(model, docs[a:b])


def _weighted(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear TF x IDF, L2-normalised rows (a document with no text stays all zero)."""
    from sklearn.preprocessing import normalize

    x = counts.copy()
    x.data = 1.0 + np.log(x.data)
    x = x @ sp.diags(idf.astype(np.float32))
    return normalize(x, norm="l2", copy=False)


@dataclass
class NgramModel:
    params: TextNgramParams
    idf: np.ndarray  # float32, one per hashed n-gram
    coef: np.ndarray  # float32
    intercept: float

    def score(self, docs, jobs: int | None = None) -> np.ndarray:
        """Probability-like score per document; NaN where the document is empty.

        Counting takes ~0.1 ms per 1,000-character document, so large inputs are scored in
        `jobs` forked processes (default: every core the process may use). Each row's score
        depends on its document alone, so the split does not change any value.
        """
        docs = [d or "" for d in docs]
        workers = _workers(len(docs), jobs)
        if workers == 1:
            return _score_docs(self, docs)
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        global _FORKED
        step = -(-len(docs) // workers)
        starts = list(range(0, len(docs), step))
        _FORKED = (self, docs)
        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                return np.concatenate(list(pool.map(_score_slice, starts, [a + step for a in starts])))
        finally:
            _FORKED = None

    def score_counts(self, c: sp.csr_matrix, has: np.ndarray) -> np.ndarray:
        """`score` from precomputed `counts`; `has` marks the documents with text."""
        return _score_counts(self, c, has)

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, idf=self.idf, coef=self.coef, intercept=np.array([self.intercept]),
                                    params=np.array([self.params.model_dump_json()]))

    @classmethod
    def load(cls, path: Path) -> "NgramModel":
        with np.load(path, allow_pickle=False) as z:
            params = TextNgramParams.model_validate_json(str(z["params"][0]))
            return cls(params, z["idf"], z["coef"], float(z["intercept"][0]))


def _fit_counts(c: sp.csr_matrix, has: np.ndarray, y: np.ndarray, p: TextNgramParams) -> NgramModel:
    from sklearn.linear_model import LogisticRegression

    c = c[has]
    n = c.shape[0]
    df = np.bincount(c.indices, minlength=c.shape[1])
    # Smoothed IDF: an n-gram no training document holds gets the largest weight and a zero
    # coefficient, so unfamiliar wording pulls a score towards the intercept. Giving it no
    # weight instead was measured (2026-12-02): the score alone ranked the held-out campaign
    # better (ROC-AUC 0.9924 -> 0.9938), and LightGBM on it flagged more of its organic
    # accounts (3.4 -> 5.2 %, precision at 1 % prevalence 0.23 -> 0.16), so it was not kept.
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    yh = np.asarray(y)[has]
    if n == 0 or len(set(yh.tolist())) < 2:
        return NgramModel(p, idf, np.zeros(c.shape[1], np.float32), 0.0)
    lr = LogisticRegression(C=p.c, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=p.seed)
    lr.fit(_weighted(c, idf), yh)
    return NgramModel(p, idf, lr.coef_.ravel().astype(np.float32), float(lr.intercept_[0]))


def _score_counts(model: NgramModel, c: sp.csr_matrix, has: np.ndarray) -> np.ndarray:
    z = _weighted(c, model.idf) @ model.coef + model.intercept
    out = expit(np.asarray(z, dtype=np.float64))
    out[~has] = np.nan
    return out


def _has_text(docs) -> np.ndarray:
    return np.array([bool(d) for d in docs], dtype=bool)


def fit_ngram(docs, y: np.ndarray, p: TextNgramParams, c: sp.csr_matrix | None = None) -> NgramModel:
    """IDF and a class-balanced L2 logistic regression on the documents that have text.

    `c`: the documents' `counts`, when the caller already has them.
    """
    docs = list(docs)
    c = counts(docs, p) if c is None else c
    return _fit_counts(c, _has_text(docs), y, p)


def oof_scores(docs, y: np.ndarray, folds: np.ndarray, p: TextNgramParams, c: sp.csr_matrix | None = None) -> np.ndarray:
    """Each document scored by a model fitted on the other groups of `folds` (folds, or campaigns)."""
    docs = list(docs)
    c = counts(docs, p) if c is None else c
    has = _has_text(docs)
    y, folds = np.asarray(y), np.asarray(folds)
    out = np.full(len(docs), np.nan)
    for k in np.unique(folds):
        va = folds == k
        model = _fit_counts(c[~va], has[~va], y[~va], p)
        out[va] = _score_counts(model, c[va], has[va])
    return out


CROSS_CAMPAIGN, OUT_OF_FOLD = "cross-campaign", "out-of-fold"


def training_scores(docs, y: np.ndarray, campaigns: np.ndarray, folds: np.ndarray, p: TextNgramParams,
                    c: sp.csr_matrix | None = None) -> tuple[np.ndarray, str]:
    """The n-gram score each training account's LightGBM learns from, and how it was made.

    Cross-campaign: each campaign's documents scored by a model fitted on all the other
    campaigns, so no account's score saw its campaign's wording (why: the module docstring).
    That needs two campaigns or more, each of whose complements holds both classes; otherwise
    out of fold over `folds` (`oof_scores`), as before.
    """
    y, campaigns = np.asarray(y), np.asarray(campaigns)
    names = np.unique(campaigns)
    if len(names) < 2 or any(len(set(y[campaigns != k].tolist())) < 2 for k in names):
        return oof_scores(docs, y, folds, p, c=c), OUT_OF_FOLD
    return oof_scores(docs, y, campaigns, p, c=c), CROSS_CAMPAIGN
