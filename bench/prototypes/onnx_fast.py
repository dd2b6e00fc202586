"""ONNX Runtime CPU inference for the encoder classifier: a measured PROTOTYPE, not used by the pipeline.

Kept so the next step of issue 4 (a >= 2x fast path) starts from working, measured code:
the measurements are in bench/prototypes/onnx_fast.md. Needs `pip install onnxruntime==1.32.0
onnx==1.23.2`; nothing in pipeline/ or tests/ imports it.


Why: ONNX Runtime's dynamic int8 kernels beat torch's dynamic int8 path on this CPU, and with
SmoothQuant on the FFN projections every projection can be int8 at a small score change:
about 2x torch fp32 where torch int8 gives about 1.2x.

    export_onnx(model_dir, out, max_length, calibration_docs=train_docs)   -> fp32 ONNX, smoothed
    quantize(fp32_onnx, out)                  dynamic int8 of the encoder's projections
    OnnxClassifier(out).predict(docs, tokenizer, prefix, max_length) -> P(state-linked)

Measured (bench/prototypes/onnx_fast.md; fine-tuned e5-small, 128 tokens, 667 held-out accounts vs
torch fp32; speed on 1 thread of a shared 2-core Xeon, interleaved with torch fp32 batch 16):
    smoothed, all int8 (recommended)   2.17-2.32x  max |dP| 0.174  mean 0.022  ROC-AUC +0.0018
    unsmoothed, FFN outputs fp32       1.56-1.66x  max |dP| 0.085  mean 0.012  ROC-AUC +0.0011
    torch int8 (quantize_for_cpu)      1.11-1.20x  max |dP| 0.144  mean 0.018  ROC-AUC +0.0007
Documents are scored one per run, so a score never depends on batch-mates (OnnxClassifier.logits).

The graph is the whole classifier, encoder -> mean pool over the attention mask -> Linear ->
one logit, so the pooling and head cannot drift from `EncoderClassifier.forward`. Inputs
`input_ids` and `attention_mask` (int64 [batch, sequence], both axes dynamic), output `logit`
([batch]); P = sigmoid(logit), as `predict_model`. The export records the model's shape, text
prefix and max_length in the ONNX metadata (and `quantize` what it did), so callers need no
other file.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# The project's own tokenisation, so ONNX scores see exactly the tokens predict_model sees.
from pipeline.encoder.finetune import _tokenize, load_classifier
from pipeline.errors import InputError, StatelinkError
from pipeline.io import atomic_path

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logit"
# The legacy (TorchScript) exporter (dynamo=False): 4x faster than dynamo=True and needs no
# onnxscript; with eager attention its graph is also the one ORT's BERT fusion matches.
OPSET = 17
META_KEY = "statelink"
# Largest |logit| difference accepted between the exported graph and torch (fp32 both).
EXPORT_TOLERANCE = 1e-3


# ------------------------------------------------------------------ export -------------------


def _dummy_inputs(pad_id: int, max_length: int):
    """Two documents, one padded: with no padding in the trace, transformers may skip the mask."""
    import torch

    long, short = max_length, max(2, max_length // 2)
    ids = torch.full((2, long), pad_id, dtype=torch.long)
    mask = torch.zeros((2, long), dtype=torch.long)
    ids[0, :] = 5
    ids[1, :short] = 6
    mask[0, :] = 1
    mask[1, :short] = 1
    return ids, mask


def _check_inputs(pad_id: int, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch shaped unlike the trace (3 rows, shorter width), to catch shapes baked into the graph."""
    width = max(3, max_length // 2 + 3)
    lengths = [width, 3, width - 1]
    rng = np.random.default_rng(0)
    ids = np.full((3, width), pad_id, dtype=np.int64)
    mask = np.zeros((3, width), dtype=np.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(5, 1000, n)
        mask[i, :n] = 1
    return ids, mask


def _metadata(model, max_length: int) -> dict[str, str]:
    cfg = model.encoder.config
    return {META_KEY: json.dumps({
        "num_heads": int(cfg.num_attention_heads),
        "hidden_size": int(cfg.hidden_size),
        "intermediate_size": int(cfg.intermediate_size),
        "num_layers": int(cfg.num_hidden_layers),
        "vocab_size": int(cfg.vocab_size),
        "text_prefix": model.settings.get("text_prefix", ""),
        "max_length": int(max_length),
        "pad_token_id": int(model.tokenizer.pad_token_id),
    })}


def read_metadata(onnx_path: Path) -> dict:
    """The statelink metadata that `export_onnx` wrote (kept through `quantize`)."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    if META_KEY not in props:
        raise StatelinkError(f"{onnx_path} has no '{META_KEY}' metadata; it was not written by export_onnx.")
    return json.loads(props[META_KEY])


def _set_metadata(path: Path, meta: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    path.chmod(0o644)  # mkstemp makes 0600 files, which DVC's cache would keep (as publish_dir)


def _session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # On a shared 2-core box, spinning worker threads steal the core the other job needs.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


# The Linear layers smoothed before int8: both FFN projections, whose inputs (the attention
# block's LayerNorm output; the GELU output) carry the outlier channels. Q/K/V share a fused
# Attention node, and the attention output has no outliers (measured), so they are left alone.
SMOOTHED = ("intermediate.dense", "output.dense")


def _linear_input_absmax(model, ids: Sequence[Sequence[int]]) -> dict[str, object]:
    """Per-channel max |input| of each layer's SMOOTHED Linear layers over the documents (torch)."""
    import torch

    targets = {f"{k}.{name}": layer.get_submodule(name)
               for k, layer in enumerate(model.encoder.encoder.layer) for name in SMOOTHED}
    amax = {key: torch.zeros(mod.in_features) for key, mod in targets.items()}

    def hook(key):
        def f(_mod, inp, _out):
            x = inp[0].detach().abs().reshape(-1, inp[0].shape[-1])
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
    """x -> dense(x) as Sequential(x * 1/s, Linear with W * s): the same function, fp32.

    SmoothQuant (Xiao et al. 2023): in each layer one input channel of the FFN projections runs
    10-60x larger than the median channel (measured on this model), so one per-tensor int8
    activation scale wastes its range on it; dividing channels by s and multiplying the matching
    weight rows by s moves the range into the weights, which are quantised per output column.
    s = act_absmax^alpha / w_absmax^(1 - alpha); alpha balances the two.
    """
    import torch

    w_absmax = dense.weight.detach().abs().amax(0).clamp(min=1e-5)  # per input channel
    s = (act_absmax.clamp(min=1e-5) ** alpha / w_absmax ** (1 - alpha)).clamp(min=1e-5)
    scaled = torch.nn.Linear(dense.in_features, dense.out_features)
    with torch.no_grad():
        scaled.weight.copy_(dense.weight * s[None, :])
        scaled.bias.copy_(dense.bias)
    return torch.nn.Sequential(_inv_scale_class()(1.0 / s), scaled)


def smooth_linears(model, ids: Sequence[Sequence[int]], alpha: float = 0.5):
    """The classifier with each layer's SMOOTHED Linear layers smoothed on these documents (in place)."""
    amax = _linear_input_absmax(model, ids)
    for k, layer in enumerate(model.encoder.encoder.layer):
        for name in SMOOTHED:
            parent, attr = name.rsplit(".", 1)
            owner = layer.get_submodule(parent)
            setattr(owner, attr, _smoothed_linear(getattr(owner, attr), amax[f"{k}.{name}"], alpha))
    return model


def export_onnx(model_dir: Path, out_path: Path, max_length: int, *,
                calibration_docs: Sequence[str] | None = None, alpha: float = 0.5) -> Path:
    """Export the classifier in model_dir (save_classifier format) to one fp32 ONNX file, atomically.

    calibration_docs (training documents, never the ones to be scored; 64 were used): smooth
    the FFN projections on them (`smooth_linears`) so `quantize` can make every projection int8.
    The fp32 graph computes the same function either way (up to float rounding).
    Checked before publishing: the graph reproduces torch's logits on a batch shaped unlike the
    trace (|diff| <= EXPORT_TOLERANCE), so a shape baked in by tracing fails here, not in scoring.
    """
    import torch

    model, tokenizer = load_classifier(Path(model_dir), "cpu")
    # Eager attention exports as plain MatMul/Softmax, the pattern ORT's BERT fusion matches.
    model.encoder.set_attn_implementation("eager")
    model.eval()
    pad_id = int(tokenizer.pad_token_id)
    meta = _metadata(model, max_length)
    if calibration_docs:
        ids = _tokenize(tokenizer, calibration_docs, model.settings.get("text_prefix", ""), max_length)
        model = smooth_linears(model, ids, alpha)
        meta = {META_KEY: json.dumps({**json.loads(meta[META_KEY]), "smoothed": {"alpha": alpha, "docs": len(ids)}})}
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
               OUTPUT_NAME: {0: "batch"}}
    with atomic_path(out_path) as tmp:
        with torch.no_grad():
            torch.onnx.export(model, _dummy_inputs(pad_id, max_length), str(tmp), dynamo=False,
                              input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                              dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True)
        _set_metadata(tmp, meta)
        ids, mask = _check_inputs(pad_id, max_length)
        got = _session(tmp, 1).run(None, {"input_ids": ids, "attention_mask": mask})[0]
        with torch.inference_mode():
            want = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        err = float(np.abs(got - want).max())
        if not err <= EXPORT_TOLERANCE:
            raise StatelinkError(f"the ONNX export differs from torch by {err:.2e} in logit (> {EXPORT_TOLERANCE}).")
    return Path(out_path)


# ------------------------------------------------------------------ quantise -----------------


def _weight_shapes(model) -> dict[str, tuple[int, ...]]:
    return {t.name: tuple(t.dims) for t in model.graph.initializer}


def _linear_matmuls(model, shape: tuple[int, int]) -> list[str]:
    """MatMul nodes whose constant weight has `shape` ([in, out]), in graph (= layer) order.

    Found by weight shape, not node name, because names depend on the exporter and the fusion.
    """
    shapes = _weight_shapes(model)
    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and len(n.input) > 1 and shapes.get(n.input[1]) == shape]


