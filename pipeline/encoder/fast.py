"""The encoder's CPU fast path: the classifier as a smoothed, int8 ONNX Runtime graph.

    build_int8(model, calibration_docs, out)   fine-tuned classifier -> int8 ONNX file
    OnnxClassifier(out).predict(docs, tokenizer) -> P(state-linked), one document per run

Why ONNX Runtime and not torch's dynamic int8: on this CPU, ORT's int8 kernels run the
whole encoder at ~2.2x torch fp32 where torch's int8 path gave ~1.2x (bench/encoder.py;
bench/prototypes/onnx_fast.md holds the measurements that chose this configuration).

What the file is (`build_int8`):
1. The whole classifier (encoder -> mean pool over the attention mask -> Linear -> one logit)
   is exported with eager attention (plain MatMul/Softmax) by the TorchScript exporter, so
   pooling and head cannot drift from `EncoderClassifier.forward`; the export is checked
   against torch on a batch shaped unlike the trace before it is used.
2. SmoothQuant (Xiao et al. 2023) on both feed-forward projections of every layer: one
   input channel runs 10-60x larger than the median (measured on e5-small), so a single
   int8 activation scale would waste its range on it. Channels are divided by
   s = amax(x)^a / amax(W)^(1-a) and the weight rows multiplied by s: the same fp32 function,
   with the range moved into weights that are quantised per output column. The statistics
   come from training documents (never the documents to be scored).
3. Dynamic int8 (per-channel QInt8 weights) of every projection: Q/K/V, attention output,
   FFN in and out. The word-embedding table is stored in 8 bits too (uint8, one scale and
   zero point for the table, as ORT quantises a Gather's data; a looked-up row is
   dequantised). It is 366 of the fp32 file's 448 MiB, so the file shrinks from 388 to
   113 MiB and the session loads in ~0.6 s instead of ~1.3 s, at no measured cost (final
   classifier, held-out campaign: PR-AUC 0.9716 -> 0.9726, ROC-AUC 0.9758 -> 0.9760).
   Position and type embeddings and the head stay fp32.

Scores: one document per run. Dynamic int8 takes one activation scale per tensor, so in a
batch a document's score would depend on its batch-mates (measured up to 0.076); alone it is
the same wherever and with whatever it is scored. Runs are spread over threads, each run on
one core, so two cores score two documents at once.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pipeline.encoder.runtime import cpu_threads, pad_batch, probabilities, stratified_cap, tokenize
from pipeline.errors import InputError, StatelinkError
from pipeline.io import atomic_path

FAST_FILE = "int8.onnx"
TOKENIZER_FILE = "tokenizer.json"  # a fast tokenizer's whole definition, as transformers saves it
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logit"
OPSET = 17
META_KEY = "statelink"
# Largest |logit| difference accepted between the exported fp32 graph and torch.
EXPORT_TOLERANCE = 1e-3
# SmoothQuant's migration strength; 0.5 measured best (ROC-AUC change 0.0018 vs 0.0020 at 0.75).
ALPHA = 0.5
# The Linear layers smoothed: their inputs (attention LayerNorm output; GELU output) carry the
# outlier channels. Q/K/V and the attention output have none worth the trouble (measured).
SMOOTHED = ("intermediate.dense", "output.dense")


def _session(path_or_bytes: Path | bytes, threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    # Spinning worker threads steal the core another job (or our other run) needs.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    src = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


# ------------------------------------------------------------------ export -------------------


def _dummy_inputs(pad_id: int, max_length: int):
    """Two documents, one padded: with no padding in the trace, transformers may skip the mask."""
    return pad_batch([[5] * max_length, [6] * max(2, max_length // 2)], pad_id)


def _check_inputs(pad_id: int, max_length: int, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch shaped unlike the trace (3 rows, other width), to catch shapes baked into the graph."""
    width = max(3, max_length // 2 + 3)
    rng = np.random.default_rng(0)
    ids, mask = pad_batch([rng.integers(5, min(1000, vocab), n) for n in (width, 3, width - 1)], pad_id)
    return ids.numpy(), mask.numpy()


def _linear_input_absmax(model, ids: Sequence[Sequence[int]]) -> dict[str, object]:
    """Per-channel max |input| of each layer's SMOOTHED Linear layers over the documents."""
    import torch

    targets = {f"{k}.{name}": layer.get_submodule(name)
               for k, layer in enumerate(model.encoder.encoder.layer) for name in SMOOTHED}
    amax = {key: torch.zeros(mod.in_features) for key, mod in targets.items()}

    def hook(key):
        def f(_mod, inp, _out):
            x = inp[0].detach().abs().reshape(-1, inp[0].shape[-1]).float().cpu()
            amax[key] = torch.maximum(amax[key], x.amax(0))
        return f

    handles = [mod.register_forward_hook(hook(key)) for key, mod in targets.items()]
    try:
        with torch.inference_mode():
            for x in ids:  # one document per forward: no padding rows in the statistics
                t = torch.tensor([list(x)], dtype=torch.long)
                model(t, torch.ones_like(t))
    finally:
        for h in handles:
            h.remove()
    return amax


@functools.cache
def _inv_scale_class():
    import torch

    class InvScale(torch.nn.Module):
        """x * inv, inv a constant per-channel vector (exports as one Mul)."""

        def __init__(self, inv) -> None:
            super().__init__()
            self.register_buffer("inv", inv)

        def forward(self, x):
            return x * self.inv

    return InvScale


def _smoothed_linear(dense, act_absmax, alpha: float):
    """dense as Sequential(x * 1/s, Linear with W * s): the same function, in fp32."""
    import torch

    w_absmax = dense.weight.detach().abs().amax(0).clamp(min=1e-5)  # per input channel
    s = (act_absmax.clamp(min=1e-5) ** alpha / w_absmax ** (1 - alpha)).clamp(min=1e-5)
    scaled = torch.nn.Linear(dense.in_features, dense.out_features)
    with torch.no_grad():
        scaled.weight.copy_(dense.weight * s[None, :])
        scaled.bias.copy_(dense.bias)
    return torch.nn.Sequential(_inv_scale_class()(1.0 / s), scaled)


def smooth_linears(model, ids: Sequence[Sequence[int]], alpha: float = ALPHA):
    """The classifier with each layer's SMOOTHED Linear layers smoothed on these documents (in place)."""
    amax = _linear_input_absmax(model, ids)
    for k, layer in enumerate(model.encoder.encoder.layer):
        for name in SMOOTHED:
            parent, attr = name.rsplit(".", 1)
            owner = layer.get_submodule(parent)
            setattr(owner, attr, _smoothed_linear(getattr(owner, attr), amax[f"{k}.{name}"], alpha))
    return model


def _set_metadata(path: Path, meta: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    model.metadata_props.add(key=META_KEY, value=json.dumps(meta))
    onnx.save(model, str(path))


def export_onnx(model, out_path: Path, calibration_docs: Sequence[str], alpha: float = ALPHA) -> dict:
    """Export a smoothed fp32 copy of the in-memory classifier to out_path; returns its metadata.

    The model itself is not changed (a CPU copy is smoothed and exported).
    """
    import torch

    tok = model.tokenizer
    settings = dict(getattr(model, "settings", {}))
    prefix, max_length = settings.get("text_prefix", ""), int(settings.get("max_length", 128))
    work = copy.deepcopy(model, memo={id(tok): tok}).cpu().eval()
    # Eager attention exports as plain MatMul/Softmax (sdpa would need its own pattern).
    work.encoder.set_attn_implementation("eager")
    cfg = work.encoder.config
    pad_id = int(tok.pad_token_id)
    meta = {
        "format": "statelink-encoder-int8", "num_layers": int(cfg.num_hidden_layers),
        "hidden_size": int(cfg.hidden_size), "intermediate_size": int(cfg.intermediate_size),
        "vocab_size": int(cfg.vocab_size),
        "text_prefix": prefix, "max_length": max_length, "pad_token_id": pad_id,
        "smoothing": {"alpha": alpha, "calibration_docs": len(calibration_docs)},
    }
    # One thread: the statistics' float sums then round the same way on every machine and run.
    with cpu_threads(1):
        ids = tokenize(tok, calibration_docs, prefix, max_length)
        smooth_linears(work, ids, alpha)
        dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                   OUTPUT_NAME: {0: "batch"}}
        # The tracer warns about Python branches on shapes; _check_inputs tests the result instead.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(work, _dummy_inputs(pad_id, max_length), str(out_path), dynamo=False,
                              input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                              dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True)
        _set_metadata(Path(out_path), meta)
        ids_np, mask = _check_inputs(pad_id, max_length, int(cfg.vocab_size))
        got = _session(Path(out_path)).run(None, {"input_ids": ids_np, "attention_mask": mask})[0]
        with torch.inference_mode():
            want = work(torch.from_numpy(ids_np), torch.from_numpy(mask)).numpy()
    err = float(np.abs(got - want).max())
    if not err <= EXPORT_TOLERANCE:
        raise StatelinkError(f"the ONNX export differs from torch by {err:.2e} in logit (> {EXPORT_TOLERANCE}).")
    return meta


