"""Text features: what an account writes, in any script, with no tokenizer and nothing fitted.

Computed on each account's deterministic sample of cleaned tweets (`documents`: originals
first, release artefacts such as handles and t.co links removed), so the cost is bounded
per account, not by the size of the dump:

- narrative lexicon shares (`lexicons.LEXICONS`: Hong Kong, COVID-19, Guo Wengui, Xinjiang),
  in Simplified, Traditional and English;
- script mix: Han and Latin letters' share of all letters, and among characters that differ
  between the scripts, the Traditional share (Hong Kong and Taiwan write Traditional; the
  operations in the record mostly post Simplified, also when they address Hong Kong);
- camouflage share: quoted wisdom, classical verse, motivational filler, impersonal one-line
  aphorisms in English — what the releases show these networks post between narratives.

The same sample, joined, is the account's document (`doc`, a meta column): the model's
fitted character n-gram score (`models.text_ngram`) is computed from it, inside the model,
so that part is fitted on training accounts only.
"""

from __future__ import annotations

import re

import duckdb

from pipeline.canon import canonical
from pipeline.config import TextParams
from pipeline.sql import literal
from pipeline.documents import TWEET_SEPARATOR, URL_TOKEN, sampled_tweets_sql
from pipeline.features.lexicons import CAMOUFLAGE_MARKERS, LEXICONS, SIMPLIFIED_CHARS, TRADITIONAL_CHARS

TEXT_FEATURES = (
    *(f"lex_{name}_share" for name in LEXICONS), "lex_any_share",
    "han_char_share", "latin_char_share", "trad_char_share", "camouflage_share",
)

# RE2. Classical verse: two or more clauses of exactly five or seven Han characters.
_VERSE = r"^(\p{Han}{5}|\p{Han}{7})([，,。；;！!？?、\s]+(\p{Han}{5}|\p{Han}{7}))+[。.！!]?$"
# A one-line English aphorism: capitalised, 3 to 14 words, one full stop at the end, and no
# person in it (organic posts say I, you, we), no hashtag, mention or digit.
_APHORISM = r"^[A-Z][A-Za-z',;\- ]+[.!]$"
_PERSONAL = r"(?i)\b(i|i'm|me|my|we|our|us|you|your)\b"
# A whole post in quotation marks, or a quotation with an attribution dash.
_QUOTED = r"^[\"“「『].+[\"”」』]$|——|--\s*\w"


_RE_META = re.compile(r"([.^$*+?()\[\]{}|\\-])")


def _alternation(terms) -> str:
    """A quoted RE2 alternation of literal terms in canonical form (the text they are matched
    against is canonical: a Traditional term is matched as its Simplified form), lower-cased."""
    folded = dict.fromkeys(canonical(t).lower() for t in terms)  # ordered, without the duplicates folding makes
    return literal("(" + "|".join(_RE_META.sub(r"\\\1", t) for t in folded) + ")")


def _count_sql(col: str, char_class: str) -> str:
    # Characters of the class: what is left once every run of other characters is removed.
    # Runs, not single characters: the same string, with one replacement per run instead of
    # one per character (a Latin tweet is a single run for the Han count): ~3x faster.
    return f"length(regexp_replace({col}, '[^{char_class}]+', '', 'g'))"


def text_features_sql(source: str, p: TextParams) -> str:
    """(userid, the TEXT_FEATURES..., doc) for every account of `source` with usable text."""
    lex = ",\n".join(
        f"AVG(CASE WHEN regexp_matches(low, {_alternation(terms)}) THEN 1.0 ELSE 0.0 END) AS lex_{name}_share"
        for name, terms in LEXICONS.items()
    )
    any_lex = _alternation([t for terms in LEXICONS.values() for t in terms])
    # Script shares from the canonical text, except Traditional vs Simplified: canonical text is
    # Simplified throughout, and which script an account writes is itself a trait.
    counts = ",\n".join(
        f"{_count_sql(col, cls)} AS n_{name}"
        for name, cls, col in (("letters", r"\p{L}", "txt"), ("han", r"\p{Han}", "txt"), ("latin", r"\p{Latin}", "txt"),
                               ("trad", TRADITIONAL_CHARS, "raw"), ("simp", SIMPLIFIED_CHARS, "raw"))
    )
    return f"""{sampled_tweets_sql(source, p.tweets_per_account, p.seed, ids=None)},
    per_tweet AS (
        SELECT userid, r, txt, LOWER(txt) AS low,
               trim(regexp_replace(txt, '\\b{URL_TOKEN}\\b', '', 'g')) AS bare,
               {counts}
        FROM sampled
    )
    SELECT userid,
           {lex},
           AVG(CASE WHEN regexp_matches(low, {any_lex}) THEN 1.0 ELSE 0.0 END) AS lex_any_share,
           SUM(n_han) / NULLIF(SUM(n_letters), 0)::DOUBLE AS han_char_share,
           SUM(n_latin) / NULLIF(SUM(n_letters), 0)::DOUBLE AS latin_char_share,
           SUM(n_trad) / NULLIF(SUM(n_trad) + SUM(n_simp), 0)::DOUBLE AS trad_char_share,
           AVG(CASE WHEN regexp_matches(bare, {literal(_VERSE)})
                      OR regexp_matches(bare, {literal(_QUOTED)})
                      OR regexp_matches(low, {_alternation(CAMOUFLAGE_MARKERS)})
                      OR (regexp_matches(bare, {literal(_APHORISM)}) AND NOT regexp_matches(bare, {literal(_PERSONAL)})
                          AND len(string_split(bare, ' ')) BETWEEN 3 AND 14)
                    THEN 1.0 ELSE 0.0 END) AS camouflage_share,
           left(string_agg(txt, '{TWEET_SEPARATOR}' ORDER BY r), {int(p.max_chars)}) AS doc
    FROM per_tweet GROUP BY userid
    """


def compute_text(con: duckdb.DuckDBPyConnection, p: TextParams, tweets: str = "tweets") -> None:
    """Create temp table `txt` (userid, TEXT_FEATURES, doc) from the view `tweets`."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE txt AS {text_features_sql(tweets, p)}")
