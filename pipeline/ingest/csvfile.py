"""The archive CSV reader: header, column mapping and one converter per row, with every record
either handed to the sink or quarantined at the line where it starts (header = line 1).

Records are as Python's ``csv`` module delimits them; blank lines are not records.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterator
from typing import IO

from pipeline.errors import InputError
from pipeline.ingest.decode import LineState, line_blocks
from pipeline.ingest.discover import SplitHeaders
from pipeline.ingest.fields import (
    BOOLS,
    DAY_CACHE,
    RowError,
    norm_id,
    parse_bool,
    parse_coord,
    parse_count,
    parse_date,
    parse_list,
    parse_timestamp,
)
from pipeline.ingest.sink import FileSink, Profile, Tweet
from pipeline.schema import PROFILE_COLUMNS, TWEETS_REQUIRED, USERS_REQUIRED


def read_csv(fh: IO[bytes], out: FileSink, kind: str, max_field_chars: int, headers: SplitHeaders) -> None:
    # The csv module's field limit is process-wide: set it for this file only.
    previous = csv.field_size_limit(max_field_chars)
    try:
        _read_rows(fh, out, kind, max_field_chars, headers)
    finally:
        csv.field_size_limit(previous)


def _printable(name: str) -> str:
    """A header name as an error may show it: control characters (a stray CR) escaped, so
    the error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _read_rows(fh: IO[bytes], out: FileSink, kind: str, max_field_chars: int, headers: SplitHeaders) -> None:
    src = out.label
    st = LineState()
    reader = csv.reader(itertools.chain.from_iterable(line_blocks(fh, st)), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{src} is empty: it has no header row.") from None
    except csv.Error as exc:
        raise InputError(f"{src} has an unreadable header row ({exc}).") from None
    why = st.bad_reason(1, reader.line_num)
    if why:
        raise InputError(f"{src} header row (line 1) has {why}; the file is not a readable CSV dump.")
    names = [h.strip().lower() for h in header]
    required = USERS_REQUIRED if kind == "users" else TWEETS_REQUIRED
    pending: list[str] | None = None  # a first row that is data, not a header
    missing = [c for c in required if c not in names]
    if missing and (earlier := headers.inherited(src, header)) is not None:
        pending = header
        names = earlier
        missing = []
        out.warn(f"{src} has no header row; used the header of the first part.")
    if missing:
        raise InputError(
            f"{src} has no '{missing[0]}' column, which a {kind} file requires "
            f"(its header has: {', '.join(map(_printable, names[:12]))}{'…' if len(names) > 12 else ''})."
        )
    headers.remember(src, names)
    if st.cr_only:
        out.warn(f"{src} ends its lines with CR alone (an old Mac export); read each CR as a line end.")
    idx: dict[str, int] = {}
    for i, n in enumerate(names):
        idx.setdefault(n, i)
    width = len(names)
    first_name = names[0]  # a row starting with it may be the header again (cheap check first)
    if kind == "tweets":
        convert, keep = _tweet_converter(idx, width), out.tweet
    else:
        convert, keep = _user_converter(idx, width), out.user

    bad = st.bad
    last_end = reader.line_num if pending is None else 0

    def quarantine(start: int, end: int, reason: str) -> None:
        out.quarantine(start, reason, st.raw(start, end))

    def rows() -> Iterator[list[str]]:
        yield pending  # type: ignore[misc]
        yield from reader

    it: Iterator[list[str]] = reader if pending is None else rows()
    while True:
        try:
            for row in it:
                start = last_end + 1
                last_end = end = reader.line_num
                if not row:
                    out.blank_line()
                    continue
                if row[0][:1].isalpha() and row[0].strip().lower() == first_name and [
                        f.strip().lower() for f in row] == names:
                    out.header_row()  # the header again: parts joined with `cat`
                    continue
                if bad:
                    why = st.bad_reason(start, end)
                    if why:
                        quarantine(start, end, why)
                        continue
                if st.eof:
                    quarantine(start, end, "truncated record: unterminated quoted field at end of file")
                    continue
                if len(row) != width:
                    quarantine(start, end, f"wrong number of fields: {len(row)}, expected {width}")
                    continue
                try:
                    record = convert(row)
                except RowError as exc:
                    quarantine(start, end, str(exc))
                    continue
                refused = keep(*record)
                if refused:
                    quarantine(start, end, refused)
            break
        except csv.Error as exc:
            start = last_end + 1
            last_end = end = max(reader.line_num, start)
            msg = str(exc)
            if "field larger than field limit" in msg:
                reason = f"field longer than {max_field_chars} characters"
            else:
                reason = st.bad_reason(start, end) or f"malformed CSV record ({msg})"
            quarantine(start, end, reason)
            it = reader  # the exception closed the rows() generator, if it was in use


# Converters: one closure per file over the column positions, since the archive's releases
# order (and omit) columns differently. Each field has its common case inline and anything
# else through the full parser in fields.py. Records are built with _make, which costs half
# of what the named-argument constructor does: these run once per row.

_TWEET_DATA_COLUMNS = Tweet._fields


def _getter(idx: dict[str, int], width: int) -> Callable[[str], int]:
    # Absent optional columns read from index `width`, where every row gets an extra ''.
    return lambda name: idx.get(name, width)


def _profile_converter(idx: dict[str, int], width: int) -> Callable[[list[str]], Profile]:
    g = _getter(idx, width)
    i_dn, i_sn, i_loc, i_desc, i_url, i_fol, i_fing, i_acd, i_lang = (g(c) for c in PROFILE_COLUMNS)
    cnt, dget = parse_count, DAY_CACHE.get
    make_profile = Profile._make

    def profile(r: list[str]) -> Profile:
        fol, fing, acd = r[i_fol], r[i_fing], r[i_acd]
        return make_profile((
            r[i_dn] or None,
            r[i_sn] or None,
            r[i_loc] or None,
            r[i_desc] or None,
            r[i_url] or None,
            int(fol) if len(fol) < 19 and fol.isdecimal() else cnt(fol, "follower_count"),
            int(fing) if len(fing) < 19 and fing.isdecimal() else cnt(fing, "following_count"),
            dget(acd) if acd in DAY_CACHE else parse_date(acd, "account_creation_date"),
            r[i_lang] or None,
        ))

    return profile


def _user_converter(idx: dict[str, int], width: int) -> Callable[[list[str]], tuple[str, Profile]]:
    profile = _profile_converter(idx, width)
    i_uid = idx["userid"]

    def convert(r: list[str]) -> tuple[str, Profile]:
        r.append("")
        uid = norm_id(r[i_uid])
        if uid is None:
            raise RowError("empty userid")
        return uid, profile(r)

    return convert


def _tweet_converter(idx: dict[str, int], width: int) -> Callable[[list[str]], tuple[Tweet, Profile]]:
    g = _getter(idx, width)
    profile = _profile_converter(idx, width)
    (i_tid, i_uid, i_lang, i_text, i_time, i_client, i_rpu, i_rpt, i_qt, i_isrt, i_rtu, i_rtt,
     i_lat, i_lon, i_qc, i_rc, i_lc, i_rtc, i_ht, i_urls, i_um, i_poll) = (g(c) for c in _TWEET_DATA_COLUMNS)
    nid, cnt, lst, ts_, bools, coord = norm_id, parse_count, parse_list, parse_timestamp, BOOLS, parse_coord
    make_tweet = Tweet._make

    def convert(r: list[str]) -> tuple[Tweet, Profile]:
        r.append("")
        tid, uid = r[i_tid], r[i_uid]
        if not tid.isdigit():
            tid = nid(tid)
            if tid is None:
                raise RowError("empty tweetid")
        if not uid.isdigit():
            uid = nid(uid)
            if uid is None:
                raise RowError("empty userid")
        rpu, rpt, qt, rtu, rtt = r[i_rpu], r[i_rpt], r[i_qt], r[i_rtu], r[i_rtt]
        isrt, lat, lon = r[i_isrt], r[i_lat], r[i_lon]
        qc, rc, lc, rtc = r[i_qc], r[i_rc], r[i_lc], r[i_rtc]
        ht, urls, um = r[i_ht], r[i_urls], r[i_um]
        tweet = make_tweet((
            tid,
            uid,
            r[i_lang] or None,
            r[i_text] or None,
            ts_(r[i_time]),
            r[i_client] or None,
            (rpu if rpu.isdigit() else nid(rpu)) if rpu else None,
            (rpt if rpt.isdigit() else nid(rpt)) if rpt else None,
            (qt if qt.isdigit() else nid(qt)) if qt else None,
            bools[isrt] if isrt in bools else parse_bool(isrt),
            (rtu if rtu.isdigit() else nid(rtu)) if rtu else None,
            (rtt if rtt.isdigit() else nid(rtt)) if rtt else None,
            None if lat == "absent" else coord(lat, "latitude"),
            None if lon == "absent" else coord(lon, "longitude"),
            int(qc) if len(qc) < 19 and qc.isdecimal() else cnt(qc, "quote_count"),
            int(rc) if len(rc) < 19 and rc.isdecimal() else cnt(rc, "reply_count"),
            int(lc) if len(lc) < 19 and lc.isdecimal() else cnt(lc, "like_count"),
            int(rtc) if len(rtc) < 19 and rtc.isdecimal() else cnt(rtc, "retweet_count"),
            [] if ht == "[]" else lst(ht, "hashtags"),
            [] if urls == "[]" else lst(urls, "urls"),
            [] if um == "[]" else lst(um, "user_mentions", True),
            r[i_poll] or None,
        ))
        return tweet, profile(r)

    return convert
