"""The canonicaliser folds what an operation can vary for free, and nothing a reader would see as different."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.canon import canonical, match_key, register

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
    got = con.execute("SELECT canon(x), canon_match(x) FROM t").fetchall()
    assert got == [(canonical(t), match_key(t)) for t in texts]


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
