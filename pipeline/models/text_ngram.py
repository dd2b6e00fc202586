"""The fitted text feature: a character n-gram TF-IDF logistic score of each account's document.

Character n-grams need no word segmentation, so Simplified and Traditional Chinese, English
and anything else are read alike. The vectoriser is a hashing one (no vocabulary to store or
to leak), with IDF weights and the logistic model fitted on training accounts only. The
score of a training account is out of fold (fitted without its fold), so LightGBM never
trains on a score that saw its own label; held-out and scored accounts get the model fitted
on all training accounts. Saved as plain arrays (`np.savez`, loaded without pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from pipeline.config import TextNgramParams
from pipeline.io import atomic_path

FEATURE = "text_ngram_score"
FILE = "text_ngram.npz"


def _vectoriser(p: TextNgramParams):
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer="char", ngram_range=(p.ngram_min, p.ngram_max), n_features=2 ** p.hash_bits,
                             alternate_sign=False, norm=None, lowercase=True, dtype=np.float32)


def counts(docs, p: TextNgramParams) -> sp.csr_matrix:
    """Hashed n-gram counts of documents: computed once, then sliced for every fold's fit."""
    return _vectoriser(p).transform([d or "" for d in docs]).tocsr()


# Below this many documents one process is faster than forking workers.
PARALLEL_MIN_DOCS = 4000


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

        The char analyzer runs in Python (~1.3 ms per 3,000-character document), so large
        inputs are scored in `jobs` forked processes (default: up to 2 CPUs). Each row's score
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
    """Each document scored by a model fitted on the other folds."""
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
