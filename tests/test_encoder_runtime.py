"""pipeline.encoder.runtime: the document helpers fine-tuning and the int8 fast path share."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pipeline.encoder.runtime import cpu_threads, pad_batch, probabilities, stratified_cap, tokenize
from pipeline.errors import StatelinkError


class _Tokenizer:
    """Records what it was asked; one id per character, so truncation is easy to see."""

    def __call__(self, texts, truncation, max_length, padding):
        self.call = (list(texts), truncation, max_length, padding)
        return {"input_ids": [[ord(c) for c in t][:max_length] for t in texts]}


def test_tokenize_prefixes_cuts_and_does_not_pad():
    tok = _Tokenizer()
    assert tokenize(tok, ["ab", "cdef"], "q:", 4) == [[113, 58, 97, 98], [113, 58, 99, 100]]
    assert tok.call == (["q:ab", "q:cdef"], True, 4, False)


def test_pad_batch_pads_right_and_masks_the_padding():
    torch = pytest.importorskip("torch")
    ids, mask = pad_batch([[5, 6, 7], [8], np.array([9, 10])], pad_id=1)
    assert ids.dtype == mask.dtype == torch.long
    assert ids.tolist() == [[5, 6, 7], [8, 1, 1], [9, 10, 1]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]


def test_cpu_threads_restores_the_count():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_stratified_cap_keeps_classes_in_proportion():
    y = np.array([1] * 10 + [0] * 90)
    keep = stratified_cap(y, 20, seed=3)
    assert len(keep) == 20 and (np.diff(keep) > 0).all()
    assert y[keep].sum() == 2
    np.testing.assert_array_equal(stratified_cap(y, 20, seed=3), keep)
    rare = np.array([1] + [0] * 99)
    assert rare[stratified_cap(rare, 10, seed=0)].sum() == 1  # at least one of each class
    np.testing.assert_array_equal(stratified_cap(y, None, seed=0), np.arange(100))
    np.testing.assert_array_equal(stratified_cap(y, 500, seed=0), np.arange(100))


def test_probabilities_are_the_sigmoid_and_refuse_non_finite_logits():
    x = np.linspace(-40, 40, 10_001)
    np.testing.assert_allclose(probabilities(x, "m"), 1.0 / (1.0 + np.exp(-x)), rtol=0, atol=1e-12)
    with pytest.raises(StatelinkError, match="m produced non-finite scores"):
        probabilities(np.array([0.0, np.nan]), "m")


def test_loading_the_int8_scorer_loads_no_model_library(tmp_path):
    """The scoring path builds its tokenizer from tokenizer.json: neither transformers nor torch
    is imported to load a model folder's int8 scorer (they cost ~7 s of a model's load)."""
    pytest.importorskip("transformers")
    from pipeline.encoder.tiny import build_tiny_encoder

    folder = build_tiny_encoder(tmp_path / "tiny")
    code = ("import sys; from pipeline.encoder.fast import DocTokenizer, TOKENIZER_FILE; from pathlib import Path; "
            f"t = DocTokenizer(Path({str(folder)!r}) / TOKENIZER_FILE); t(['ab'], True, 8, False); "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_importing_the_scoring_modules_loads_no_model_library():
    """The int8 scorer (and Spark executors unpickling it) need not pay for torch at import."""
    code = ("import sys, pipeline.encoder.runtime, pipeline.encoder.fast; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
