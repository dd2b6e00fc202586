"""The Twitter API v1.1 reader: one tweet (or user) object per line, plain or gzipped, mapped
onto the archive's columns. A line is a record; its line number is where it is quarantined.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import IO, Any

from pipeline.errors import InputError
from pipeline.ingest.decode import UTF8_BOM
from pipeline.ingest.fields import (
    INT64_MAX,
    RowError,
    norm_id,
    parse_count,
    parse_created_at,
    parse_date,
    parse_timestamp,
)
from pipeline.ingest.sink import RAW_MAX_CHARS, FileSink, Profile, Tweet

try:  # orjson is optional; it only speeds up JSONL controls.
    import orjson as _orjson

    _json_loads: Callable[[bytes], Any] = _orjson.loads
    _JSON_ERRORS: tuple[type[Exception], ...] = (_orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - depends on the environment
    _json_loads = json.loads
    _JSON_ERRORS = (json.JSONDecodeError, UnicodeDecodeError)


def read_jsonl(fh: IO[bytes], out: FileSink, kind: str, max_chars: int) -> None:
    parse = _v1_tweet if kind == "tweets" else _v1_user
    keep = out.tweet if kind == "tweets" else out.user
    for n, raw in enumerate(fh, 1):
        if n == 1 and raw.startswith(UTF8_BOM):
            raw = raw[3:]
        if n == 1 and raw.lstrip()[:1] == b"[":
            raise InputError(f"{out.label} is a JSON array, not JSON lines; write one object per line.")
        if not raw.strip():
            out.blank_line()
            continue
        try:
            record = _record(raw, parse, max_chars)
        except RowError as exc:
            refused: str | None = str(exc)
        else:
            refused = keep(*record)
        if refused:
            out.quarantine(n, refused, raw[: RAW_MAX_CHARS * 4].decode("utf-8", "backslashreplace"))


def _record(raw: bytes, parse: Callable[[dict[str, Any]], tuple[Any, Profile]], max_chars: int) -> tuple[Any, Profile]:
    """What `parse` makes of the line `raw`; RowError (the quarantine reason) when it cannot."""
    if len(raw) > max_chars:
        raise RowError(f"record longer than {max_chars} characters")
    try:
        obj = _json_loads(raw)
    except UnicodeDecodeError:
        raise RowError("invalid UTF-8") from None
    except _JSON_ERRORS as exc:
        raise RowError("invalid UTF-8" if "utf-8" in str(exc).lower() else "invalid JSON") from None
    if not isinstance(obj, dict):
        raise RowError("not a JSON object")
    try:
        return parse(obj)
    except (ValueError, TypeError, AttributeError) as exc:
        raise RowError(f"unexpected JSON shape ({exc})") from None


_ANCHOR = re.compile(r">([^<]*)<")


def _client_name(source: Any) -> str | None:
    if not source or not isinstance(source, str):
        return None
    m = _ANCHOR.search(source)
    return (m.group(1) if m else source) or None


def _s(v: Any) -> str | None:
    if v is None or v == "":
        return None
    return v if isinstance(v, str) else str(v)


def _id(obj: dict[str, Any], key: str) -> str | None:
    v = obj.get(key + "_str")
    if v is None:
        v = obj.get(key)
    return norm_id(v if isinstance(v, str) else str(v)) if v is not None else None


def _jcount(obj: dict[str, Any], key: str) -> int | None:
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        return parse_count(str(v), key)
    if v < 0:
        raise RowError(f"negative {key}: {v}")
    if v > INT64_MAX:
        raise RowError(f"{key} out of range: {v}")
    return v


def _user_profile(u: dict[str, Any]) -> Profile:
    created = u.get("created_at")
    acd = None
    if created:
        try:
            acd = parse_created_at(created) // 86400
        except RowError:
            acd = parse_date(str(created), "user.created_at")
    return Profile(
        _s(u.get("name")),
        _s(u.get("screen_name")),
        _s(u.get("location")),
        _s(u.get("description")),
        _s(u.get("url")),
        _jcount(u, "followers_count"),
        _jcount(u, "friends_count"),
        acd,
        _s(u.get("lang")),
    )


def _v1_user(o: dict[str, Any]) -> tuple[str, Profile]:
    uid = _id(o, "id")
    if uid is None:
        raise RowError("empty userid")
    return uid, _user_profile(o)


def _v1_tweet(o: dict[str, Any]) -> tuple[Tweet, Profile]:
    tid = _id(o, "id")
    if tid is None:
        if "delete" in o or "limit" in o:
            raise RowError("not a tweet (stream notice)")
        raise RowError("missing id_str")
    user = o.get("user")
    if not isinstance(user, dict):
        raise RowError("missing user object")
    uid = _id(user, "id")
    if uid is None:
        raise RowError("empty userid")
    created = o.get("created_at")
    if not created:
        raise RowError("empty tweet_time")
    if isinstance(created, str) and created[:1].isalpha():
        ts = parse_created_at(created)
    else:
        ts = parse_timestamp(str(created))
    ext = o.get("extended_tweet") if isinstance(o.get("extended_tweet"), dict) else None
    text = (ext or {}).get("full_text") or o.get("full_text") or o.get("text")
    ents = (ext or {}).get("entities") or o.get("entities") or {}
    rs = o.get("retweeted_status")
    rs = rs if isinstance(rs, dict) else None
    rs_user = rs.get("user") if rs and isinstance(rs.get("user"), dict) else {}
    lat = lon = None
    coords = o.get("coordinates")
    if isinstance(coords, dict) and isinstance(coords.get("coordinates"), list) and len(coords["coordinates"]) == 2:
        lon, lat = (float(x) for x in coords["coordinates"])  # GeoJSON order: longitude, latitude
    hashtags = [str(h.get("text")) for h in ents.get("hashtags") or [] if isinstance(h, dict) and h.get("text")]
    urls = [
        str(u.get("expanded_url") or u.get("url"))
        for u in ents.get("urls") or []
        if isinstance(u, dict) and (u.get("expanded_url") or u.get("url"))
    ]
    mentions = [m for m in (_id(x, "id") for x in ents.get("user_mentions") or [] if isinstance(x, dict)) if m]
    poll = None
    polls = ents.get("polls")
    if isinstance(polls, list) and polls and isinstance(polls[0], dict):
        poll = "|".join(str(opt.get("text", "")) for opt in polls[0].get("options") or []) or None
    tweet = Tweet(
        tid,
        uid,
        _s(o.get("lang")),
        _s(text),
        ts,
        _client_name(o.get("source")),
        _id(o, "in_reply_to_user_id"),
        _id(o, "in_reply_to_status_id"),
        _id(o, "quoted_status_id"),
        rs is not None,
        _id(rs_user, "id") if rs else None,
        _id(rs, "id") if rs else None,
        lat,
        lon,
        _jcount(o, "quote_count"),
        _jcount(o, "reply_count"),
        _jcount(o, "favorite_count"),
        _jcount(o, "retweet_count"),
        hashtags,
        urls,
        mentions,
        poll,
    )
    return tweet, _user_profile(user)
