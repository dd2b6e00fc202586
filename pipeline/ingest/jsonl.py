"""The Twitter API JSONL reader, plain or gzipped, mapped onto the archive's columns:

- API v1.1: one tweet (or user) object per line;
- API v2 full responses: one page per line, `data` (tweets or users) with `includes.users`,
  `includes.tweets` (what retweets and quotes point at) and `includes.polls`;
- API v2 flattened (twarc2 `flatten`): one tweet per line with its `author` embedded, and
  the referenced tweets expanded in `referenced_tweets`.

Each line's style is read from its keys, so one file may mix them. A line is where its
records are quarantined: a bad page line is one reason, a bad tweet inside a good page is
quarantined on its own with the page's line number.
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
            records = _records(raw, kind, max_chars)
        except RowError as exc:
            records = [exc]
        for record in records:
            refused = str(record) if isinstance(record, RowError) else keep(*record)
            if refused:
                out.quarantine(n, refused, raw[: RAW_MAX_CHARS * 4].decode("utf-8", "backslashreplace"))


def _object(raw: bytes, max_chars: int) -> dict[str, Any]:
    """The JSON object on the line `raw`; RowError (the quarantine reason) when there is none."""
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
    return obj


def _shaped(parse: Callable[..., Any], *args: Any) -> Any:
    """`parse(*args)`, with a malformed object's TypeError and friends as one quarantine reason."""
    try:
        return parse(*args)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        if isinstance(exc, RowError):
            raise
        raise RowError(f"unexpected JSON shape ({exc})") from None


def _records(raw: bytes, kind: str, max_chars: int) -> list[Any]:
    """The line's records (tuples for the sink) or, per record, the RowError that refused it."""
    obj = _object(raw, max_chars)
    data = obj.get("data")
    if "user" not in obj and isinstance(data, (list, dict)):  # an API v2 page
        items = data if isinstance(data, list) else [data]
        inc = obj.get("includes") if isinstance(obj.get("includes"), dict) else {}
        if kind == "tweets":
            ctx = _V2Context.of(inc)
            return [_or_error(_v2_tweet, t, ctx) for t in items]
        return [_or_error(_v2_user, u) for u in items]
    if kind == "tweets":
        if "author_id" in obj and "user" not in obj:  # v2, one tweet per line (flattened)
            return [_shaped(_v2_tweet, obj, _V2Context.flattened(obj))]
        return [_shaped(_v1_tweet, obj)]
    if "username" in obj and "screen_name" not in obj:
        return [_shaped(_v2_user, obj)]
    return [_shaped(_v1_user, obj)]


def _or_error(parse: Callable[..., Any], *args: Any) -> Any:
    try:
        if not isinstance(args[0], dict):
            raise RowError("not a JSON object")
        return _shaped(parse, *args)
    except RowError as exc:
        return exc


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


def _tweet_time(created: Any) -> int:
    """A tweet's created_at in seconds: v1.1's 'Wed Oct 10 20:19:24 +0000 2018' or ISO 8601 (v2)."""
    if not created:
        raise RowError("empty tweet_time")
    if isinstance(created, str) and created[:1].isalpha():
        return parse_created_at(created)
    return parse_timestamp(str(created))


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
    ts = _tweet_time(o.get("created_at"))
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


# ------------------------------------------------------------------ API v2


class _V2Context:
    """What a v2 tweet's fields point at: users, referenced tweets and polls by id."""

    __slots__ = ("users", "tweets", "polls")

    def __init__(self, users: dict, tweets: dict, polls: dict) -> None:
        self.users, self.tweets, self.polls = users, tweets, polls

    @classmethod
    def of(cls, inc: dict[str, Any]) -> "_V2Context":
        def by_id(key: str) -> dict[str, dict]:
            return {str(x["id"]): x for x in inc.get(key) or [] if isinstance(x, dict) and x.get("id") is not None}

        return cls(by_id("users"), by_id("tweets"), by_id("polls"))

    @classmethod
    def flattened(cls, t: dict[str, Any]) -> "_V2Context":
        """twarc2's flattened line: the author embedded, referenced tweets expanded in place."""
        author = t.get("author") if isinstance(t.get("author"), dict) else None
        users = {str(author["id"]): author} if author and author.get("id") is not None else {}
        refs = {str(r["id"]): r for r in t.get("referenced_tweets") or [] if isinstance(r, dict) and r.get("id") is not None}
        att = t.get("attachments") if isinstance(t.get("attachments"), dict) else {}
        polls = {str(p["id"]): p for p in att.get("polls") or [] if isinstance(p, dict) and p.get("id") is not None}
        return cls(users, refs, polls)