# ------------------------------------------------------------------ quantise -----------------


def _projection_matmuls(graph, meta: dict) -> list[str]:
    """MatMul nodes of the encoder's projections, found by their weight's shape.

    By shape, not node name, because names depend on the exporter; an explicit list so the
    head stays fp32. When hidden == intermediate size the shapes coincide and all are taken.
    """
    h, i = meta["hidden_size"], meta["intermediate_size"]
    shapes = {t.name: tuple(t.dims) for t in graph.graph.initializer}
    wanted = {(h, h), (h, i), (i, h)}
    names = [n.name for n in graph.graph.node
             if n.op_type == "MatMul" and len(n.input) > 1 and shapes.get(n.input[1]) in wanted]
    expected = 6 * meta["num_layers"]  # Q, K, V, attention output, FFN in, FFN out
    if len(names) != expected:
        raise StatelinkError(f"found {len(names)} projection MatMuls in the export, expected {expected}.")
    return names


def _word_embedding_gathers(graph, meta: dict) -> list[str]:
    """The Gather node(s) reading the word-embedding table, found by its (vocab, hidden) shape."""
    shapes = {t.name: tuple(t.dims) for t in graph.graph.initializer}
    table = (meta["vocab_size"], meta["hidden_size"])
    names = [n.name for n in graph.graph.node if n.op_type == "Gather" and shapes.get(n.input[0]) == table]
    if len(names) != 1:
        raise StatelinkError(f"found {len(names)} word-embedding lookups in the export, expected 1.")
    return names