def _nodes_to_quantize(model, meta: dict, fp32_ffn_layers: set[int]) -> list[str]:
    """The encoder's projections: Q/K/V (or a fused Attention), attention output, FFN in and out.

    An explicit list rather than op types: the quantizer would otherwise also turn the head's
    Gemm into an int8 MatMul (the head stays fp32, as in torch). FFN outputs of the layers in
    `fp32_ffn_layers` stay fp32.
    """
    h, i = meta["hidden_size"], meta["intermediate_size"]
    ffn_out = _linear_matmuls(model, (i, h))
    if len(ffn_out) != meta["num_layers"]:
        raise StatelinkError(f"found {len(ffn_out)} feed-forward output MatMuls, expected {meta['num_layers']}.")
    attention = [n.name for n in model.graph.node if n.op_type == "Attention"]
    return (attention + _linear_matmuls(model, (h, h)) + _linear_matmuls(model, (h, i))
            + [name for layer, name in enumerate(ffn_out) if layer not in fp32_ffn_layers])


def _fuse(onnx_path: Path, out_path: Path, meta: dict) -> None:
    """ORT's BERT fusions, written to out_path; fails if attention did not fuse in every layer."""
    from onnxruntime.transformers import optimizer

    opt = optimizer.optimize_model(str(onnx_path), model_type="bert", num_heads=meta["num_heads"],
                                   hidden_size=meta["hidden_size"], opt_level=0)
    fused = opt.get_fused_operator_statistics()
    if fused.get("Attention", 0) != meta["num_layers"]:
        raise StatelinkError(f"ORT fused attention in {fused.get('Attention', 0)} of {meta['num_layers']} layers.")
    opt.save_model_to_file(str(out_path))


