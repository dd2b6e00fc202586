"""Hostile input, faults and safety (docs/reliability.md lists every case and its test).

Property tests use hypothesis with a bounded CI profile; ``HYPOTHESIS_PROFILE=long`` runs
many more examples locally.
"""

from __future__ import annotations

import codecs
import csv
import errno
import gzip
import io
import logging
import os
import struct
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import IngestParams
from pipeline.errors import ConfigError, InputError
from pipeline.ingest import OutputError, ingest_dumps
from pipeline.schema import TWEETS_COLUMNS, USERS_COLUMNS

settings.register_profile(
    "ci", max_examples=30, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long", max_examples=600, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

OUTPUTS = ("accounts.parquet", "tweets.parquet", "quarantine.csv", "ingest_report.json")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# ----------------------------------------------------------------------------- strategies

# Any text a tweet or profile can hold: every code point except surrogates and NUL, plus the
# characters that break naive CSV handling.
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_specials = st.sampled_from(
    ['"', '""', "\n", "\r\n", "\r", ",", "'", " ", "香港", "😀", "\u2028", "\x85", "a\"b\"\"c", "=1+1", "é", "\ufeff"]
)
text = st.lists(st.one_of(st.text(_chars, max_size=12), _specials), max_size=4).map("".join)


@st.composite
def numeric_id(draw) -> tuple[str, str]:
    """(as written, as loaded): plain digits, or float-written as the archive sometimes does."""
    form = draw(st.sampled_from(["plain", "plain", "sci", "dot0"]))
    if form == "plain":
        v = str(draw(st.integers(1, 10**19)))
        return v, v
    if form == "dot0":
        v = draw(st.integers(1, 10**15))
        return f"{v}.0", str(v)
    mant = str(draw(st.integers(1, 10**9)))
    exp = len(mant) - 1 + draw(st.integers(0, 10))  # integral value
    written = f"{mant[0]}.{mant[1:]}e+{exp}" if len(mant) > 1 else f"{mant}e+{exp:02d}"
    return written, str(int(Decimal(written)))


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
hashed_id = st.one_of(
    st.text(st.sampled_from(_B64), min_size=43, max_size=43).map(lambda s: (s + "=", s + "=")),
    st.text(st.sampled_from("0123456789abcdef"), min_size=64, max_size=64).map(lambda s: (s, s)),
)
any_id = st.one_of(numeric_id(), hashed_id)
opt_id = st.one_of(st.just(("", None)), any_id)
count = st.one_of(st.just(("", None)), st.integers(0, 2**63 - 1).map(lambda v: (str(v), v)),
                  st.integers(0, 2**40).map(lambda v: (f"{v}.0", v)))
day = st.one_of(st.just(("", None)), st.dates(date(1, 1, 1), date(9999, 12, 31)).map(lambda d: (d.isoformat(), d)))
boolean = st.sampled_from([("True", True), ("False", False), ("true", True), ("false", False), ("", None)])
coord = st.one_of(st.sampled_from([("absent", None), ("", None)]),
                  st.floats(-180, 180, allow_nan=False).map(lambda f: (repr(f), f)))


def _tweet_time(dt: datetime, with_seconds: bool) -> tuple[str, datetime]:
    written = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d} {dt.hour:02d}:{dt.minute:02d}"
    if with_seconds:
        return f"{written}:{dt.second:02d}", dt.replace(microsecond=0, tzinfo=timezone.utc)
    return written, dt.replace(second=0, microsecond=0, tzinfo=timezone.utc)


tweet_time = st.builds(_tweet_time, st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)), st.booleans())


def _text_list(items: list[str], quoting: str) -> str:
    if quoting == "ints":
        return "[" + ", ".join(items) + "]"
    return repr(items)


@st.composite
def list_field(draw, ids: bool = False) -> tuple[str, list[str] | None]:
    kind = draw(st.sampled_from(["empty", "none", "items"]))
    if kind == "none":
        return "", None
    if kind == "empty":
        return "[]", []
    if ids:
        pairs = draw(st.lists(st.one_of(numeric_id().filter(lambda p: p[0] == p[1]), hashed_id), min_size=1, max_size=3))
        items = [w for w, _ in pairs]
        quoting = "ints" if all(i.isdigit() for i in items) and draw(st.booleans()) else "repr"
        return _text_list(items, quoting), [n for _, n in pairs]
    items = draw(st.lists(text, min_size=1, max_size=3))
    return repr(items), items


@st.composite
def profile(draw) -> dict[str, tuple[str, Any]]:
    return {
        "user_display_name": draw(text.map(lambda s: (s, s or None))),
        "user_screen_name": draw(text.map(lambda s: (s, s or None))),
        "user_reported_location": draw(text.map(lambda s: (s, s or None))),
        "user_profile_description": draw(text.map(lambda s: (s, s or None))),
        "user_profile_url": draw(text.map(lambda s: (s, s or None))),
        "follower_count": draw(count),
        "following_count": draw(count),
        "account_creation_date": draw(day),
        "account_language": draw(text.map(lambda s: (s, s or None))),
    }


@st.composite
def tweet_fields(draw, uid: tuple[str, str], tid: tuple[str, str]) -> dict[str, tuple[str, Any]]:
    row = {"tweetid": tid, "userid": uid, **draw(profile())}
    row.update(
        tweet_language=draw(text.map(lambda s: (s, s or None))),
        tweet_text=draw(text.map(lambda s: (s, s or None))),
        tweet_time=draw(tweet_time),
        tweet_client_name=draw(text.map(lambda s: (s, s or None))),
        in_reply_to_userid=draw(opt_id), in_reply_to_tweetid=draw(opt_id), quoted_tweet_tweetid=draw(opt_id),
        is_retweet=draw(boolean), retweet_userid=draw(opt_id), retweet_tweetid=draw(opt_id),
        latitude=draw(coord), longitude=draw(coord),
        quote_count=draw(count), reply_count=draw(count), like_count=draw(count), retweet_count=draw(count),
        hashtags=draw(list_field()), urls=draw(list_field()), user_mentions=draw(list_field(ids=True)),
        poll_choices=draw(text.map(lambda s: (s, s or None))),
    )
    return row


