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

Trailing padding (emoji, symbols, #hashtags, @mentions after a text's last word) is the
other free variation. `unpadded` strips it, keeping case and punctuation, for everything
that reads an account's tweets as text (the documents, the lexicons, the script mix, the
n-gram score, the encoder: `documents._clean_sql`); a text that is only padding keeps it.
Why there too, not only for matching: an operation that appends "#viral 🔥" to its posts
borrows the look of organic accounts: on the shifted world, before documents dropped it,
padding took the n-gram score's PR-AUC from 0.67 to 0.53 and the model's from 0.778 to
0.719 (`bench/robustness.py`, shifted+padding; now 0.771 both ways). The
hashtags stay visible where they are items, not wording: coordination reads the archive's
own hashtags column. `match_key` adds what only near-duplicate matching wants: lower case,
and trailing punctuation stripped with the padding, so a copy with a few emoji, hashtags or
exclamation marks appended still matches its original.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc

UDF_NAME = "canon"
MATCH_UDF_NAME = "canon_match"
UNPAD_UDF_NAME = "canon_unpad"

# Trailing padding: runs of hashtags, mentions, emoji/symbols and punctuation at the end. This
# regex is the definition; `strip_trailing_padding` computes it (tests compare the two).
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
    return canonical_array(pa.array([text], pa.string()))[0].as_py()


def canonical_array(col: pa.Array) -> pa.Array:
    """`canonical` over an Arrow string array (nulls stay null): what every engine's SQL calls.

    Vectorised where that is exact, because at ten million tweets a Python call per text per
    step was most of the feature time: only non-ASCII texts are normalised (NFKC leaves ASCII
    as it is; `is_normalized` is ~15x cheaper than normalising a text that is normal already),
    RE2 finds the rare texts that hold a character of the fold table, and Traditional-to-
    Simplified runs on many texts per OpenCC call (`_t2s_many`).
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    wide = _mask(pc.invert(pc.string_is_ascii(col)))
    if not pc.any(wide).as_py():
        return col
    nfkc = [t if unicodedata.is_normalized("NFKC", t) else unicodedata.normalize("NFKC", t)
            for t in pc.filter(col, wide).to_pylist()]
    x = pc.replace_with_mask(col, wide, pa.array(nfkc, pa.string()))
    fold = _mask(pc.match_substring_regex(x, _fold_pattern()))
    if pc.any(fold).as_py():
        table = _fold_table()
        x = pc.replace_with_mask(x, fold, pa.array([t.translate(table) for t in pc.filter(x, fold).to_pylist()],
                                                   pa.string()))
    # Folding can only make a text more ASCII, so the rows to convert are a subset of `wide`.
    wide = _mask(pc.invert(pc.string_is_ascii(x)))
    if pc.any(wide).as_py():
        x = pc.replace_with_mask(x, wide, pa.array(_t2s_many(pc.filter(x, wide).to_pylist()), pa.string()))
    return x


def _mask(flags: pa.Array) -> pa.Array:
    """A boolean mask with nulls (null texts) as False."""
    return pc.fill_null(flags, False)


@functools.lru_cache(maxsize=1)
def _fold_pattern() -> str:
    """An RE2 character class of the fold table's characters, as code-point ranges."""
    cps = sorted(_fold_table())
    ranges, lo, hi = [], cps[0], cps[0]
    for cp in cps[1:]:
        if cp != hi + 1:
            ranges.append((lo, hi))
            lo = cp
        hi = cp
    ranges.append((lo, hi))
    return "[" + "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges) + "]"


# OpenCC converts by longest dictionary match, and no dictionary entry holds a control
# character, so one of these between texts ends a match exactly where a text's end would.
# One call for a few thousand texts costs ~1.2 us a text instead of ~3.3 us.
_T2S_SEPARATORS = ("\x1e", "\x1f", "\x1d", "\x1c")


def _t2s_many(texts: list[str]) -> list[str]:
    """OpenCC t2s of each text, many texts per call."""
    cc = _t2s()
    if len(texts) < 2:
        return [cc.convert(t) for t in texts]
    for sep in _T2S_SEPARATORS:
        joined = sep.join(texts)
        if joined.count(sep) == len(texts) - 1:  # the separator occurs in no text
            out = cc.convert(joined).split(sep)
            if len(out) == len(texts):
                return out
    return [cc.convert(t) for t in texts]


_TOKEN_MARKS = ("#", "＃", "@")


def strip_trailing_padding(c: str) -> str:
    """`c` (whitespace collapsed to single spaces, stripped) with `_TRAILING_PAD` removed, as
    `_TRAILING_PAD.sub("", c)` would, without backtracking. The regex's nested quantifiers
    backtrack exponentially on runs of symbols between spaces (two real tweets of symbol art
    in ../shared/real-text took over a minute each), and a search anchored at the end still
    tries every start position, which made it most of `match_key`'s time. Here each hashtag
    or mention costs a few `rfind`s over its own space-free token: linear in the text, or
    quadratic in one token packed with marks ("#a#a#a…"): 1.4 ms at 3,000 characters.

    Why this is the same: a suffix is padding exactly when every letter or digit in it sits
    inside a hashtag or mention that starts in it, i.e. its nearest space, #, ＃ or @ to the
    left is one of #, ＃, @. So the regex's match starts right after the last letter or digit
    that is not in such a token. Find it from the end, one token at a time.
    """
    end = len(c)
    while True:
        k = end - 1
        while k >= 0 and not c[k].isalnum():  # `[\W_]`: anything but a letter or digit
            k -= 1
        if k < 0:
            return ""  # all padding
        start = c.rfind(" ", 0, k) + 1  # k's space-separated token is c[start:k + 1]
        mark = max(c.rfind("#", start, k), c.rfind("＃", start, k), c.rfind("@", start, k))
        if mark < 0:
            return c[:k + 1]
        end = mark  # k is inside a hashtag or mention: look left of it