def quantize(onnx_path: Path, out_path: Path, *, fuse: bool = False, per_channel: bool = True,
             fp32_ffn_layers: Sequence[int] | None = None, quantize_embeddings: bool = False,
             weight_type: str = "QInt8") -> Path:
    """Dynamic int8 copy of an `export_onnx` file, written atomically; returns out_path.

    fuse: run onnxruntime.transformers' BERT fusions first (int8 QAttention). Off: measured
    13-17% slower than leaving the graph to the session's own ORT_ENABLE_ALL optimisations,
    at the same scores.
    per_channel: one weight scale per output column (as the torch path).
    fp32_ffn_layers: layers whose FFN output projection stays fp32. None: none if the export
    was smoothed, else all (as `quantize_for_cpu`: unsmoothed, the GELU outputs feeding them
    have outlier channels that one per-tensor uint8 activation scale clips).
    quantize_embeddings: int8 word-embedding table too (file 388 -> 113 MiB, inference RSS
    1.5 -> 1.0 GiB; max |dP| 0.13, mean 0.023, ROC-AUC +0.0023 measured with smoothing); off
    by default, as in torch.
    weight_type: "QInt8" (signed weights, as torch's qint8) or "QUInt8".
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    meta = read_metadata(Path(onnx_path))
    if fp32_ffn_layers is None:
        fp32_ffn_layers = [] if meta.get("smoothed") else range(meta["num_layers"])
    keep = set(fp32_ffn_layers)
    with tempfile.TemporaryDirectory(dir=Path(out_path).parent) as work:
        src = Path(work) / "fused.onnx"
        if fuse:
            _fuse(Path(onnx_path), src, meta)
        else:
            src = Path(onnx_path)
        graph = onnx.load(str(src))
        include = _nodes_to_quantize(graph, meta, keep)
        if quantize_embeddings:  # the nodes that read the [vocab, hidden] word-embedding table
            shapes = _weight_shapes(graph)
            include += [n.name for n in graph.graph.node if n.op_type in ("Gather", "EmbedLayerNormalization")
                        and any(shapes.get(x, (0,))[0] == meta["vocab_size"] for x in n.input)]
        del graph  # ~0.5 GB of weights; quantize_dynamic loads its own copy
        with atomic_path(out_path) as tmp:
            quantize_dynamic(str(src), str(tmp), per_channel=per_channel, weight_type=QuantType[weight_type],
                             op_types_to_quantize=["MatMul", "Attention", "Gather", "EmbedLayerNormalization"],
                             nodes_to_quantize=include,
                             # ONNX shape inference cannot type the outputs of ORT's fused
                             # (com.microsoft) ops; everything there is float32.
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            record = {"per_channel": per_channel, "weight_type": weight_type, "fp32_ffn_layers": sorted(keep),
                      "quantize_embeddings": quantize_embeddings, "fused": fuse}
            _set_metadata(tmp, {META_KEY: json.dumps({**meta, "quantized": record})})
    return Path(out_path)


# ------------------------------------------------------------------ scoring ------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class OnnxClassifier:
    """P(state-linked) per document from an `export_onnx` / `quantize` file on CPU."""

    def __init__(self, path: Path, threads: int = 2) -> None:
        self.path = Path(path)
        self.meta = read_metadata(self.path)
        self.session = _session(self.path, threads)

    def logits(self, ids: Sequence[Sequence[int]], batch_size: int = 1) -> np.ndarray:
        """Logits of token-id lists, in order.

        batch_size 1 (default): dynamic int8 takes each activation scale from the whole input
        tensor, so in a batch a document's score would depend on its batch-mates and padding;
        alone it is the same wherever it is scored, and unpadded single documents are faster.
        Larger batches are refused for an int8 file (measured: P moved by up to 0.09 between
        scored alone and in a batch of 16) and allowed for fp32 (1e-7).
        """
        if batch_size > 1 and "quantized" in self.meta:
            raise InputError(f"{self.path} is int8: score one document per run (batch_size=1) so scores "
                             "do not depend on batch-mates.")
        out = np.empty(len(ids), dtype=np.float64)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # longest first: little padding
        pad = self.meta["pad_token_id"]
        for a in range(0, len(order), batch_size):
            chunk = order[a : a + batch_size]
            width = max(len(ids[i]) for i in chunk)
            input_ids = np.full((len(chunk), width), pad, dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for r, i in enumerate(chunk):
                input_ids[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            out[chunk] = self.session.run([OUTPUT_NAME], {"input_ids": input_ids, "attention_mask": mask})[0]
        return out

    def predict(self, docs: Sequence[str], tokenizer, prefix: str, max_length: int, batch_size: int = 1) -> np.ndarray:
        """P(state-linked) per document: prefix + document, cut at max_length tokens (as predict_model)."""
        if len(docs) == 0:
            return np.zeros(0, dtype=np.float64)
        logits = self.logits(_tokenize(tokenizer, docs, prefix, max_length), batch_size)
        if not np.isfinite(logits).all():
            raise StatelinkError("the ONNX classifier produced non-finite scores.")
        return _sigmoid(logits)
