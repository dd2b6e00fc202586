"""Canonical text: fold away what an operation can vary for free.

Copy-pasted text is the strongest trace an operation leaves, and the cheapest to hide:
zero-width characters inside words, Cyrillic or Greek look-alikes for Latin letters,
full-width ASCII, Traditional for Simplified characters, and a few emoji or hashtags
appended to each copy. A reader sees the same post; a byte comparison, a character n-gram
or a lexicon sees a new one. `canonical` undoes all of them, and every text signal reads
its output (near-duplicate shingles, the n-gram score, the lexicons, the encoder's
documents), in every engine: DuckDB calls it as a vectorised UDF (`register`), and the
Spark engine runs the same DuckDB SQL on each partition. The raw text is kept for display.

1. Unicode NFKC: full-width and other compatibility forms become their plain characters.
2. Format characters (category Cf: zero-width space/joiners, word joiner, BOM, bidi marks)
   are dropped.
3. Confusables are folded to a skeleton in the spirit of Unicode TR39: every non-ASCII
   character that Unicode's confusables data maps to one ASCII letter or digit becomes that
   character (data: the `confusable-homoglyphs` package's copy of confusables.txt).
4. Traditional Chinese becomes Simplified (OpenCC's `t2s`), so one narrative in both scripts
   is one text.

`match_key` adds what only near-duplicate matching wants: lower case, and trailing padding
(emoji, symbols, #hashtags, @mentions, punctuation) stripped, so a copy with a few emoji or
hashtags appended still matches its original.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

import pyarrow as pa

UDF_NAME = "canon"
MATCH_UDF_NAME = "canon_match"

# Trailing padding: runs of hashtags, mentions, emoji/symbols and punctuation at the end.
_PAD_TOKEN = r"(?:[#＃@][^\s#＃@]*|[\W_]+)"
_TRAILING_PAD = re.compile(rf"(?:\s*{_PAD_TOKEN})+\s*$")


@functools.lru_cache(maxsize=1)
def _fold_table() -> dict[int, str | None]:
    """One `str.translate` table: format characters to nothing, confusables to ASCII."""
    import sys

    table: dict[int, str | None] = {cp: None for cp in range(sys.maxunicode + 1)
                                    if unicodedata.category(chr(cp)) == "Cf"}
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8"))
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii() or ord(char) in table:
            continue  # ASCII stays itself: folding l/1/I in ordinary text would merge real words
        targets = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        if targets:
            table[ord(char)] = targets[0]
    return table


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def canonical(text: str | None) -> str | None:
    """The text with Unicode tricks, look-alikes and script variants folded away."""
    if text is None or text.isascii():
        return text  # NFKC, the fold table and t2s all leave ASCII as it is
    folded = unicodedata.normalize("NFKC", text).translate(_fold_table())
    return _t2s().convert(folded) if folded else folded


def _may_end_in_padding(c: str) -> bool:
    """Whether `_TRAILING_PAD` can match at the end of `c` (stripped): its last character is
    not a letter or digit, or its last run of characters other than space, #, ＃ and @ follows
    one of #, ＃, @. Checked without a regex: most texts end in a word, and a search anchored
    at the end still scans the whole text."""
    if not c[-1].isalnum():  # `[\W_]`: anything but a letter or digit
        return True
    i = len(c)
    while i > 0 and not (c[i - 1].isspace() or c[i - 1] in "#＃@"):
        i -= 1
    return i > 0 and c[i - 1] in "#＃@"


def match_key(text: str | None) -> str | None:
    """`canonical`, lower-cased, whitespace collapsed, trailing emoji/hashtag/mention padding removed."""
    c = canonical(text)
    if c is None:
        return None
    c = " ".join(c.lower().split())  # str.split's whitespace is re's \s
    if not c or not _may_end_in_padding(c):
        return c
    stripped = _TRAILING_PAD.sub("", c)
    # A text that is only padding keeps its own key rather than collapsing to ''.
    return stripped or c


def _vectorised(fn):
    def udf(col: pa.Array) -> pa.Array:
        # Copies repeat: canonicalise each distinct text of the batch once.
        values = col.to_pylist()
        cache = {v: fn(v) for v in set(values)}
        return pa.array([cache[v] for v in values], type=pa.string())

    return udf


def register(con) -> None:
    """Make `canon(text)` and `canon_match(text)` callable from a DuckDB connection's SQL.
    A connection that has them already is left as it is, so a caller's own connection can be
    handed in wherever the package takes one."""
    from duckdb.sqltypes import VARCHAR

    for name, fn in ((UDF_NAME, canonical), (MATCH_UDF_NAME, match_key)):
        if con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [name]).fetchall()[0][0]:
            continue
        con.create_function(name, _vectorised(fn), [VARCHAR], VARCHAR,
                            type="arrow", null_handling="special", side_effects=False)