@contextlib.contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize(fp32_path: Path, out_path: Path, meta: dict) -> None:
    """Dynamic int8 (per-channel QInt8 weights) of the projections of an `export_onnx` file,
    and the word-embedding table stored in 8 bits (module docstring, item 3)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32_path))
    include = _projection_matmuls(graph, meta)
    embeddings = _word_embedding_gathers(graph, meta) if "vocab_size" in meta else []
    del graph
    with _quiet_root_logger():  # its "consider pre-processing" advice is for static quantisation
        quantize_dynamic(str(fp32_path), str(out_path), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gather"], nodes_to_quantize=include + embeddings)
    _set_metadata(Path(out_path), {**meta, "quantized": {"weights": "QInt8 per channel", "nodes": len(include),
                                                         "word_embeddings": "8-bit per tensor" if embeddings else "fp32"}})


def build_int8(model, calibration_docs: Sequence[str], out_path: Path) -> Path:
    """Write the int8 fast-path file of an in-memory classifier to out_path, atomically."""
    if len(calibration_docs) == 0:
        raise InputError("the int8 fast path needs calibration documents (training accounts' text).")
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".int8-") as work:
        fp32 = Path(work) / "fp32.onnx"
        meta = export_onnx(model, fp32, calibration_docs)
        with atomic_path(out_path) as tmp:
            quantize(fp32, Path(tmp), meta)
            Path(tmp).chmod(0o644)  # mkstemp files are 0600; DVC's cache and MLflow copy the mode
    return out_path


def calibration_sample(docs: Sequence[str], labels: np.ndarray, n: int, seed: int) -> list[str]:
    """n training documents, both classes in proportion, chosen by seed (the smoothing statistics)."""
    return [docs[i] for i in stratified_cap(np.asarray(labels), n, seed)]


# ------------------------------------------------------------------ scoring ------------------


class OnnxClassifier:
    """P(state-linked) per document from a `build_int8` file, on CPU."""

    def __init__(self, path: Path, workers: int = 2) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path} does not exist; the encoder's int8 file is built by train_encoder.")
        self.session = _session(self.path, 1)
        raw = self.session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if raw is None:
            raise InputError(f"{self.path} has no '{META_KEY}' metadata; it was not written by build_int8.")
        self.meta = json.loads(raw)
        self.workers = max(1, int(workers))

    # Pickled with the graph's bytes (Spark ships the scorer to executors, which need not see
    # the driver's files); the session is rebuilt on arrival.
    def __getstate__(self) -> dict:
        return {"path": str(self.path), "workers": self.workers, "graph": self.path.read_bytes()}

    def __setstate__(self, state: dict) -> None:
        self.path, self.workers = Path(state["path"]), state["workers"]
        self.session = _session(state["graph"], 1)
        self.meta = json.loads(self.session.get_modelmeta().custom_metadata_map[META_KEY])

    def _one(self, ids: Sequence[int]) -> float:
        x = np.asarray([ids], dtype=np.int64)
        return float(self.session.run([OUTPUT_NAME], {"input_ids": x, "attention_mask": np.ones_like(x)})[0][0])

    def logits(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Logits of token-id lists, in order; each document alone (see the module docstring)."""
        if self.workers == 1 or len(ids) < 2:
            return np.array([self._one(x) for x in ids], dtype=np.float64)
        # ORT releases the GIL inside run(), and concurrent runs on one session are supported.
        with ThreadPoolExecutor(self.workers) as pool:
            return np.fromiter(pool.map(self._one, ids), dtype=np.float64, count=len(ids))

    def predict(self, docs: Sequence[str], tokenizer) -> np.ndarray:
        """P(state-linked) per document: prefix + document, cut at max_length tokens (as predict_model)."""
        if len(docs) == 0:
            return np.zeros(0, dtype=np.float64)
        ids = tokenize(tokenizer, docs, self.meta["text_prefix"], self.meta["max_length"])
        return probabilities(self.logits(ids), str(self.path))