def match_key(text: str | None) -> str | None:
    """`canonical`, lower-cased, whitespace collapsed, trailing emoji/hashtag/mention padding removed."""
    return match_key_array(pa.array([text], pa.string()))[0].as_py()


def match_key_array(col: pa.Array) -> pa.Array:
    """`match_key` over an Arrow string array (nulls stay null)."""
    return pa.array([None if c is None else _match_key_of_canonical(c) for c in canonical_array(col).to_pylist()],
                    pa.string())


def _match_key_of_canonical(c: str) -> str:
    c = " ".join(c.lower().split())  # str.split's whitespace is re's \s
    if not c or (c[-1].isalnum() and not any(m in c[c.rfind(" ") + 1:] for m in _TOKEN_MARKS)):
        return c  # ends in a word that is no hashtag or mention: nothing to strip
    # A text that is only padding keeps its own key rather than collapsing to ''.
    return strip_trailing_padding(c) or c


def _symbol_run_start(c: str, end: int) -> int:
    """Where the run of spaces, symbols (emoji, flags, arrows: category S) and the marks that
    follow a symbol (variation selectors, keycaps) ending at `end` starts. A mark after a
    letter is part of the word (Thai, Devanagari vowel signs) and stops the run."""
    k = end
    while k > 0:
        j = k
        while j > 0 and unicodedata.category(c[j - 1]) in ("Mn", "Me"):
            j -= 1
        if j > 0 and (c[j - 1] == " " or unicodedata.category(c[j - 1])[0] == "S"):
            k = j - 1
        else:
            return k
    return 0


def unpadded(c: str | None) -> str | None:
    """`c` without what is appended after its last word: emoji and other symbols, and whole
    #hashtag / @mention tokens (case kept). Unlike `match_key`, punctuation stays: a closing
    quote or a full stop is wording (the camouflage rules read it), not decoration. A text
    that is only padding is kept. `c` is canonical with whitespace collapsed to single spaces
    and stripped, as `documents._clean_sql` leaves it, so tokens end at spaces and nothing
    here normalises again."""
    if c is None:
        return None
    end = len(c)
    while end:
        k = _symbol_run_start(c, end)
        start = c.rfind(" ", 0, k) + 1  # the last token is c[start:k]
        if k and c[start] in _TOKEN_MARKS:
            end = start  # a hashtag or mention: look left of it
            continue
        return c[:k] if k else c
    return c


def unpadded_array(col: pa.Array) -> pa.Array:
    """`unpadded` over an Arrow string array (nulls stay null)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return pa.array([unpadded(c) for c in col.to_pylist()], pa.string())


# Distinct texts each of a connection's text functions remembers: ~107 MB each when full
# of the real-shaped benchmark dump's texts (tracemalloc). Copies repeat across a dump (a 1M-
# tweet replicated dump holds 170k distinct texts, the real-shaped one 289k in 515k: retweets
# carry their original's text), so a text is canonicalised once rather than once per batch.
# Full, the memory is cleared and refilled; it goes with the connection.
CACHE_TEXTS = 1 << 18


def _vectorised(fn, cap: int = CACHE_TEXTS):
    """An Arrow UDF of the array function `fn` that computes each distinct text once."""
    cache: dict[str, str] = {}

    def udf(col: pa.Array) -> pa.Array:
        # Arrow finds the batch's distinct texts and puts the rows back together (take), so
        # Python touches each distinct text once, not each row (copies are common: 6.7M
        # original tweets of the 10M benchmark dump hold 117k texts). ~15 % less time there.
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        enc = pc.dictionary_encode(col)  # nulls stay null indices, so take() keeps them null
        distinct = enc.dictionary.to_pylist()
        missing = [v for v in distinct if v not in cache]
        if len(cache) + len(missing) > cap:
            cache.clear()  # and this batch's texts that it held go with it
            missing = distinct
        if missing:
            cache.update(zip(missing, fn(pa.array(missing, pa.string())).to_pylist()))
        return pc.take(pa.array([cache[v] for v in distinct], pa.string()), enc.indices)

    return udf


def register(con) -> None:
    """Make `canon(text)`, `canon_match(text)` and `canon_unpad(text)` callable from a DuckDB
    connection's SQL.
    A connection that has them already is left as it is, so a caller's own connection can be
    handed in wherever the package takes one."""
    from duckdb.sqltypes import VARCHAR

    for name, fn in ((UDF_NAME, canonical_array), (MATCH_UDF_NAME, match_key_array), (UNPAD_UDF_NAME, unpadded_array)):
        if con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [name]).fetchall()[0][0]:
            continue
        con.create_function(name, _vectorised(fn), [VARCHAR], VARCHAR,
                            type="arrow", null_handling="special", side_effects=False)
