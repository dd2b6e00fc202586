"""The canonicaliser folds what an operation can vary for free, and nothing a reader would see as different."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import canon
from pipeline.canon import canonical, match_key, register, unpadded

ZW = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.mark.parametrize("raw, clean", [
    ("Ｆｏｒｔ Ｄｅｔｒｉｃｋ ２０２０", "Fort Detrick 2020"),          # full-width ASCII
    ("Fo\u200brt De\u200dtri\ufeffck", "Fort Detrick"),                  # zero-width inside words
    ("Fоrt Dеtriсk", "Fort Detrick"),                                    # Cyrillic о е с
    ("Ηοng Κοng", "Hong Kong"),                                          # Greek Η ο Κ
    ("香港警察說開槍", "香港警察说开枪"),                                   # Traditional -> Simplified
    ("plain ascii stays as it is", "plain ascii stays as it is"),
])
def test_tricks_fold_to_the_plain_text(raw, clean):
    assert canonical(raw) == clean


def test_match_key_ignores_trailing_padding_but_keeps_the_message():
    base = "The virus came from Fort Detrick"
    for padded in (base + " 😷🔥", base + " #COVID19 #真相", base + " @user1 @user2!!", base + "  🇨🇳 #HK 👍"):
        assert match_key(padded) == match_key(base) == "the virus came from fort detrick"
    assert match_key("#only #tags") == "#only #tags"  # all padding: keep it rather than an empty key
    assert match_key(base) != match_key("The virus came from Wuhan")


def test_unpadded_drops_what_is_appended_after_the_last_word_and_keeps_case():
    base = "Wake up: The DPP sells out Taiwan"
    for padded in (base + " #viral 💪", base + " ✨ #trending", base + " #fyp #China 🙏", base + " @user!!"):
        assert unpadded(padded) == base
    assert unpadded("#only #tags 🔥") == "#only #tags 🔥"  # all padding: kept, not an empty text
    assert unpadded("a #tag inside stays") == "a #tag inside stays"
    assert unpadded("Ends in a link URL 🔥") == "Ends in a link URL"
    # Punctuation is wording, not padding (a closing quote, a full stop, emphasis), and a
    # mark after a letter belongs to its word; after a symbol it goes with the symbol.
    for kept in ("“The journey is the reward.”", "坚持下去!!!!", "ภาษาไทย ที่", "Done."):
        assert unpadded(kept) == kept
    assert unpadded("Done.🔥✨") == "Done." and unpadded("keycap 1\ufe0f\u20e3 ✔\ufe0f") == "keycap 1\ufe0f\u20e3"
    assert unpadded(None) is None and unpadded("") == ""


def test_documents_read_a_padded_copy_as_its_original():
    from pipeline.documents import clean_texts

    base = "越来越多的台胞来西安发展, 两岸融合势不可挡"
    copies = [base, base + " #民用飞艇 #fyp 🔥", base + "  ✨\n#China", base + " 👍 @someone"]
    assert clean_texts(copies) == [base] * len(copies)
    # What padding would hide is kept where it is the text itself.
    assert clean_texts(["#TaiwanIsChina #HK"]) == ["#TaiwanIsChina #HK"]


@pytest.mark.parametrize("text", [
    "plain words", "ends in a link URL", "x 🔥", "“quoted.”", "emphasis!!!", "ภาษาไทย ที่", "keycap 1\ufe0f\u20e3",
    "#only", "a #tag inside", "last #tag", "to @someone", "full＃tag", "arrow →", "100%", "$5", "x #a\u3000b",
])
def test_documents_ask_the_padding_function_only_where_it_could_change_the_text(text):
    # The SQL guard in front of `canon.unpadded` must not skip a text the function would change.
    import duckdb

    from pipeline.documents import _clean_sql, clean_texts

    con = duckdb.connect()
    register(con)
    pre = con.execute(f"SELECT {_clean_sql('$1::VARCHAR')}", [text]).fetchone()[0]
    assert clean_texts([text]) == [unpadded(pre)]


def test_none_and_empty():
    assert canonical(None) is None and match_key(None) is None
    assert canonical("") == "" and canonical(ZW) == ""


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_idempotent(text):
    once = canonical(text)
    assert canonical(once) == once


def test_duckdb_udf_matches_python_and_passes_nulls():
    con = duckdb.connect()
    register(con)
    texts = ["Ｆｏｒｔ\u200b Dеtrick", None, "香港說", "same", "same"]
    con.execute("CREATE TABLE t AS SELECT * FROM (SELECT unnest($1) AS x)", [texts])
    got = con.execute("SELECT canon(x), canon_match(x), canon_unpad(x) FROM t").fetchall()
    assert got == [(canonical(t), match_key(t), unpadded(t)) for t in texts]


_PAD_CHARS = st.sampled_from(list("ab字 #＃@_.!😂\u200b\t") + ["Ｆ", "о", "說"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_PAD_CHARS, max_size=30).map("".join) | st.text(max_size=40))
def test_match_key_equals_the_plain_regex_definition(text):
    # The fast path skips the padding regex where it cannot match; it must change nothing.
    import re

    from pipeline.canon import _TRAILING_PAD

    c = canonical(text)
    c = re.sub(r"\s+", " ", c.lower()).strip()
    expected = _TRAILING_PAD.sub("", c) or c
    assert match_key(text) == expected


def _reference_canonical(text: str | None) -> str | None:
    """The canonicaliser's definition, one text at a time and without any shortcut."""
    import unicodedata

    from pipeline.canon import _fold_table, _t2s

    if text is None:
        return None
    return _t2s().convert(unicodedata.normalize("NFKC", text).translate(_fold_table()))