@dataclass
class Dump:
    users: list[dict[str, tuple[str, Any]]]
    tweets: list[dict[str, tuple[str, Any]]]
    user_columns: list[str]
    tweet_columns: list[str]
    container: str  # csv | gz | zip | parts
    headerless_part2: bool
    encoding: str  # utf-8 | utf-8-sig | utf-16
    newline: str


@st.composite
def valid_dump(draw) -> Dump:
    uids = draw(st.lists(any_id, min_size=1, max_size=4, unique_by=lambda p: p[1]))
    tids = draw(st.lists(any_id, min_size=1, max_size=6, unique_by=lambda p: p[1]))
    users = [{"userid": u, **draw(profile())} for u in uids if draw(st.booleans())]
    tweets = [draw(tweet_fields(draw(st.sampled_from(uids)), t)) for t in tids]
    ucols = draw(st.permutations(list(USERS_COLUMNS)))
    tcols = list(TWEETS_COLUMNS) + (["poll_choices"] if draw(st.booleans()) else [])
    tcols = draw(st.permutations(tcols))
    if "poll_choices" not in tcols:
        for t in tweets:
            t["poll_choices"] = ("", None)
    return Dump(
        users, tweets, list(ucols), list(tcols),
        container=draw(st.sampled_from(["csv", "gz", "zip", "parts"])),
        headerless_part2=draw(st.booleans()),
        encoding=draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"])),
        newline=draw(st.sampled_from(["\n", "\r\n"])),
    )


# ----------------------------------------------------------------------------- writing dumps


def csv_bytes(rows: list[dict[str, tuple[str, Any]]], columns: list[str], *, header: bool = True,
              encoding: str = "utf-8", newline: str = "\n") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator=newline)
    if header:
        w.writerow(columns)
    for r in rows:
        w.writerow([r[c][0] if c in r else "" for c in columns])
    return buf.getvalue().encode(encoding)


def write_dump(root: Path, d: Dump) -> dict[str, str]:
    """Write the dump under root/dump; return {tweetid as loaded: source_file label}."""
    dump = root / "dump"
    dump.mkdir(parents=True)
    enc, nl = d.encoding, d.newline
    sources: dict[str, str] = {}
    if d.users:
        (dump / "a_users.csv").write_bytes(csv_bytes(d.users, d.user_columns, encoding=enc, newline=nl))
    if d.container == "parts" and len(d.tweets) > 1:
        half = len(d.tweets) // 2
        p1, p2 = dump / "t_tweets_part1.csv", dump / "t_tweets_part2.csv"
        p1.write_bytes(csv_bytes(d.tweets[:half], d.tweet_columns, encoding=enc, newline=nl))
        headered = not d.headerless_part2 or enc != "utf-8"  # a BOM'd headerless part is not a thing
        p2.write_bytes(csv_bytes(d.tweets[half:], d.tweet_columns, header=headered, encoding=enc, newline=nl))
        for i, t in enumerate(d.tweets):
            sources[t["tweetid"][1]] = str(p1 if i < half else p2)
        return sources
    body = csv_bytes(d.tweets, d.tweet_columns, encoding=enc, newline=nl)
    if d.container == "gz":
        f = dump / "t_tweets.csv.gz"
        f.write_bytes(gzip.compress(body))
        label = str(f)
    elif d.container == "zip":
        f = dump / "t_bundle.zip"
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("inner/t_tweets.csv", body)
        label = f"{f}::inner/t_tweets.csv"
    else:
        f = dump / "t_tweets.csv"
        f.write_bytes(body)
        label = str(f)
    for t in d.tweets:
        sources[t["tweetid"][1]] = label
    return sources


