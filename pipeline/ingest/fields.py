"""Per-field parsers: ids (float-written ones included), counts, coordinates, booleans, dates,
times and Python-repr lists, as the archive and the v1.1 API write them.

They run once per field of every record, so the common case returns early and allocates
nothing; anything else goes through the full parser. A value that cannot be loaded raises
RowError, whose message is the quarantine reason.
"""

from __future__ import annotations

import ast
import re
from datetime import date, datetime, timezone
from decimal import Decimal

INT64_MAX = (1 << 63) - 1  # counts are stored as int64
_EPOCH = date(1970, 1, 1)


class RowError(Exception):
    """A record that cannot be loaded; the message is the quarantine reason."""


_FLOAT_ID = re.compile(r"[0-9]+(?:\.[0-9]*)?[eE]\+?[0-9]{1,2}|[0-9]+\.0*")


def norm_id(s: str) -> str | None:
    """Ids are strings. Numeric ids written as floats are normalised to integer strings
    ('1.3250155e+18' -> '1325015500000000000'); hashed ids are kept as they are."""
    if not s:
        return None
    if s.isdigit() and s.isascii():
        return s
    if len(s) > 30:  # hashed; a float id is at most ~25 characters
        return s.strip()
    s = s.strip()
    if not s:
        return None
    if _FLOAT_ID.fullmatch(s):
        d = Decimal(s)
        if d == d.to_integral_value():
            return str(int(d))
    return s


def parse_count(s: str, col: str) -> int | None:
    if not s:
        return None
    try:
        v = int(s)
    except ValueError:
        try:
            f = float(s)
        except ValueError:
            raise RowError(f"unparseable number in {col}: {s[:40]!r}") from None
        if not f.is_integer():
            raise RowError(f"unparseable number in {col}: {s[:40]!r}") from None
        v = int(f)
    if v < 0:
        raise RowError(f"negative {col}: {v}")
    if v > INT64_MAX:
        raise RowError(f"{col} out of range: {s[:40]!r}")
    return v


def parse_coord(s: str, col: str) -> float | None:
    if not s or s == "absent":
        return None
    try:
        return float(s)
    except ValueError:
        raise RowError(f"unparseable {col}: {s[:40]!r}") from None


BOOLS = {"True": True, "true": True, "TRUE": True, "1": True, "False": False, "false": False, "FALSE": False, "0": False, "": None}


def parse_bool(s: str) -> bool | None:
    try:
        return BOOLS[s]
    except KeyError:
        v = BOOLS.get(s.strip())
        if v is None and s.strip():
            raise RowError(f"unparseable is_retweet: {s[:40]!r}") from None
        return v


# Dates repeat heavily (one creation date per account, on each of its tweets); the bound keeps
# a hostile file of distinct dates from growing it without limit.
DAY_CACHE: dict[str, int] = {}


def _days(s: str, col: str) -> int:
    """'YYYY-MM-DD' -> days since 1970-01-01."""
    v = DAY_CACHE.get(s)
    if v is None:
        try:
            if len(s) != 10 or s[4] != "-" or s[7] != "-":
                raise ValueError
            v = (date(int(s[0:4]), int(s[5:7]), int(s[8:10])) - _EPOCH).days
        except ValueError:
            raise RowError(f"unparseable {col}: {s[:40]!r}") from None
        if len(DAY_CACHE) < 200_000:
            DAY_CACHE[s] = v
    return v


def parse_date(s: str, col: str) -> int | None:
    if not s:
        return None
    if len(s) > 10 and s[10] in " T":  # a datetime where a date was expected
        s = s[:10]
    return _days(s.strip() if len(s) != 10 else s, col)


def parse_timestamp(s: str) -> int:
    """tweet_time -> seconds since the epoch, UTC. 'YYYY-MM-DD HH:MM' (the archive), with
    seconds, ISO 8601 with 'T' and 'Z'/offset, or API v1.1 created_at; naive times are UTC."""
    n = len(s)
    if (n == 16 or n == 19) and s[10] in " T" and s[13] == ":":
        try:
            h = int(s[11:13])
            m = int(s[14:16])
            sec = 0
            if n == 19:
                if s[16] != ":":
                    raise ValueError
                sec = int(s[17:19])
            if not (0 <= h < 24 and 0 <= m < 60 and 0 <= sec < 61):
                raise ValueError
            return _days(s[:10], "tweet_time") * 86400 + h * 3600 + m * 60 + sec
        except (ValueError, RowError):
            raise RowError(f"unparseable tweet_time: {s[:40]!r}") from None
    st = s.strip()
    if not st:
        raise RowError("empty tweet_time")
    try:
        dt = datetime.fromisoformat(st.replace("Z", "+00:00"))
    except ValueError:
        try:
            return parse_created_at(st)
        except RowError:
            raise RowError(f"unparseable tweet_time: {s[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def parse_created_at(s: str) -> int:
    """Twitter API v1.1 created_at: 'Wed Oct 10 20:19:24 +0000 2018'."""
    try:
        _dow, mon, day, hms, tz, year = s.split()
        d = (date(int(year), _MONTHS[mon], int(day)) - _EPOCH).days
        h, m, sec = hms.split(":")
        off = (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60) * (-1 if tz[0] == "-" else 1)
        if len(tz) != 5 or tz[0] not in "+-":
            raise ValueError
        return d * 86400 + int(h) * 3600 + int(m) * 60 + int(sec) - off
    except (ValueError, KeyError, TypeError):
        raise RowError(f"unparseable created_at: {s[:40]!r}") from None


_LIST_OK = re.compile(
    r"\[\s*(?:(?:'[^'\\]*'|\"[^\"\\]*\"|-?[0-9]+)\s*,\s*)*(?:'[^'\\]*'|\"[^\"\\]*\"|-?[0-9]+)?\s*,?\s*\]"
)
_LIST_ITEM = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"|(-?[0-9]+)")


def parse_list(s: str, col: str, ids: bool = False) -> list[str] | None:
    """A Python-repr list ("['a', 'b']", '[2876420003]', '[]') -> list of str; '' -> None.

    Common reprs are parsed with a regular expression; anything else (escapes) goes through
    ast.literal_eval, which evaluates literals only, and must yield a flat list of str/int.
    """
    if not s:
        return None
    if s == "[]":
        return []
    if s[:2] == "['" and s[-2:] == "']" and "\\" not in s:
        # The usual repr: single-quoted strings without quotes or escapes inside.
        inner = s[2:-2]
        if "'" not in inner.replace("', '", "") and '"' not in inner:
            items = inner.split("', '")
            return [norm_id(x) or x for x in items] if ids else items
    elif s[:1] == "[" and s[-1:] == "]" and s[1:2].isdigit():
        items = s[1:-1].split(", ")
        if all(x.isdigit() for x in items):
            return items
    if _LIST_OK.fullmatch(s):
        items = [a or b or c for a, b, c in _LIST_ITEM.findall(s)]
    else:
        items = _list_slow(s, col)
    if ids:
        return [norm_id(x) or x for x in items]
    return items


def _list_slow(s: str, col: str) -> list[str]:
    st = s.strip()
    if not (st.startswith("[") and st.endswith("]")):
        raise RowError(f"unparseable list in {col}: {s[:60]!r}")
    try:
        v = ast.literal_eval(st)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise RowError(f"unparseable list in {col}: {s[:60]!r}") from None
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
        raise RowError(f"unparseable list in {col}: {s[:60]!r}")
    return [x if isinstance(x, str) else str(x) for x in v]