def _v2_user(u: dict[str, Any]) -> tuple[str, Profile]:
    uid = _id(u, "id")
    if uid is None:
        raise RowError("empty userid")
    return uid, _v2_profile(u)


def _v2_profile(u: dict[str, Any] | None) -> Profile:
    """A v2 user object's profile (v2 has no account language); all unknown without one."""
    if not u:
        return Profile(None, None, None, None, None, None, None, None, None)
    pm = u.get("public_metrics") if isinstance(u.get("public_metrics"), dict) else {}
    created = u.get("created_at")
    return Profile(
        _s(u.get("name")), _s(u.get("username")), _s(u.get("location")), _s(u.get("description")), _s(u.get("url")),
        _jcount(pm, "followers_count"), _jcount(pm, "following_count"),
        parse_timestamp(str(created)) // 86400 if created else None, None,
    )


def _v2_tweet(t: dict[str, Any], ctx: _V2Context) -> tuple[Tweet, Profile]:
    tid = _id(t, "id")
    if tid is None:
        raise RowError("missing id")
    uid = _id(t, "author_id")
    if uid is None:
        raise RowError("empty userid")
    ts = _tweet_time(t.get("created_at"))
    refs = {r.get("type"): r for r in t.get("referenced_tweets") or [] if isinstance(r, dict)}
    rt = refs.get("retweeted")
    rt_id = _id(rt, "id") if rt else None
    rt_author = None
    if rt_id is not None:
        target = ctx.tweets.get(rt_id) or rt
        rt_author = _id(target, "author_id") if target.get("author_id") is not None else None
    ents = t.get("entities") if isinstance(t.get("entities"), dict) else {}
    hashtags = [str(h.get("tag")) for h in ents.get("hashtags") or [] if isinstance(h, dict) and h.get("tag")]
    urls = [str(u.get("expanded_url") or u.get("url")) for u in ents.get("urls") or []
            if isinstance(u, dict) and (u.get("expanded_url") or u.get("url"))]
    mentions = [m for m in (_id(x, "id") for x in ents.get("mentions") or [] if isinstance(x, dict) and x.get("id") is not None) if m]
    lat = lon = None
    geo = t.get("geo") if isinstance(t.get("geo"), dict) else {}
    coords = geo.get("coordinates") if isinstance(geo.get("coordinates"), dict) else {}
    if isinstance(coords.get("coordinates"), list) and len(coords["coordinates"]) == 2:
        lon, lat = (float(x) for x in coords["coordinates"])  # GeoJSON order: longitude, latitude
    poll = None
    att = t.get("attachments") if isinstance(t.get("attachments"), dict) else {}
    for pid in att.get("poll_ids") or [p.get("id") for p in att.get("polls") or [] if isinstance(p, dict)]:
        p = ctx.polls.get(str(pid))
        if p:
            poll = "|".join(str(o.get("label", "")) for o in p.get("options") or [] if isinstance(o, dict)) or None
            break
    pm = t.get("public_metrics") if isinstance(t.get("public_metrics"), dict) else {}
    tweet = Tweet(
        tid, uid, _s(t.get("lang")), _s(t.get("text")), ts, _client_name(t.get("source")),
        _id(t, "in_reply_to_user_id"), _id(refs["replied_to"], "id") if "replied_to" in refs else None,
        _id(refs["quoted"], "id") if "quoted" in refs else None,
        rt is not None, rt_author, rt_id, lat, lon,
        _jcount(pm, "quote_count"), _jcount(pm, "reply_count"), _jcount(pm, "like_count"), _jcount(pm, "retweet_count"),
        hashtags, urls, mentions, poll,
    )
    return tweet, _v2_profile(ctx.users.get(uid))