class DocTokenizer:
    """A classifier folder's tokenizer (its `tokenizer.json`) run by the `tokenizers` library
    directly, called the way `runtime.tokenize` calls a transformers tokenizer.

    Why: importing transformers (and torch with it) and building an AutoTokenizer took ~7 of
    the ~10 s a model took to load; the fast tokenizer underneath is this same Rust object,
    so the ids are the same (tested on every sample document and on the tiny encoder)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.tokenizer = Tokenizer.from_file(str(self.path))
        self.tokenizer.no_padding()

    def __call__(self, texts: Sequence[str], truncation: bool = True, max_length: int | None = None,
                 padding: bool = False) -> dict[str, list[list[int]]]:
        if padding:
            raise ValueError("DocTokenizer does not pad; batches pad later (runtime.pad_batch).")
        if truncation and max_length:
            self.tokenizer.enable_truncation(int(max_length))
        else:
            self.tokenizer.no_truncation()
        return {"input_ids": [e.ids for e in self.tokenizer.encode_batch(list(texts))]}


def load_int8(folder: Path, workers: int = 2):
    """documents -> P(state-linked) from a classifier folder's int8 file, without loading torch
    or transformers (the tokenizer is `DocTokenizer`)."""
    folder = Path(folder)
    if not (folder / FAST_FILE).is_file():
        raise InputError(f"{folder} has no {FAST_FILE}, which encoder.fast_inference needs; re-run the train_encoder stage.")
    if (folder / TOKENIZER_FILE).is_file():
        tokenizer = DocTokenizer(folder / TOKENIZER_FILE)
    else:  # a slow-tokenizer folder (no tokenizer.json): transformers builds it
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder)
    clf = OnnxClassifier(folder / FAST_FILE, workers)
    return lambda docs: clf.predict(docs, tokenizer)