def read_quarantine(out: Path) -> list[dict[str, str]]:
    with open(out / "quarantine.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def ts_of(v: Any) -> int:
    return int((v - EPOCH).total_seconds())


# ----------------------------------------------------------------------------- 1. round trip


TWEET_OUT = [c for c in TWEETS_COLUMNS if c not in ("userid",) and c not in USERS_COLUMNS] + ["userid", "poll_choices"]
PROFILE_OUT = [c for c in USERS_COLUMNS if c != "userid"]


@given(valid_dump())
def test_valid_dumps_round_trip_exactly(d: Dump) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = write_dump(root, d)
        report = ingest_dumps([(str(root / "dump"), "camp", "state_linked")], root / "out", IngestParams(batch_rows=100))
        out = root / "out"
        assert read_quarantine(out) == []
        assert report.quarantined == 0 and report.tweets == len(d.tweets)
        assert sum(f.rows_read for f in report.files if f.kind == "tweets") == len(d.tweets)

        got = {r["tweetid"]: r for r in pq.read_table(out / "tweets.parquet").to_pylist()}
        assert set(got) == {t["tweetid"][1] for t in d.tweets}
        for t in d.tweets:
            g = got[t["tweetid"][1]]
            for col in TWEET_OUT:
                assert g[col] == t[col][1], (col, t[col], g[col])
            assert (g["campaign"], g["label"], g["source_file"]) == ("camp", "state_linked", sources[t["tweetid"][1]])

        accounts = {r["userid"]: r for r in pq.read_table(out / "accounts.parquet").to_pylist()}
        expected: dict[str, dict[str, tuple[str, Any]]] = {u["userid"][1]: u for u in d.users}
        latest: dict[str, tuple[int, dict]] = {}
        for t in d.tweets:  # accounts without a users row: profile of their latest tweet row
            uid, when = t["userid"][1], ts_of(t["tweet_time"][1])
            if uid not in expected and (uid not in latest or when >= latest[uid][0]):
                latest[uid] = (when, t)
        assert set(accounts) == set(expected) | set(latest)
        for uid, a in accounts.items():
            src = expected.get(uid) or latest[uid][1]
            for col in PROFILE_OUT:
                assert a[col] == src[col][1], (col, src[col], a[col])
            assert a["from_users_file"] is (uid in expected)
            assert a["is_hashed"] is not (uid.isdigit() and uid.isascii())


# ----------------------------------------------------------------------------- 2. field corruptions

# (name, how the row is changed, expected: 'q:<reason substring>' quarantined, or 'ok' read)
FIELD_CORRUPTIONS: dict[str, tuple[dict[str, str], str]] = {
    "negative count": ({"like_count": "-3"}, "q:negative like_count"),
    "count over int64": ({"retweet_count": "99999999999999999999"}, "q:retweet_count out of range"),
    "float count over int64": ({"quote_count": "1e20"}, "q:quote_count out of range"),
    "superscript digit count": ({"follower_count": "²"}, "q:unparseable number in follower_count"),
    "word count": ({"reply_count": "many"}, "q:unparseable number in reply_count"),
    "US date": ({"tweet_time": "01/02/2020 10:00"}, "q:unparseable tweet_time"),
    "month 13": ({"tweet_time": "2020-13-01 00:00"}, "q:unparseable tweet_time"),
    "February 30": ({"tweet_time": "2020-02-30 10:00"}, "q:unparseable tweet_time"),
    "year 0": ({"tweet_time": "0000-01-01 00:00"}, "q:unparseable tweet_time"),
    "year 10000": ({"tweet_time": "10000-01-01 00:00"}, "q:unparseable tweet_time"),
    "hour 25": ({"tweet_time": "2020-01-01 25:00"}, "q:unparseable tweet_time"),
    "empty time": ({"tweet_time": ""}, "q:empty tweet_time"),
    "bad creation date": ({"account_creation_date": "2019-02-29"}, "q:unparseable account_creation_date"),
    "creation date words": ({"account_creation_date": "last year"}, "q:unparseable account_creation_date"),
    "empty tweetid": ({"tweetid": ""}, "q:empty tweetid"),
    "empty userid": ({"userid": "  "}, "q:empty userid"),
    "bad boolean": ({"is_retweet": "maybe"}, "q:unparseable is_retweet"),
    "bad latitude": ({"latitude": "north"}, "q:unparseable latitude"),
    "code in a list": ({"hashtags": "__import__('os').system('true')"}, "q:unparseable list in hashtags"),
    "nested list": ({"urls": "[['a']]"}, "q:unparseable list in urls"),
    "NUL byte": ({"tweet_text": "a\x00b"}, "q:NUL byte"),
    "ISO time with Z": ({"tweet_time": "2020-01-02T03:04:05Z"}, "ok"),
    "ISO time with offset": ({"tweet_time": "2020-01-02T03:04:05+08:00"}, "ok"),
    "time with seconds": ({"tweet_time": "2020-01-02 03:04:05"}, "ok"),
    "date time as creation date": ({"account_creation_date": "2015-06-01 00:00:00"}, "ok"),
    "year 1 time": ({"tweet_time": "0001-01-01 00:00"}, "ok"),
    "year 9999 time": ({"tweet_time": "9999-12-31 23:59"}, "ok"),
    "unknown author": ({"userid": "424242424242"}, "ok"),
}


def _base_row(i: int, uid: str) -> dict[str, str]:
    row = {c: "" for c in (*TWEETS_COLUMNS, "poll_choices")}
    row.update(tweetid=str(1000 + i), userid=uid, user_screen_name=f"sn{i}", follower_count="10",
               following_count="5", account_creation_date="2015-06-01", tweet_language="en",
               tweet_text=f"text {i}", tweet_time="2020-01-02 03:04", is_retweet="False", latitude="absent",
               longitude="absent", quote_count="0", reply_count="0", like_count="1", retweet_count="2",
               hashtags="[]", urls="[]", user_mentions="[]")
    return row


@given(
    st.lists(st.tuples(st.sampled_from(sorted(FIELD_CORRUPTIONS) + ["none", "none", "invalid UTF-8", "duplicate tweetid",
                                                                    "1 MB field"]), text), min_size=1, max_size=8),
)
def test_field_corruptions_are_read_or_quarantined_with_a_reason(plan: list[tuple[str, str]]) -> None:
    rows, expect = [], []
    for i, (name, words) in enumerate(plan):
        r = _base_row(i, "100" if i % 2 else "200")
        r["tweet_text"] = words  # random text around the corruption
        if name in FIELD_CORRUPTIONS:
            r.update(FIELD_CORRUPTIONS[name][0])
            expect.append(FIELD_CORRUPTIONS[name][1])
        elif name == "invalid UTF-8":
            r["tweet_text"] = "@@BAD@@"
            expect.append("q:invalid UTF-8")
        elif name == "duplicate tweetid" and i > 0 and expect[0] == "ok" and plan[0][0] != "1 MB field":
            r["tweetid"] = rows[0]["tweetid"]
            expect.append("q:duplicate tweetid")
        elif name == "1 MB field":
            for k, v in r.items():  # one physical line, so the reader resumes on the next record
                r[k] = v.replace("\n", " ").replace("\r", " ")
            r["tweet_text"] = "x" * (1_000_001)
            expect.append("q:field longer than 1000000")
        else:
            expect.append("ok")
        rows.append(r)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cols = list(TWEETS_COLUMNS) + ["poll_choices"]
        data = csv_bytes([{k: (v, None) for k, v in r.items()} for r in rows], cols).replace(b"@@BAD@@", b"caf\xe9 \xff")
        f = root / "d" / "x_tweets.csv"
        f.parent.mkdir()
        f.write_bytes(data)
        users = root / "d" / "x_users.csv"
        users.write_bytes(csv_bytes([{"userid": ("100", None)}, {"userid": ("200", None)}], list(USERS_COLUMNS)))
        out = root / "out"
        report = ingest_dumps([(str(root / "d"), "c", "control")], out)
        q = {int(r["line"]): r["reason"] for r in read_quarantine(out) if r["file"] == str(f)}
        # the line where each record starts
        starts, line = [], 2
        for r in rows:
            starts.append(line)
            line += sum(v.count("\n") for v in r.values() if isinstance(v, str)) + 1
        got = {t["tweetid"]: t for t in pq.read_table(out / "tweets.parquet").to_pylist()}
        for r, start, exp in zip(rows, starts, expect):
            if exp == "ok":
                assert start not in q, (r, q.get(start))
            else:
                assert exp[2:] in q.get(start, ""), (exp, q.get(start))
        n_ok = sum(e == "ok" for e in expect)
        assert len(got) == n_ok == report.tweets
        [fr] = [x for x in report.files if x.file == str(f)]
        assert fr.rows_read + fr.rows_quarantined == len(rows) == n_ok + len(q)
        acc = {a["userid"]: a for a in pq.read_table(out / "accounts.parquet").to_pylist()}
        if "424242424242" in {t["userid"] for t in got.values()}:
            assert acc["424242424242"]["from_users_file"] is False  # rebuilt from its tweet rows


# ----------------------------------------------------------------------------- 3. structural corruptions


def reference_records(data: bytes) -> int | None:
    """Records in a CSV file as Python's csv module delimits them (lines split on '\\n', like
    the reader), not counting the header or blank lines; None when the header is unreadable."""
    for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            text = data.decode(enc, "surrogatepass")
            break
    else:
        text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")
    parts = text.split("\n")
    tail = parts.pop()
    lines = [p + "\n" for p in parts] + ([tail] if tail else [])
    previous = csv.field_size_limit(sys.maxsize)
    try:
        reader = csv.reader(iter(lines), strict=False)
        try:
            next(reader)
        except (StopIteration, csv.Error):
            return None
        n = 0
        while True:
            try:
                for row in reader:
                    n += bool(row)
                return n
            except csv.Error:  # one malformed record; the reader goes on with the next line
                n += 1
    finally:
        csv.field_size_limit(previous)


@st.composite
def corrupted_file(draw) -> tuple[bytes, list[str]]:
    n = draw(st.integers(1, 6))
    rows = []
    for i in range(n):
        r = _base_row(i, draw(st.sampled_from(["100", "200", "300"])))
        r["tweet_text"] = draw(text)
        r["user_display_name"] = draw(text)
        rows.append({k: (v, None) for k, v in r.items()})
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    data = bytearray(csv_bytes(rows, list(TWEETS_COLUMNS) + ["poll_choices"], newline=newline))
    applied = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "stray quote", "extra column", "missing column", "insert byte",
                                     "delete byte", "BOM", "NUL", "invalid UTF-8", "duplicate line", "lone CR"]))
        applied.append(kind)
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "truncate":
            del data[pos:]
        elif kind == "stray quote":
            data[pos:pos] = b'"'
        elif kind == "extra column":
            nl = data.find(b"\n", pos)
            if nl > 0:
                data[nl - (1 if data[nl - 1:nl] == b"\r" else 0):nl - (1 if data[nl - 1:nl] == b"\r" else 0)] = b',"extra"'
        elif kind == "missing column":
            comma = data.find(b'","', pos)
            if comma >= 0:
                end = data.find(b'"', comma + 3)
                if end > 0:
                    del data[comma + 1:end + 2]
        elif kind == "insert byte":
            data[pos:pos] = bytes([draw(st.integers(0, 255))])
        elif kind == "delete byte":
            del data[pos]
        elif kind == "BOM":
            data[0:0] = codecs.BOM_UTF8
        elif kind == "NUL":
            data[pos:pos] = b"\x00"
        elif kind == "invalid UTF-8":
            data[pos:pos] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe9t\xe9", b"\xed\xa0\x80"]))
        elif kind == "duplicate line":
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            if end > 0:
                data[end + 1:end + 1] = data[start:end + 1]
        elif kind == "lone CR":
            data[pos:pos] = b"\r"
    return bytes(data), applied


