"""Text features and the fitted n-gram score, on tiny hand-made accounts with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import FeaturesParams, TextNgramParams
from pipeline.errors import InputError
from tests.stages import run_features
from pipeline.features.lexicons import SIMPLIFIED_CHARS, TRADITIONAL_CHARS
from pipeline.models import text_ngram
from tests.conftest import account, tweet


def _features(write_tables, tmp_path, posts: dict[str, list[str]], silent=("quiet",)):
    accounts = [account(u) for u in [*posts, *silent]]
    tweets = [tweet(f"{u}-{i}", u, f"2020-03-0{1 + i % 9} 0{i % 10}:00", tweet_text=t)
              for u, texts in posts.items() for i, t in enumerate(texts)]
    table = run_features(write_tables(accounts, tweets), tmp_path / "f.parquet", FeaturesParams())
    return {r["userid"]: r for r in table.to_pylist()}


def test_narrative_lexicons_match_simplified_traditional_and_english(write_tables, tmp_path):
    f = _features(write_tables, tmp_path, {
        "simp": ["香港暴徒破坏社会秩序", "今天天气很好"],
        "trad": ["香港暴徒破壞社會秩序，外國勢力是黑手"],
        "eng": ["The RIOTERS are backed by foreign forces", "Fort Detrick must be investigated", "lovely tea"],
        "plain": ["my cat sleeps all day", "新年快乐"],
    })
    assert f["simp"]["lex_hk_share"] == pytest.approx(0.5)
    assert f["trad"]["lex_hk_share"] == pytest.approx(1.0)
    assert f["eng"]["lex_hk_share"] == pytest.approx(1 / 3)
    assert f["eng"]["lex_covid_share"] == pytest.approx(1 / 3)
    assert f["eng"]["lex_any_share"] == pytest.approx(2 / 3)
    assert f["plain"]["lex_any_share"] == 0
    # No text is unknown, not zero.
    assert f["quiet"]["lex_any_share"] is None or math.isnan(f["quiet"]["lex_any_share"])
    assert f["quiet"]["doc"] == ""


def test_script_mix_and_traditional_share(write_tables, tmp_path):
    f = _features(write_tables, tmp_path, {
        "trad": ["我們這個國家的人說話"],
        "simp": ["我们这个国家的人说话"],
        "mixed": ["我们 hello"],
        "latin": ["hello world"],
    })
    assert f["trad"]["trad_char_share"] == pytest.approx(1.0)
    assert f["simp"]["trad_char_share"] == 0
    assert f["latin"]["han_char_share"] == 0 and f["latin"]["latin_char_share"] == pytest.approx(1.0)
    assert f["mixed"]["han_char_share"] == pytest.approx(2 / 7)
    assert f["latin"]["trad_char_share"] is None or math.isnan(f["latin"]["trad_char_share"])


def test_camouflage_verse_quotes_and_aphorisms_but_not_personal_posts(write_tables, tmp_path):
    f = _features(write_tables, tmp_path, {
        "camo": ["床前明月光，疑是地上霜。举头望明月，低头思故乡。 https://t.co/abc",
                 "Experience is the mother of wisdom. https://t.co/xyz",
                 "“The journey is the reward.”",
                 "坚持下去!!!!"],
        "organic": ["I can't believe the bus was late again today.", "We watched the match, what a goal",
                    "Stocks are up 3% on Tuesday", "周末和朋友去吃火锅"],
    })
    assert f["camo"]["camouflage_share"] == pytest.approx(1.0)
    assert f["organic"]["camouflage_share"] == 0


def test_document_drops_release_artefacts(write_tables, tmp_path):
    f = _features(write_tables, tmp_path, {"a": ["RT @someone: support the police @x https://t.co/AbC123 now"]})
    doc = f["a"]["doc"]
    assert "support the police" in doc
    assert "t.co" not in doc and "@someone" not in doc and "@x" not in doc


def test_traditional_and_simplified_sets_are_disjoint_and_paired():
    assert len(TRADITIONAL_CHARS) == len(SIMPLIFIED_CHARS)
    assert not set(TRADITIONAL_CHARS) & set(SIMPLIFIED_CHARS)


def _toy_docs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    io = ["支持香港警察严正执法", "美国应该调查德特里克堡", "负责任大国 抗疫", "support the police now"]
    org = ["今天和朋友去公园", "the match was great", "我家的猫很可爱", "coffee and rain again"]
    docs, y = [], []
    for i in range(n):
        lab = i % 2
        bank = io if lab else org
        docs.append("\n".join(rng.choice(bank, 2)))
        y.append(lab)
    return docs, np.array(y)


P = TextNgramParams(hash_bits=14)


def test_ngram_model_separates_saves_and_loads(tmp_path):
    docs, y = _toy_docs()
    model = text_ngram.fit_ngram(docs, y, P)
    s = model.score(docs + [""])
    assert np.isnan(s[-1])
    assert s[:-1][y == 1].min() > s[:-1][y == 0].max()
    model.save(tmp_path / "t.npz")
    again = text_ngram.NgramModel.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(again.score(docs), model.score(docs))
    assert again.params == P


def test_out_of_fold_score_never_sees_its_own_label():
    docs, y = _toy_docs()
    folds = np.arange(len(docs)) % 4
    base = text_ngram.oof_scores(docs, y, folds, P)
    flipped = y.copy()
    flipped[folds == 0] = 1 - flipped[folds == 0]  # change only fold 0's labels
    again = text_ngram.oof_scores(docs, flipped, folds, P)
    np.testing.assert_array_equal(again[folds == 0], base[folds == 0])
    assert not np.allclose(again[folds != 0], base[folds != 0])


def test_training_scores_never_see_their_own_campaign():
    docs, y = _toy_docs(60)
    campaigns = np.array(["a", "b", "c"])[np.arange(len(docs)) % 3]
    folds = np.arange(len(docs)) % 4
    base, how = text_ngram.training_scores(docs, y, campaigns, folds, P)
    assert how == text_ngram.CROSS_CAMPAIGN and not np.isnan(base).any()
    # Campaign a's own labels and wording change nothing in a's scores, and do change b's and c's.
    a = campaigns == "a"
    flipped = np.where(a, 1 - y, y)
    again, _ = text_ngram.training_scores(docs, flipped, campaigns, folds, P)
    np.testing.assert_array_equal(again[a], base[a])
    assert not np.allclose(again[~a], base[~a])
    # Each campaign's scores are those of a model fitted on the other campaigns alone: its
    # own documents are read only to be scored.
    alone = text_ngram.fit_ngram([d for d, k in zip(docs, a) if not k], y[~a], P)
    np.testing.assert_allclose(base[a], alone.score([d for d, k in zip(docs, a) if k]), rtol=1e-6)


def test_training_scores_fall_back_to_out_of_fold_where_no_campaign_can_be_left_out():
    docs, y = _toy_docs(40)
    folds = np.arange(len(docs)) % 4
    one = np.full(len(docs), "a")
    got, how = text_ngram.training_scores(docs, y, one, folds, P)
    assert how == text_ngram.OUT_OF_FOLD
    np.testing.assert_array_equal(got, text_ngram.oof_scores(docs, y, folds, P))
    # Two campaigns, one of them all state-linked: leaving out the other leaves one class.
    two = np.where(y == 1, "a", "b")
    two[:2] = "a"
    assert text_ngram.training_scores(docs, y, two, folds, P)[1] == text_ngram.OUT_OF_FOLD


def test_model_folder_records_how_its_ngram_training_scores_were_made(trained_model):
    meta = json.loads((trained_model["dir"] / "gbm" / "meta.json").read_text())
    # The fixture's training campaigns are two (the split holds one out): cross-campaign.
    assert meta["text_ngram_training_scores"] == text_ngram.CROSS_CAMPAIGN


def test_scorer_reads_the_document_and_refuses_a_table_without_it(trained_model):
    from pipeline.scoring import GbmScorer

    scorer = GbmScorer.load(trained_model["dir"] / "gbm")
    assert text_ngram.FEATURE in scorer.features and scorer.ngram is not None
    feats = pd.read_parquet(trained_model["dir"] / "features.parquet").head(20)
    s = scorer.score(feats)
    # A stale precomputed column is ignored: the score comes from the document.
    np.testing.assert_array_equal(scorer.score(feats.assign(**{text_ngram.FEATURE: 0.0})), s)
    changed = scorer.raw(feats.assign(doc=""))
    assert not np.allclose(changed, scorer.raw(feats))
    with pytest.raises(InputError, match="doc"):
        scorer.score(feats.drop(columns=["doc"]))


def test_ngram_scores_split_over_processes_equal_one_process(monkeypatch):
    rng = np.random.default_rng(3)
    alphabet = list("香港警察維護社会秩序abcdefg xyz")
    docs = ["".join(rng.choice(alphabet, int(rng.integers(1, 80)))) for _ in range(301)] + ["", None]
    y = np.arange(len(docs)) % 2
    model = text_ngram.fit_ngram(docs, y, TextNgramParams())
    one = model.score(docs, jobs=1)
    monkeypatch.setattr(text_ngram, "PARALLEL_MIN_DOCS", 10)
    assert text_ngram._workers(len(docs), 2) == 2
    # Unasked, as many workers as the process may use cores (a larger machine uses them all).
    monkeypatch.setenv("STATELINK_THREADS", "5")
    assert text_ngram._workers(len(docs), None) == 5
    assert text_ngram._workers(5, None) == 1  # too few documents to fork for
    two = model.score(docs, jobs=2)
    np.testing.assert_array_equal(two, one)
    assert np.isnan(one[-2:]).all() and np.isfinite(one[:-2]).all() and len(set(one[:-2].round(6))) > 50


def _assert_same_matrix(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


# Every UTF-8 length (1-4 bytes), letters whose lower case is longer (İ) or context-dependent
# (Σ), whitespace runs the analyzer folds, NUL and format characters.
_NGRAM_ALPHABET = "aZ 9\n\t\r\u3000éßΣςİ中文香港😀𝔘\u200b\x00-#@"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=_NGRAM_ALPHABET, max_size=30), st.text(max_size=12).filter(
    lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t))), min_size=1, max_size=12),
       st.sampled_from([(1, 3), (2, 3), (1, 1), (3, 3)]), st.sampled_from([10, 19]))
def test_ngram_counts_equal_sklearns_hashing_vectoriser(docs, ngram_range, bits):
    p = TextNgramParams(ngram_min=ngram_range[0], ngram_max=ngram_range[1], hash_bits=bits)
    _assert_same_matrix(text_ngram.counts(docs, p), text_ngram.sklearn_counts(docs, p))


def test_ngram_counts_of_no_documents_are_an_empty_matrix():
    # sklearn's vectoriser raises StopIteration on an empty list.
    assert text_ngram.counts([], TextNgramParams(hash_bits=10)).shape == (0, 1024)


def test_ngram_counts_equal_sklearns_across_blocks_on_long_mixed_documents(monkeypatch):
    p = TextNgramParams()
    rng = np.random.default_rng(5)
    words = ["香港", "警察", "維護", "社會", "秩序", "Hong", "Kong", "police", "  ", "😀", "#HK", "@user", "URL", "\n"]
    docs = [" ".join(rng.choice(words, int(rng.integers(0, 400)))) for _ in range(300)] + ["", None, "a"]
    expected = text_ngram.sklearn_counts(docs, p)
    _assert_same_matrix(text_ngram.counts(docs, p), expected)
    # Past three characters the n-grams are sklearn's own.
    p5 = TextNgramParams(ngram_min=2, ngram_max=5)
    _assert_same_matrix(text_ngram.counts(docs[:20], p5), text_ngram.sklearn_counts(docs[:20], p5))
    # Blocks end after whichever document crosses the size: one, some, or every document alone.
    for chars in (1, 997, 20_000):
        monkeypatch.setattr(text_ngram, "_CHUNK_CHARS", chars)
        _assert_same_matrix(text_ngram.counts(docs, p), expected)