_MIXED = (st.sampled_from(list("aZ9 字說開槍香港\u200b\u2060Ｆ①ﬁоΗ#@😂\t\x1e\x1f\x1d\x1c"))
          | st.characters(blacklist_categories=("Cs",)))  # no surrogates: UTF-8 cannot hold them


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | st.lists(_MIXED, max_size=20).map("".join), max_size=12))
def test_the_vectorised_canonicaliser_equals_its_definition_text_by_text(texts):
    # Many texts go to OpenCC in one call, joined by a control character; a text holding
    # that character must not shift the others (the hypothesis alphabet holds all four).
    import pyarrow as pa

    from pipeline.canon import canonical_array

    got = canonical_array(pa.array(texts, pa.string())).to_pylist()
    assert got == [_reference_canonical(t) for t in texts]


def test_trailing_padding_is_stripped_without_backtracking_on_symbol_art():
    # Real tweets (one in ../shared/real-text) end in runs of symbols between spaces. On them
    # the padding regex backtracks for minutes; `match_key` must still give the key at once.
    art = "circumstances may constrain you ✰♬❤♬*•. ̧ ̧.•*♬❤♬✰ " * 3 + "#byvera #quote #quotes"
    assert match_key(art) == "circumstances may constrain you ✰♬❤♬*•. ̧ ̧.•*♬❤♬✰ " * 2 + "circumstances may constrain you"
    assert match_key("a" + " ✰♬" * 200 + " #x") == "a"
    assert match_key("╭━┓┓╱┳ ┃╱╱┣━┫ 10m #one #two") == "╭━┓┓╱┳ ┃╱╱┣━┫ 10m"
    assert match_key("word " + "#a" * 1500) == "word"  # one token packed with marks


def test_the_text_functions_remember_texts_across_batches_and_stay_right_when_full():
    import pyarrow as pa

    from pipeline.canon import _vectorised, canonical_array

    calls: list[list[str]] = []

    def counted(col):
        calls.append(col.to_pylist())
        return canonical_array(col)

    udf = _vectorised(counted, cap=3)
    first = ["說", None, "說", "Ｆ"]
    assert udf(pa.array(first, pa.string())).to_pylist() == ["说", None, "说", "F"]
    assert udf(pa.array(["Ｆ", "說"], pa.string())).to_pylist() == ["F", "说"]
    assert calls == [["說", "Ｆ"]]  # each distinct text once; the second batch was remembered
    more = ["a\u200bb", "開", "槍", "Ｆ"]  # more than the cap: the memory is cleared and refilled
    assert udf(pa.array(more, pa.string())).to_pylist() == ["ab", "开", "枪", "F"]
    assert udf(pa.array(first, pa.string())).to_pylist() == ["说", None, "说", "F"]


def _text_function_rows(query: str, name: str, array_fn) -> int:
    """Rows the text function `name` is handed while `query` runs over 60 padded tweets of
    five accounts (it is registered counting; the others as `canon.register` makes them)."""
    from duckdb.sqltypes import VARCHAR

    con = duckdb.connect()
    seen: list[int] = []

    def counting(col):
        seen.append(len(col))
        return array_fn(col)

    con.create_function(name, counting, [VARCHAR], VARCHAR, type="arrow", null_handling="special", side_effects=False)
    register(con)  # leaves the counting one in place
    con.execute("""CREATE TABLE tweets AS SELECT 'u' || (i % 5) AS userid, i::VARCHAR AS tweetid, FALSE AS is_retweet,
                          'post number ' || i || ' about the weather 😀' AS tweet_text,
                          TIMESTAMP '2020-01-01' + INTERVAL (i) MINUTE AS tweet_time FROM range(60) r(i)""")
    con.execute("CREATE TABLE acc AS SELECT DISTINCT userid, 'p' AS population FROM tweets")
    con.execute(f"CREATE TABLE out AS {query}")
    assert con.execute("SELECT COUNT(*) FROM out").fetchone()[0] > 0
    con.close()
    return sum(seen)


def test_the_queries_over_every_tweet_run_each_text_function_once_per_tweet():
    """DuckDB copies an expression into each filter it pushes below it, so a filter on a text
    function's result ran the function again (at 10M tweets the near-duplicate texts took 23 s
    instead of 14 s). Each query keeps the call in a MATERIALIZED CTE: one row in, one call."""
    from pipeline.config import CoordinationParams, TextParams
    from pipeline.features.coordination import nd_docs_sql
    from pipeline.features.text import text_features_sql

    assert _text_function_rows(nd_docs_sql(CoordinationParams()), canon.MATCH_UDF_NAME, canon.match_key_array) == 60
    # Every tweet ends in an emoji, so the padding function sees each of the 60 candidates.
    assert _text_function_rows(text_features_sql("tweets", TextParams()), canon.UNPAD_UDF_NAME, canon.unpadded_array) == 60