def _one_sentence_naming(exc: Exception, name: str) -> None:
    msg = str(exc)
    assert name in msg, msg
    assert "\n" not in msg and "Traceback" not in msg and len(msg) < 600, msg


@given(corrupted_file(), st.sampled_from(["csv", "gz", "zip"]))
def test_corrupted_files_never_crash_and_counts_add_up(case: tuple[bytes, list[str]], container: str) -> None:
    data, _applied = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        d = root / "d"
        d.mkdir()
        if container == "gz":
            (d / "x_tweets.csv.gz").write_bytes(gzip.compress(data))
        elif container == "zip":
            with zipfile.ZipFile(d / "x.zip", "w") as zf:
                zf.writestr("x_tweets.csv", data)
        else:
            (d / "x_tweets.csv").write_bytes(data)
        out = root / "out"
        try:
            report = ingest_dumps([(str(d), "c", "control")], out)
        except InputError as exc:
            _one_sentence_naming(exc, "x_tweets.csv")
            assert not any((out / n).exists() for n in OUTPUTS)  # all or nothing
            return
        expected = reference_records(data)
        assert expected is not None
        [fr] = report.files
        # Every record is read, quarantined, or counted as the header again (parts joined with cat).
        assert fr.rows_read + fr.rows_quarantined + fr.header_rows == expected
        q = read_quarantine(out)
        assert len(q) == fr.rows_quarantined == report.quarantined
        assert all(r["reason"] and int(r["line"]) >= 2 for r in q)
        assert pq.read_metadata(out / "tweets.parquet").num_rows == report.tweets == fr.rows_read


# ----------------------------------------------------------------------------- 4. encodings


def _tweets_csv(texts: list[str]) -> str:
    rows = []
    for i, t in enumerate(texts):
        r = _base_row(i, "100")
        r["tweet_text"] = t
        rows.append({k: (v, None) for k, v in r.items()})
    return csv_bytes(rows, list(TWEETS_COLUMNS) + ["poll_choices"]).decode("utf-8")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_unicode_files_with_a_byte_order_mark_are_decoded(tmp_path: Path, encoding: str) -> None:
    body = _tweets_csv(["香港 😀", "line\r\nbreak", "plain"])
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + body.encode("utf-16-be")
    else:
        data = body.encode(encoding)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "u_tweets.csv").write_bytes(data)
    report = ingest_dumps([(str(tmp_path / "d"), None, None)], tmp_path / "out")
    got = sorted(t["tweet_text"] for t in pq.read_table(tmp_path / "out" / "tweets.parquet").to_pylist())
    assert got == sorted(["香港 😀", "line\r\nbreak", "plain"])
    assert report.quarantined == 0
    if encoding != "utf-8-sig":
        assert any("byte-order mark" in w for w in report.warnings)


def test_utf16_with_an_unpaired_surrogate_quarantines_that_row(tmp_path: Path) -> None:
    body = _tweets_csv(["ok", "@@S@@", "also ok"]).encode("utf-16-le")
    body = codecs.BOM_UTF16_LE + body.replace("@@S@@".encode("utf-16-le"), b"\x00\xd8")  # lone high surrogate
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "s_tweets.csv").write_bytes(body)
    report = ingest_dumps([(str(tmp_path / "d"), None, None)], tmp_path / "out")
    [q] = read_quarantine(tmp_path / "out")
    assert q["reason"] == "invalid UTF-8" and q["line"] == "3"
    assert report.tweets == 2


def test_gb18030_file_is_refused_naming_the_encoding(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "gb_tweets.csv"
    f.write_bytes(_tweets_csv([f"香港第{i}条" for i in range(12)]).encode("gb18030"))
    with pytest.raises(InputError) as exc:
        ingest_dumps([(str(f), None, None)], tmp_path / "out")
    _one_sentence_naming(exc.value, "gb_tweets.csv")
    assert "not UTF-8" in str(exc.value) and "GB18030" in str(exc.value)
    assert not (tmp_path / "out" / "tweets.parquet").exists()


def test_gb18030_rows_in_a_mostly_ascii_file_are_quarantined(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "mix_tweets.csv"
    texts = [f"plain {i}" for i in range(20)] + ["香港"]
    f.write_bytes(_tweets_csv(texts).encode("gb18030"))
    report = ingest_dumps([(str(f), None, None)], tmp_path / "out")
    [q] = read_quarantine(tmp_path / "out")
    assert q["reason"] == "invalid UTF-8" and report.tweets == 20


# ----------------------------------------------------------------------------- 5. faults: interrupts


def _many_tweets(path: Path, n: int = 350) -> Path:
    rows = []
    for i in range(n):
        r = _base_row(i, str(i % 7))
        rows.append({k: (v, None) for k, v in r.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(rows, list(TWEETS_COLUMNS) + ["poll_choices"]))
    return path


def test_ingest_killed_mid_way_leaves_old_outputs_and_restarts_cleanly(tmp_path: Path, monkeypatch) -> None:
    from pipeline.ingest.sink import Sink

    small = _many_tweets(tmp_path / "a" / "a_tweets.csv", 20)
    big = _many_tweets(tmp_path / "b" / "b_tweets.csv", 350)
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    ingest_dumps([str(small)], out, IngestParams(batch_rows=100))
    before = {n: (out / n).read_bytes() for n in OUTPUTS}

    real, calls = Sink.flush_tweets, {"n": 0}

    def killed(self) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # two batches are written, then the process is killed
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(Sink, "flush_tweets", killed)
    for target in (out, fresh):
        calls["n"] = 0
        with pytest.raises(KeyboardInterrupt):
            ingest_dumps([str(big)], target, IngestParams(batch_rows=100))
    assert {n: (out / n).read_bytes() for n in OUTPUTS} == before  # the previous run's outputs, intact
    assert not any((fresh / n).exists() for n in OUTPUTS)  # nothing half-written
    assert not list(tmp_path.glob("*/.*.tmp"))  # no temporary files left behind

    monkeypatch.setattr(Sink, "flush_tweets", real)
    report = ingest_dumps([str(big)], out, IngestParams(batch_rows=100))
    clean = ingest_dumps([str(big)], fresh, IngestParams(batch_rows=100))
    assert report.tweets == clean.tweets == 350
    assert pq.read_table(out / "tweets.parquet").equals(pq.read_table(fresh / "tweets.parquet"))
    assert pq.read_table(out / "accounts.parquet").equals(pq.read_table(fresh / "accounts.parquet"))


def test_cli_reports_an_interrupt_without_partial_output(tmp_path: Path, monkeypatch) -> None:
    from pipeline.ingest.sink import Sink

    big = _many_tweets(tmp_path / "b" / "b_tweets.csv", 250)

    def killed(self) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Sink, "flush_tweets", killed)
    res = CliRunner().invoke(app, ["ingest", str(big), "--out", str(tmp_path / "out"), "--no-progress",
                                   "--params", str(tmp_path / "none.yaml")])
    assert res.exit_code == 130 and "no partial output" in res.output
    assert not any((tmp_path / "out" / n).exists() for n in OUTPUTS)


# ----------------------------------------------------------------------------- 6. faults: output


def _cli_ingest(src: Path, out: Path):
    return CliRunner().invoke(app, ["ingest", str(src), "--out", str(out), "--no-progress",
                                    "--params", str(out.parent / "absent-params.yaml")])


def _assert_one_sentence_exit_2(res, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    for n in needles:
        assert n in res.output, res.output


def test_output_folder_under_a_file_is_one_clear_sentence(tmp_path: Path) -> None:
    src = _many_tweets(tmp_path / "d" / "x_tweets.csv", 5)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    res = _cli_ingest(src, blocker / "sub")
    _assert_one_sentence_exit_2(res, str(blocker) + " is a file", "Cannot create the output folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_folder_is_one_clear_sentence(tmp_path: Path) -> None:  # pragma: no cover - as root
    src = _many_tweets(tmp_path / "d" / "x_tweets.csv", 5)
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    res = _cli_ingest(src, ro / "out")
    _assert_one_sentence_exit_2(res, "permission denied")


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_writing_parquet_is_one_clear_sentence(tmp_path: Path, monkeypatch) -> None:
    import pyarrow.parquet as pq_mod

    class FullDisk(pq_mod.ParquetWriter):
        def write_table(self, *a, **k):
            _enospc()

    src = _many_tweets(tmp_path / "d" / "x_tweets.csv", 5)
    monkeypatch.setattr(pq_mod, "ParquetWriter", FullDisk)
    res = _cli_ingest(src, tmp_path / "out")
    _assert_one_sentence_exit_2(res, "No space left on the device", "tweets.parquet")
    assert "cannot be read" not in res.output  # not blamed on the input file
    assert not any((tmp_path / "out" / n).exists() for n in OUTPUTS)
    assert not list((tmp_path / "out").glob(".*.tmp"))
    # a batch flushed while a file is being read: still an output error, not an input one
    big = _many_tweets(tmp_path / "d2" / "y_tweets.csv", 150)
    with pytest.raises(OutputError, match="No space left on the device") as exc:
        ingest_dumps([str(big)], tmp_path / "out2", IngestParams(batch_rows=100))
    assert not isinstance(exc.value, InputError) and "tweets.parquet" in str(exc.value)


def test_disk_full_while_writing_quarantine_is_one_clear_sentence(tmp_path: Path, monkeypatch) -> None:
    src = _many_tweets(tmp_path / "d" / "x_tweets.csv", 5)
    with open(src, "ab") as fh:
        fh.write(b'"broken","row"\n')
    real_writer = csv.writer

    class Full:
        def __init__(self, fh):
            self.w, self.n = real_writer(fh), 0

        def writerow(self, row):
            self.n += 1
            if self.n > 1:  # the header fits; the first quarantined row does not
                _enospc()
            return self.w.writerow(row)

    monkeypatch.setattr(csv, "writer", lambda fh, *a, **k: Full(fh))
    res = _cli_ingest(src, tmp_path / "out")
    _assert_one_sentence_exit_2(res, "No space left on the device", "quarantine.csv")


def test_disk_full_during_the_final_renames_leaves_no_report(tmp_path: Path, monkeypatch) -> None:
    src = _many_tweets(tmp_path / "d" / "x_tweets.csv", 5)
    out = tmp_path / "out"
    assert _cli_ingest(src, out).exit_code == 0  # an earlier, complete run
    real, calls = os.replace, {"n": 0}

    def replace(a, b):
        calls["n"] += 1
        if calls["n"] == 2:  # quarantine.csv is renamed, tweets.parquet is not
            _enospc()
        return real(a, b)

    monkeypatch.setattr(os, "replace", replace)
    res = _cli_ingest(src, out)
    _assert_one_sentence_exit_2(res, "No space left on the device")
    # the report vouches for a complete set of files: none is left beside a mixed set
    assert not (out / "ingest_report.json").exists()
    assert not list(out.glob(".*.tmp"))


def test_unreadable_input_is_one_clear_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "d" / "bad_tweets.csv.gz"
    bad.parent.mkdir()
    bad.write_bytes(b"\x1f\x8b\x08 not really gzip")
    _assert_one_sentence_exit_2(_cli_ingest(bad, tmp_path / "out"), "bad_tweets.csv.gz")


# ----------------------------------------------------------------------------- 7. zip safety


def _zip_with(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _patch_central(path: Path, *, flags: int | None = None, file_size: int | None = None) -> None:
    """Rewrite the first central-directory entry (what zipfile trusts for sizes and flags)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x01\x02")
    if flags is not None:
        struct.pack_into("<H", data, at + 8, flags)
    if file_size is not None:
        struct.pack_into("<I", data, at + 24, file_size)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["../x_tweets.csv", "a/../../x_tweets.csv", "/etc/x_tweets.csv",
                                  "..\\x_tweets.csv", "C:/x_tweets.csv", "C:\\x_tweets.csv"])
def test_zip_path_traversal_is_refused(tmp_path: Path, name: str) -> None:
    z = _zip_with(tmp_path / "d" / "evil.zip", {name: _tweets_csv(["x"]).encode()})
    with pytest.raises(InputError) as exc:
        ingest_dumps([(str(z.parent), None, None)], tmp_path / "out")
    _one_sentence_naming(exc.value, "evil.zip")
    assert not (tmp_path / "x_tweets.csv").exists() and not (tmp_path.parent / "x_tweets.csv").exists()
    assert not any((tmp_path / "out" / n).exists() for n in OUTPUTS)


def test_zip_bomb_declared_ratio_is_refused_before_reading(tmp_path: Path) -> None:
    z = _zip_with(tmp_path / "d" / "bomb.zip", {"b_tweets.csv": _tweets_csv(["x"]).encode()})
    _patch_central(z, file_size=0xF0000000)  # 4 GB claimed from a few hundred bytes
    with pytest.raises(InputError, match="zip bomb") as exc:
        ingest_dumps([(str(z), None, None)], tmp_path / "out")
    _one_sentence_naming(exc.value, "bomb.zip")


def test_zip_member_lying_about_its_size_is_bounded(tmp_path: Path) -> None:
    # 4 MB of rows that declares 300 bytes: zipfile stops at the declared size and the CRC
    # check fails, so no more than the declared (ratio-checked) bytes are ever decompressed.
    body = _tweets_csv(["x" * 100] * 12_000).encode()
    z = _zip_with(tmp_path / "d" / "liar.zip", {"l_tweets.csv": body})
    _patch_central(z, file_size=300)
    with pytest.raises(InputError) as exc:
        ingest_dumps([(str(z), None, None)], tmp_path / "out")
    _one_sentence_naming(exc.value, "liar.zip")


def test_encrypted_and_nested_zips(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("n_tweets.csv", _tweets_csv(["nested"]))
    nest = _zip_with(tmp_path / "n" / "outer.zip", {"inner_tweets.zip": inner.getvalue(),
                                                    "o_tweets.csv": _tweets_csv(["outer"]).encode()})
    report = ingest_dumps([(str(nest), None, None)], tmp_path / "out")
    assert report.tweets == 1 and any("inner_tweets.zip" in s for s in report.skipped)  # never recursed
    enc = _zip_with(tmp_path / "e" / "locked.zip", {"e_tweets.csv": _tweets_csv(["x"]).encode()}, zipfile.ZIP_STORED)
    _patch_central(enc, flags=0x1)
    with pytest.raises(InputError, match="encrypted") as exc:
        ingest_dumps([(str(enc), None, None)], tmp_path / "out2")
    _one_sentence_naming(exc.value, "locked.zip")


# ----------------------------------------------------------------------------- 8. other safety


def test_csv_formula_cells_are_neutralised() -> None:
    """score.formula_safe_sql; the end-to-end check is
    tests/test_score.py::test_csv_output_is_safe_in_a_spreadsheet_and_profile_only_accounts_are_flagged."""
    import duckdb

    from pipeline.score import formula_safe_sql

    cells = ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", "a=b", "", "'already"]
    con = duckdb.connect()
    con.execute("CREATE TABLE t(v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[c] for c in cells] + [[None]])
    got = [r[0] for r in con.execute(f"SELECT {formula_safe_sql('v')} FROM t").fetchall()]
    expected = ["'" + c if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in cells] + [None]
    assert got == expected


@pytest.mark.parametrize("uri", ["http://example.org/m", "https://example.org/m", "s3://bucket/m", "gs://b/m",
                                 "file:///etc/m", "ftp://h/m", "hdfs://h/m", "dbfs:/m", "mlflow-artifacts:/m"])
def test_model_uris_outside_the_tracking_store_are_refused(uri: str) -> None:
    from pipeline.score import load_model

    with pytest.raises(ConfigError, match="neither a local MLflow model folder"):
        load_model(uri)


def test_ui_binds_loopback_by_default() -> None:
    res = CliRunner().invoke(app, ["ui", "--help"], terminal_width=200)
    assert res.exit_code == 0 and "127.0.0.1" in res.output


MARKER = "ZqxMarker7731"


def test_no_tweet_text_or_account_name_reaches_the_logs(trained_model, tmp_path: Path, caplog, capfd) -> None:
    """Ingest and score a dump whose text and names carry a marker: it must appear in no
    stdout, stderr or log record at default verbosity (quarantine.csv is the user's data)."""
    caplog.set_level(logging.INFO)
    d = tmp_path / "dump"
    users = [{"userid": (str(500 + i), None), "user_display_name": (f"{MARKER} name {i}", None),
              "user_screen_name": (f"{MARKER}_{i}", None), "user_profile_description": (f"bio {MARKER}", None),
              "user_reported_location": (MARKER, None), "follower_count": ("10", None),
              "following_count": ("20", None), "account_creation_date": ("2019-01-01", None),
              "account_language": ("en", None)} for i in range(4)]
    d.mkdir()
    (d / "m_users.csv").write_bytes(csv_bytes(users, list(USERS_COLUMNS)))
    rows = []
    for i in range(40):
        r = _base_row(i, str(500 + i % 4))
        r.update(tweet_text=f"{MARKER} says {i} #{MARKER}", user_display_name=f"{MARKER} name",
                 hashtags=f"['{MARKER}']", tweet_time=f"2020-01-{1 + i % 28:02d} 0{i % 10}:00")
        rows.append({k: (v, None) for k, v in r.items()})
    bad = {k: (v, None) for k, v in _base_row(99, "500").items()}
    bad["like_count"] = ("-1", None)
    bad["tweet_text"] = (f"{MARKER} in a broken row", None)
    (d / "m_tweets.csv").write_bytes(csv_bytes(rows + [bad], list(TWEETS_COLUMNS) + ["poll_choices"]))

    runner = CliRunner()
    res_i = runner.invoke(app, ["ingest", str(d), "--out", str(tmp_path / "interim"),
                                "--params", str(tmp_path / "none.yaml")])
    assert res_i.exit_code == 0, res_i.output
    res_s = runner.invoke(app, ["score", str(d), "--model", str(trained_model["model"]),
                                "--out", str(tmp_path / "s.csv"), "--params", str(tmp_path / "none.yaml")])
    assert res_s.exit_code == 0, res_s.output
    captured = capfd.readouterr()
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for where, content in (("ingest output", res_i.output), ("score output", res_s.output),
                           ("stdout", captured.out), ("stderr", captured.err), ("logs", logs)):
        assert MARKER not in content, where
    assert MARKER in (tmp_path / "interim" / "quarantine.csv").read_text(encoding="utf-8")  # user data, not a log


# ----------------------------------------------------------------------------- 1b. API v2 round trip


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z").rjust(24, "0")


def _v2_user_obj(uid: str, u: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    g = {k: v[1] for k, v in u.items()}
    o: dict[str, Any] = {"id": uid, "public_metrics": {}}
    for key, col in (("name", "user_display_name"), ("username", "user_screen_name"), ("location", "user_reported_location"),
                     ("description", "user_profile_description"), ("url", "user_profile_url")):
        if g[col]:
            o[key] = g[col]
    for key, col in (("followers_count", "follower_count"), ("following_count", "following_count")):
        if g[col] is not None:
            o["public_metrics"][key] = g[col]
    if g["account_creation_date"] is not None:
        o["created_at"] = _iso(datetime.combine(g["account_creation_date"], datetime.min.time()))
    return o


def v2_dump(d: Dump) -> tuple[list[dict], dict[str, dict], dict[str, dict]]:
    """The dump's tweets as API v2 objects written from their expected values; what a reader
    must give back per tweet (columns of TWEET_OUT) and per author (PROFILE_OUT)."""
    users = {u["userid"][1]: _v2_user_obj(u["userid"][1], u) for u in d.users}
    tweets, want, accounts = [], {}, {}
    for t in d.tweets:
        g = {k: v[1] for k, v in t.items()}
        tid, uid = g["tweetid"], g["userid"]
        o: dict[str, Any] = {"id": tid, "author_id": uid, "created_at": _iso(g["tweet_time"]), "public_metrics": {},
                             "entities": {"hashtags": [{"tag": h} for h in g["hashtags"] or []],
                                          "urls": [{"expanded_url": u} for u in g["urls"] or []],
                                          "mentions": [{"id": m, "username": "x"} for m in g["user_mentions"] or []]}}
        for key, col in (("text", "tweet_text"), ("lang", "tweet_language"), ("source", "tweet_client_name"),
                         ("in_reply_to_user_id", "in_reply_to_userid")):
            if g[col]:
                o[key] = g[col]
        for key, col in (("quote_count", "quote_count"), ("reply_count", "reply_count"), ("like_count", "like_count"),
                         ("retweet_count", "retweet_count")):
            if g[col] is not None:
                o["public_metrics"][key] = g[col]
        refs, rt = [], bool(g["is_retweet"]) and g["retweet_tweetid"] is not None
        if g["in_reply_to_tweetid"]:
            refs.append({"type": "replied_to", "id": g["in_reply_to_tweetid"]})
        if g["quoted_tweet_tweetid"]:
            refs.append({"type": "quoted", "id": g["quoted_tweet_tweetid"]})
        if rt:
            refs.append({"type": "retweeted", "id": g["retweet_tweetid"],
                         **({"author_id": g["retweet_userid"]} if g["retweet_userid"] else {})})
        if refs:
            o["referenced_tweets"] = refs
        both = g["latitude"] is not None and g["longitude"] is not None
        if both:
            o["geo"] = {"coordinates": {"type": "Point", "coordinates": [g["longitude"], g["latitude"]]}}
        if g["poll_choices"]:
            o["attachments"] = {"poll_ids": [f"p{tid}"],
                                "polls": [{"id": f"p{tid}", "options": [{"label": x} for x in g["poll_choices"].split("|")]}]}
        tweets.append(o)
        want[tid] = {**{c: g[c] or None for c in ("tweet_text", "tweet_language", "tweet_client_name", "in_reply_to_userid",
                                                 "in_reply_to_tweetid", "quoted_tweet_tweetid", "poll_choices")},
                     **{c: g[c] for c in ("tweet_time", "quote_count", "reply_count", "like_count", "retweet_count")},
                     "hashtags": [h for h in g["hashtags"] or [] if h], "urls": [u for u in g["urls"] or [] if u],
                     "user_mentions": [m for m in g["user_mentions"] or [] if m],
                     "is_retweet": rt, "retweet_tweetid": g["retweet_tweetid"] if rt else None,
                     "retweet_userid": (g["retweet_userid"] or None) if rt else None,
                     "latitude": g["latitude"] if both else None, "longitude": g["longitude"] if both else None,
                     "userid": uid}
        u = users.get(uid)
        pm = (u or {}).get("public_metrics", {})
        accounts[uid] = {"user_display_name": (u or {}).get("name"), "user_screen_name": (u or {}).get("username"),
                         "user_reported_location": (u or {}).get("location"),
                         "user_profile_description": (u or {}).get("description"), "user_profile_url": (u or {}).get("url"),
                         "follower_count": pm.get("followers_count"), "following_count": pm.get("following_count"),
                         "account_creation_date": next((x["account_creation_date"][1] for x in d.users
                                                        if x["userid"][1] == uid), None),
                         "account_language": None}
    return tweets, want, accounts


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(valid_dump(), st.sampled_from(["page", "flattened"]))
def test_api_v2_dumps_round_trip_exactly(d: Dump, style: str) -> None:
    import json

    tweets, want, accounts = v2_dump(d)
    users = {u["userid"][1]: _v2_user_obj(u["userid"][1], u) for u in d.users}
    if style == "page":
        polls = [p for t in tweets for p in t.get("attachments", {}).get("polls", [])]
        lines = [{"data": tweets, "includes": {"users": list(users.values()), "polls": polls}}]
    else:
        lines = [{**t, **({"author": users[t["author_id"]]} if t["author_id"] in users else {})} for t in tweets]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "dump").mkdir()
        (root / "dump" / "v2_tweets.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
        report = ingest_dumps([(str(root / "dump"), "camp", "control")], root / "out")
        assert read_quarantine(root / "out") == [] and report.tweets == len(tweets)
        got = {r["tweetid"]: r for r in pq.read_table(root / "out" / "tweets.parquet").to_pylist()}
        assert set(got) == set(want)
        for tid, w in want.items():
            for col, v in w.items():
                assert got[tid][col] == v, (col, v, got[tid][col])
        acc = {r["userid"]: r for r in pq.read_table(root / "out" / "accounts.parquet").to_pylist()}
        assert set(acc) == set(accounts)
        for uid, w in accounts.items():
            for col, v in w.items():
                assert acc[uid][col] == v, (col, v, acc[uid][col])
