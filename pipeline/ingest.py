"""Ingest: raw information-operations dumps in, typed `accounts` and `tweets` Parquet out.

A dump is a folder (searched recursively), a glob or a single file. Inside it, a file whose
name contains ``users`` is a users file and one whose name contains ``tweets`` is a tweets
file; anything else is skipped and listed in the report. Readable containers: ``.csv``,
``.csv.gz``, ``.jsonl``/``.json``/``.ndjson`` (Twitter API v1.1 objects, one per line, plain
or gzipped) and ``.zip`` (members are streamed, never extracted).

Files are UTF-8 (a UTF-8 byte-order mark is dropped); a file that starts with a UTF-16 or
UTF-32 byte-order mark is decoded as such (with a warning in the report). There is no
guessing of other encodings: a line that is not valid UTF-8 is quarantined, and a file where
at least 10 records, and more than half of them, are not UTF-8 (GB18030, Big5, Latin-1...)
raises InputError asking for it to be re-encoded.

Rows that cannot be read go to ``quarantine.csv`` with the file, the line where the record
starts (header = line 1), the reason and the raw text; for every file
``rows_read + rows_quarantined`` equals the number of records in it (records as Python's
``csv`` module delimits them; blank lines are not records). A problem with a whole file
(missing required column, corrupt gzip/zip, unsafe zip member, wrong encoding) raises
InputError and leaves no output behind: every output is written to a temporary file and
renamed into place only when the whole ingest succeeded. A previous run's
``ingest_report.json`` is removed just before the renames and the new one is renamed last,
so a report is only ever beside the three files of its own run. An output that cannot be
written (no space, a file where the folder should be, no permission) raises OutputError
naming the path. Logs and progress lines carry counts and file names, never row content.

Memory does not grow with the number of tweets except for the set of tweet ids used to
drop duplicates; accounts are held in a dict (they are few).
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import csv
import errno
import functools
import itertools
import gzip
import io
import json
import re
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from glob import glob
from pathlib import Path, PurePosixPath
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DumpSpec, IngestParams
from pipeline.errors import ConfigError, InputError, StatelinkError
from pipeline.io import atomic_path
from pipeline.schema import (
    ACCOUNTS_SCHEMA,
    LABELS,
    PROFILE_COLUMNS,
    QUARANTINE_COLUMNS,
    TWEETS_REQUIRED,
    TWEETS_SCHEMA,
    USERS_REQUIRED,
)

try:  # orjson is optional; it only speeds up JSONL controls.
    import orjson as _orjson

    _json_loads: Callable[[bytes], Any] = _orjson.loads
    _JSON_ERRORS: tuple[type[Exception], ...] = (_orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - depends on the environment
    _json_loads = json.loads
    _JSON_ERRORS = (json.JSONDecodeError, UnicodeDecodeError)

__all__ = ["FileReport", "IngestReport", "OutputError", "discover_files", "ingest_dumps"]

RAW_MAX_CHARS = 4096  # raw text kept per quarantined record
_RAW_MAX_LINES = 64  # physical lines buffered per record for the quarantine's raw text
# A zip member that declares more than this uncompressed/compressed ratio (and is larger
# than _ZIP_RATIO_MIN_BYTES) is refused as a probable zip bomb. Real CSV dumps compress
# 5-20x; highly repetitive ones stay well under 100x.
MAX_ZIP_RATIO = 200
_ZIP_RATIO_MIN_BYTES = 8 << 20

_CSV_EXT = (".csv", ".csv.gz")
_JSON_EXT = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")
_ZIP_EXT = (".zip",)
_READABLE_EXT = _CSV_EXT + _JSON_EXT

# A file where at least this many records, and more than half of them, are not UTF-8 is
# in another encoding (GB18030, Big5, Latin-1...): refused as a whole rather than quarantined.
_WRONG_ENCODING_MIN_RECORDS = 10
# Byte-order marks of the encodings decoded besides UTF-8 (UTF-32 first: its LE mark starts
# with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)

_TWEET_DATA_COLUMNS = [f.name for f in TWEETS_SCHEMA][:-3]  # all but campaign/label/source_file
_EPOCH = date(1970, 1, 1)


# ---------------------------------------------------------------------------------------
# Public API


@dataclass
class FileReport:
    file: str
    kind: str  # 'users' | 'tweets'
    rows_read: int
    rows_quarantined: int
    blank_lines: int = 0  # empty lines: not records, neither read nor quarantined


@dataclass
class IngestReport:
    files: list[FileReport]
    accounts: int
    tweets: int
    quarantined: int
    out_dir: Path
    skipped: list[str] = field(default_factory=list)  # 'path (why)' for files not read
    warnings: list[str] = field(default_factory=list)
    accounts_from_users_files: int = 0
    accounts_rebuilt_from_tweets: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["tweet_rows_per_second"] = round(self.tweets / self.seconds) if self.seconds > 0 else None
        return d


class OutputError(StatelinkError):
    """An output that cannot be written (no space, not a folder, no permission): names the path."""


def _output_error(exc: OSError, where: Path | str) -> OutputError:
    path = exc.filename or where
    if exc.errno == errno.ENOSPC:
        msg = f"No space left on the device while writing {path}; free some space or choose another output folder."
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        msg = f"Cannot write {path}: permission denied or read-only file system; choose another output folder."
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in (Path(where), *Path(where).parents) if p.exists() and not p.is_dir()), path)
        msg = f"Cannot create the output folder {where}: {blocker} is a file, not a folder."
    else:
        msg = f"Cannot write {path}: {exc.strerror or exc}."
    return OutputError(msg)


def discover_files(path: str) -> list[tuple[Path, str]]:
    """The dump files under `path` (a folder, searched recursively; a glob; or one file).

    Returns (file, kind) in natural order (``_part2`` before ``_part10``), where kind is
    'users' or 'tweets', or 'zip' for an archive whose members are classified when read.
    Raises InputError when nothing matches.
    """
    found, _skipped = _discover(path)
    return found


def ingest_dumps(
    dumps: Iterable[DumpSpec | tuple[str, str | None, str | None] | str],
    out_dir: Path | str,
    params: IngestParams = IngestParams(),
    progress: bool = False,
) -> IngestReport:
    """Read every dump and write accounts.parquet, tweets.parquet, quarantine.csv and
    ingest_report.json into `out_dir`, all or nothing.

    A dump is a DumpSpec, a (path, campaign, label) tuple, or a bare path (unlabelled:
    campaign and label None).
    """
    started = time.perf_counter()
    specs = [_as_spec(d) for d in dumps]
    if not specs:
        raise ConfigError("No dumps to ingest; give at least one dump path.")
    out_dir = Path(out_dir)
    # Discover everything first, so a bad path fails before any work is done.
    plan = [(spec, *_discover(spec[0])) for spec in specs]

    state = _State(params, progress, out_dir)
    try:
        with contextlib.ExitStack() as stack:
            # Renames happen in reverse order of entry: the report appears last, so its
            # presence means the other three files are complete and from the same run.
            report_tmp = stack.enter_context(atomic_path(out_dir / "ingest_report.json"))
            accounts_tmp = stack.enter_context(atomic_path(out_dir / "accounts.parquet"))
            tweets_tmp = stack.enter_context(atomic_path(out_dir / "tweets.parquet"))
            quarantine_tmp = stack.enter_context(atomic_path(out_dir / "quarantine.csv"))

            with open(quarantine_tmp, "w", encoding="utf-8", errors="backslashreplace", newline="") as qfh:
                state.quarantine_writer = csv.writer(qfh)
                state.quarantine_writer.writerow(QUARANTINE_COLUMNS)
                writer = pq.ParquetWriter(tweets_tmp, TWEETS_SCHEMA, compression="zstd")
                try:
                    state.tweets_writer = writer
                    for spec, files, skipped in plan:
                        state.skipped.extend(skipped)
                        for path, kind in files:
                            if kind == "zip":
                                _read_zip(state, spec, path)
                            else:
                                _read_file(state, spec, path, kind, str(path), lambda p=path: _open_binary(p))
                    state.flush_tweets()
                finally:
                    writer.close()

            accounts = state.build_accounts()
            pq.write_table(accounts, accounts_tmp, compression="zstd")
            report = IngestReport(
                files=state.file_reports,
                accounts=accounts.num_rows,
                tweets=state.tweets_written,
                quarantined=state.quarantined,
                out_dir=out_dir,
                skipped=state.skipped,
                warnings=state.warnings,
                accounts_from_users_files=state.n_from_users,
                accounts_rebuilt_from_tweets=accounts.num_rows - state.n_from_users,
                seconds=round(time.perf_counter() - started, 3),
            )
            report_tmp.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            # Everything is written; the renames follow. Drop a previous run's report first, so
            # that a rename failing part-way leaves no report vouching for a mixed set of files.
            (out_dir / "ingest_report.json").unlink(missing_ok=True)
    except OSError as exc:  # reads raise InputError; what is left is writing the outputs
        raise _output_error(exc, out_dir) from exc
    if progress:
        print(
            f"ingest: {report.accounts} accounts, {report.tweets} tweets, {report.quarantined} rows "
            f"quarantined -> {out_dir}",
            file=sys.stderr,
        )
    return report


# ---------------------------------------------------------------------------------------
# Discovery


def _as_spec(d: Any) -> tuple[str, str | None, str | None]:
    if isinstance(d, DumpSpec):
        return (d.path, d.campaign, d.label)
    if isinstance(d, (str, Path)):
        return (str(d), None, None)
    if isinstance(d, tuple) and len(d) == 3:
        path, campaign, label = d
        if label is not None and label not in LABELS:
            raise ConfigError(f"Dump {path}: label '{label}' is not one of {', '.join(LABELS)}.")
        return (str(path), campaign, label)
    raise ConfigError(f"Dump {d!r} is not a DumpSpec, a path or a (path, campaign, label) tuple.")


def _natural_key(p: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(p))]


def _ext_of(name: str) -> str | None:
    low = name.lower()
    for ext in _READABLE_EXT + _ZIP_EXT:
        if low.endswith(ext):
            return ext
    return None


def _kind_by_name(name: str) -> str | None:
    low = name.lower()
    if "tweets" in low:
        return "tweets"
    if "users" in low:
        return "users"
    return None


def _discover(path: str) -> tuple[list[tuple[Path, str]], list[str]]:
    path = str(path)
    p = Path(path)
    explicit = False
    if any(ch in path for ch in "*?["):
        candidates = [Path(m) for m in glob(path, recursive=True)]
        candidates = [c for c in candidates if c.is_file()] + [
            f for c in candidates if c.is_dir() for f in c.rglob("*") if f.is_file()
        ]
    elif p.is_dir():
        candidates = [f for f in p.rglob("*") if f.is_file()]
    elif p.is_file():
        candidates, explicit = [p], True
    else:
        raise InputError(f"Dump path {path} matches no file or folder.")
    if not candidates:
        raise InputError(f"Dump path {path} matches no files.")

    found: list[tuple[Path, str]] = []
    skipped: list[str] = []
    for f in sorted(set(candidates), key=_natural_key):
        ext = _ext_of(f.name)
        if ext is None:
            if explicit:
                raise InputError(
                    f"{f} is not a dump file: expected .csv, .csv.gz, .jsonl, .json, .jsonl.gz or .zip."
                )
            skipped.append(f"{f} (not a dump file type)")
            continue
        if ext in _ZIP_EXT:
            found.append((f, "zip"))
            continue
        kind = _kind_by_name(f.name)
        if kind is None and explicit:
            kind = _sniff_kind(f, ext)
        if kind is None:
            skipped.append(f"{f} (name contains neither 'users' nor 'tweets')")
            continue
        found.append((f, kind))
    if not found:
        raise InputError(f"Dump path {path} holds no users or tweets files ({len(skipped)} other files skipped).")
    return found, skipped


def _sniff_kind(f: Path, ext: str) -> str | None:
    """Kind of an explicitly named file whose name does not say: from its first line."""
    try:
        with _open_binary(f) as raw_fh:
            fh, _enc = _utf8_stream(raw_fh)
            first = fh.readline(1 << 20).decode("utf-8", "replace").lstrip("\ufeff")
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{f} cannot be read: {exc}.") from exc
    if ext in _JSON_EXT:
        try:
            obj = json.loads(first)
        except ValueError:
            return None
        if isinstance(obj, dict) and "user" in obj:
            return "tweets"
        if isinstance(obj, dict) and "screen_name" in obj:
            return "users"
        return None
    cols = {c.strip().strip('"').lower() for c in first.split(",")}
    if "tweetid" in cols:
        return "tweets"
    if "userid" in cols:
        return "users"
    raise InputError(f"{f} is not a dump file: its header has neither a 'tweetid' nor a 'userid' column.")


def _open_binary(path: Path) -> IO[bytes]:
    try:
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path} cannot be opened: {exc.strerror or exc}.") from exc


def _unsafe_member(name: str) -> bool:
    pure = PurePosixPath(name.replace("\\", "/"))
    return pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":")


def _read_zip(state: _State, spec: tuple[str, str | None, str | None], path: Path) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path} is not a readable zip archive: {exc}.") from exc
    with zf:
        members = [i for i in zf.infolist() if not i.is_dir()]
        for info in members:
            if _unsafe_member(info.filename):
                raise InputError(
                    f"{path} holds member '{info.filename}' with an absolute or '..' path; "
                    "refusing to read a tampered archive."
                )
        read_any = False
        for info in sorted(members, key=lambda i: _natural_key(Path(i.filename))):
            name = info.filename
            base = PurePosixPath(name).name
            label = f"{path}::{name}"
            if name.startswith("__MACOSX/") or base.startswith("._"):
                state.skipped.append(f"{label} (macOS metadata)")
                continue
            ext = _ext_of(base)
            kind = _kind_by_name(base)
            if ext is None or ext in _ZIP_EXT or kind is None:
                state.skipped.append(f"{label} (not a users or tweets file)")
                continue
            if info.flag_bits & 0x1:
                raise InputError(f"{label} is encrypted; decrypt the archive first.")
            if info.file_size > _ZIP_RATIO_MIN_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
                raise InputError(
                    f"{label} declares {info.file_size} bytes from {info.compress_size} compressed "
                    f"(ratio over {MAX_ZIP_RATIO}); refusing it as a probable zip bomb."
                )

            def opener(info: zipfile.ZipInfo = info, base: str = base) -> IO[bytes]:
                raw = zf.open(info)
                if base.lower().endswith(".gz"):
                    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
                return raw

            _read_file(state, spec, Path(base), kind, label, opener)
            read_any = True
        if not read_any:
            state.warnings.append(f"{path} holds no users or tweets files.")


# ---------------------------------------------------------------------------------------
# Field parsers (hot path: keep them small and allocation-free on the common case)


class _RowError(Exception):
    """A record that cannot be loaded; the message is the quarantine reason."""


_FLOAT_ID = re.compile(r"[0-9]+(?:\.[0-9]*)?[eE]\+?[0-9]{1,2}|[0-9]+\.0*")


def _norm_id(s: str) -> str | None:
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


_INT64_MAX = (1 << 63) - 1  # counts are stored as int64


def _count(s: str, col: str) -> int | None:
    if not s:
        return None
    try:
        v = int(s)
    except ValueError:
        try:
            f = float(s)
        except ValueError:
            raise _RowError(f"unparseable number in {col}: {s[:40]!r}") from None
        if not f.is_integer():
            raise _RowError(f"unparseable number in {col}: {s[:40]!r}") from None
        v = int(f)
    if v < 0:
        raise _RowError(f"negative {col}: {v}")
    if v > _INT64_MAX:
        raise _RowError(f"{col} out of range: {s[:40]!r}")
    return v


def _coord(s: str, col: str) -> float | None:
    if not s or s == "absent":
        return None
    try:
        return float(s)
    except ValueError:
        raise _RowError(f"unparseable {col}: {s[:40]!r}") from None


_BOOL = {"True": True, "true": True, "TRUE": True, "1": True, "False": False, "false": False, "FALSE": False, "0": False, "": None}


def _bool(s: str) -> bool | None:
    try:
        return _BOOL[s]
    except KeyError:
        v = _BOOL.get(s.strip())
        if v is None and s.strip():
            raise _RowError(f"unparseable is_retweet: {s[:40]!r}") from None
        return v


_day_cache: dict[str, int] = {}


def _days(s: str, col: str) -> int:
    """'YYYY-MM-DD' -> days since 1970-01-01."""
    v = _day_cache.get(s)
    if v is None:
        try:
            if len(s) != 10 or s[4] != "-" or s[7] != "-":
                raise ValueError
            v = (date(int(s[0:4]), int(s[5:7]), int(s[8:10])) - _EPOCH).days
        except ValueError:
            raise _RowError(f"unparseable {col}: {s[:40]!r}") from None
        if len(_day_cache) < 200_000:
            _day_cache[s] = v
    return v


def _date(s: str, col: str) -> int | None:
    if not s:
        return None
    if len(s) > 10 and s[10] in " T":  # a datetime where a date was expected
        s = s[:10]
    return _days(s.strip() if len(s) != 10 else s, col)


def _timestamp(s: str) -> int:
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
        except (ValueError, _RowError):
            raise _RowError(f"unparseable tweet_time: {s[:40]!r}") from None
    st = s.strip()
    if not st:
        raise _RowError("empty tweet_time")
    try:
        dt = datetime.fromisoformat(st.replace("Z", "+00:00"))
    except ValueError:
        try:
            return _timestamp_v1(st)
        except _RowError:
            raise _RowError(f"unparseable tweet_time: {s[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _timestamp_v1(s: str) -> int:
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
        raise _RowError(f"unparseable created_at: {s[:40]!r}") from None


_LIST_OK = re.compile(
    r"\[\s*(?:(?:'[^'\\]*'|\"[^\"\\]*\"|-?[0-9]+)\s*,\s*)*(?:'[^'\\]*'|\"[^\"\\]*\"|-?[0-9]+)?\s*,?\s*\]"
)
_LIST_ITEM = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"|(-?[0-9]+)")


def _list(s: str, col: str, ids: bool = False) -> list[str] | None:
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
            return [_norm_id(x) or x for x in items] if ids else items
    elif s[:1] == "[" and s[-1:] == "]" and s[1:2].isdigit():
        items = s[1:-1].split(", ")
        if all(x.isdigit() for x in items):
            return items
    if _LIST_OK.fullmatch(s):
        items = [a or b or c for a, b, c in _LIST_ITEM.findall(s)]
    else:
        items = _list_slow(s, col)
    if ids:
        return [_norm_id(x) or x for x in items]
    return items


def _list_slow(s: str, col: str) -> list[str]:
    st = s.strip()
    if not (st.startswith("[") and st.endswith("]")):
        raise _RowError(f"unparseable list in {col}: {s[:60]!r}")
    try:
        v = ast.literal_eval(st)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise _RowError(f"unparseable list in {col}: {s[:60]!r}") from None
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
        raise _RowError(f"unparseable list in {col}: {s[:60]!r}")
    return [x if isinstance(x, str) else str(x) for x in v]


# ---------------------------------------------------------------------------------------
# Ingest state: outputs, accounts, duplicates, counts


# Indexes into an account record (a list in ACCOUNTS_SCHEMA order).
_A_FIELDS = [f.name for f in ACCOUNTS_SCHEMA]
_A_CAMPAIGN = _A_FIELDS.index("campaign")
_A_LABEL = _A_FIELDS.index("label")
_A_SOURCE = _A_FIELDS.index("source_file")


_SECONDS = pa.timestamp("s", tz="UTC")


def _column(values: Any, typ: pa.DataType) -> pa.Array:
    """Times are held as epoch seconds; the schema decides the stored unit."""
    if pa.types.is_timestamp(typ) and not typ.equals(_SECONDS):
        return pa.array(values, type=_SECONDS).cast(typ)
    return pa.array(values, type=typ)


class _State:
    def __init__(self, params: IngestParams, progress: bool, out_dir: Path = Path(".")) -> None:
        self.params = params
        self.out_dir = out_dir
        self.bad_utf8 = 0  # records quarantined as invalid UTF-8, all files
        self.progress = progress
        self.quarantine_writer: Any = None
        self.tweets_writer: pq.ParquetWriter | None = None
        self.batch: list[tuple[Any, ...]] = []
        self.tweets_written = 0
        self.quarantined = 0
        self.file_reports: list[FileReport] = []
        self.skipped: list[str] = []
        self.warnings: list[str] = []
        self.seen_tweetids: set[str] = set()
        # userid -> account record (ACCOUNTS_SCHEMA order), from users files
        self.users: dict[str, list[Any]] = {}
        # userid -> [tweet_time, profile tuple, campaign, label, source_file, dump]
        self.authors: dict[str, list[Any]] = {}
        self.user_dump: dict[str, str] = {}
        self.n_from_users = 0
        # header of part 1 of a split file, for later parts written without one
        self.part_headers: dict[str, list[str]] = {}

    def quarantine(self, file: str, line: int, reason: str, raw: str) -> None:
        if len(raw) > RAW_MAX_CHARS:
            raw = raw[:RAW_MAX_CHARS] + "…[truncated]"
        try:
            self.quarantine_writer.writerow((file, line, reason, raw.replace("\x00", "\\x00")))
        except OSError as exc:  # raised here, it would read as an input error of the file
            raise _output_error(exc, self.out_dir / "quarantine.csv") from exc
        self.quarantined += 1
        if reason == "invalid UTF-8":
            self.bad_utf8 += 1

    def flush_tweets(self) -> None:
        if not self.batch:
            return
        cols = list(zip(*self.batch))
        arrays = [_column(col, f.type) for col, f in zip(cols, TWEETS_SCHEMA)]
        assert self.tweets_writer is not None
        try:
            self.tweets_writer.write_table(pa.Table.from_arrays(arrays, schema=TWEETS_SCHEMA))
        except OSError as exc:  # raised here, it would read as an input error of the file
            raise _output_error(exc, self.out_dir / "tweets.parquet") from exc
        self.tweets_written += len(self.batch)
        self.batch = []
        if self.progress:
            print(f"ingest: {self.tweets_written} tweets written", file=sys.stderr)

    def label_conflict(self, userid: str, label_a: str | None, dump_a: str, label_b: str | None, dump_b: str) -> None:
        if label_a is not None and label_b is not None and label_a != label_b:
            raise InputError(
                f"Account {userid} is labelled '{label_a}' in dump {dump_a} and '{label_b}' in dump "
                f"{dump_b}; an account can carry only one label."
            )

    def build_accounts(self) -> pa.Table:
        rows = list(self.users.values())
        self.n_from_users = len(rows)
        for uid, (_t, profile, campaign, label, source, dump) in self.authors.items():
            known = self.users.get(uid)
            if known is not None:
                self.label_conflict(uid, known[_A_LABEL], self.user_dump[uid], label, dump)
                continue
            is_hashed = not (uid.isdigit() and uid.isascii())
            rows.append([uid, *profile, is_hashed, False, campaign, label, source])
        cols = list(zip(*rows)) if rows else [[] for _ in ACCOUNTS_SCHEMA]
        arrays = [pa.array(col, type=f.type) for col, f in zip(cols, ACCOUNTS_SCHEMA)]
        return pa.Table.from_arrays(arrays, schema=ACCOUNTS_SCHEMA)


# ---------------------------------------------------------------------------------------
# Reading one file


_BLOCK_BYTES = 1 << 20
# Characters str.splitlines() breaks on besides '\n' and '\r\n'; line numbers count '\n' only.
_ODD_BREAK_CHARS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _odd_breaks(text: str) -> bool:
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return True
    return any(c in text for c in _ODD_BREAK_CHARS)


class _LineState:
    """What the line reader knows that the CSV reader does not: physical lines with invalid
    UTF-8 or NUL bytes, the last two blocks of lines (for the quarantine's raw text), and
    whether the input is exhausted."""

    __slots__ = ("bad", "eof", "blocks")

    def __init__(self) -> None:
        self.bad: dict[int, str] = {}  # line number -> reason
        self.eof = False
        self.blocks: list[tuple[int, list[str]]] = []  # (number of first line, lines)

    def raw(self, first: int, last: int) -> str:
        out: list[str] = []
        for base, lines in self.blocks:
            lo, hi = max(first, base), min(last, base + len(lines) - 1)
            if lo <= hi:
                out.extend(lines[lo - base : min(hi, lo + _RAW_MAX_LINES) - base + 1])
        return "".join(out)

    def bad_reason(self, first: int, last: int) -> str | None:
        for n in range(first, last + 1):
            r = self.bad.get(n)
            if r is not None:
                return r
        return None


def _blocks(fh: IO[bytes], st: _LineState) -> Iterator[list[str]]:
    """Lists of decoded physical lines (ends kept), decoded a block at a time: a valid
    block costs one decode; a block with invalid UTF-8 or NUL bytes is redone line by line
    and its bad lines are flagged."""
    base = 1
    rest = b""
    first = True
    while True:
        chunk = fh.read(_BLOCK_BYTES)
        if first:
            first = False
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
        if chunk:
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            data, rest = data[:cut], data[cut:]
        else:
            data, rest = rest, b""
            if not data:
                break
        try:
            text = data.decode("utf-8")
            bad = "\x00" in text
        except UnicodeDecodeError:
            bad = True
        if not bad:
            if not _odd_breaks(text):
                lines = text.splitlines(True)  # same breaks as '\n' here, in one C pass
            else:
                lines = text.split("\n")
                tail = lines.pop()
                lines = [ln + "\n" for ln in lines]
                if tail:
                    lines.append(tail)
        else:
            lines = []
            for i, raw in enumerate(_split_lf(data)):
                try:
                    ln = raw.decode("utf-8")
                except UnicodeDecodeError:
                    ln = raw.decode("utf-8", "surrogateescape")
                    st.bad[base + i] = "invalid UTF-8"
                if "\x00" in ln:
                    st.bad[base + i] = "NUL byte"
                lines.append(ln)
        st.blocks = [*st.blocks[-1:], (base, lines)]
        base += len(lines)
        yield lines
        if not chunk:
            break
    st.eof = True


class _Utf8Recoder(io.RawIOBase):
    """A UTF-16/UTF-32 byte stream (with its BOM) read as UTF-8 bytes. Unpaired surrogates
    come out as invalid UTF-8, so their lines are quarantined like any invalid UTF-8."""

    def __init__(self, fh: IO[bytes], encoding: str) -> None:
        self._fh = fh
        self._dec = codecs.getincrementaldecoder(encoding)(errors="surrogatepass")
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._eof:
            chunk = self._fh.read(1 << 16)
            try:
                text = self._dec.decode(chunk, final=not chunk)
                self._buf = text.encode("utf-8", "surrogatepass")
            except UnicodeDecodeError:  # an odd byte at the end: a last, invalid line
                self._buf = b"\xff"
            self._eof = not chunk
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _utf8_stream(fh: IO[bytes]) -> tuple[IO[bytes], str | None]:
    """`fh`, or a UTF-8 view of it when it starts with a UTF-16 or UTF-32 byte-order mark
    (Excel's "Unicode text" export). Files without a mark are read as UTF-8."""
    peek = getattr(fh, "peek", None)
    head = peek(4)[:4] if peek is not None else b""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return io.BufferedReader(_Utf8Recoder(fh, encoding), _BLOCK_BYTES), encoding  # type: ignore[arg-type]
    return fh, None


def _split_lf(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    tail = parts.pop()
    out = [p + b"\n" for p in parts]
    if tail:
        out.append(tail)
    return out


_PART = re.compile(r"_part0*(\d+)", re.I)


def _read_file(
    state: _State,
    spec: tuple[str, str | None, str | None],
    path: Path,
    kind: str,
    label: str,
    opener: Callable[[], IO[bytes]],
) -> None:
    report = FileReport(file=label, kind=kind, rows_read=0, rows_quarantined=0)
    q0, bad0 = state.quarantined, state.bad_utf8
    try:
        with opener() as raw_fh:
            fh, encoding = _utf8_stream(raw_fh)
            if encoding:
                state.warnings.append(f"{label} is {encoding.upper()} (byte-order mark); decoded it.")
            ext = _ext_of(path.name) or ".csv"
            if ext in _JSON_EXT:
                _read_jsonl(state, spec, fh, kind, label, report)
            else:
                _read_csv(state, spec, fh, kind, label, report)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"{label} is not a valid gzip stream or is truncated ({exc}).") from exc
    except zipfile.BadZipFile as exc:
        raise InputError(f"{label} is a corrupt zip member ({exc}).") from exc
    except OSError as exc:
        raise InputError(f"{label} cannot be read: {exc}.") from exc
    report.rows_quarantined = state.quarantined - q0
    bad = state.bad_utf8 - bad0
    records = report.rows_read + report.rows_quarantined
    if bad >= _WRONG_ENCODING_MIN_RECORDS and 2 * bad > records:
        raise InputError(
            f"{label} is not UTF-8: {bad} of its {records} records hold invalid UTF-8 (GB18030, Big5 or "
            "Latin-1?); re-encode it as UTF-8, e.g. with iconv -f GB18030 -t UTF-8."
        )
    state.file_reports.append(report)
    if state.progress:
        print(f"ingest: {label}: {report.rows_read} rows read, {report.rows_quarantined} quarantined", file=sys.stderr)


def _read_csv(
    state: _State,
    spec: tuple[str, str | None, str | None],
    fh: IO[bytes],
    kind: str,
    src: str,
    report: FileReport,
) -> None:
    # The csv module's field limit is process-wide: set it for this file only.
    previous = csv.field_size_limit(state.params.max_field_chars)
    try:
        _read_csv_rows(state, spec, fh, kind, src, report)
    finally:
        csv.field_size_limit(previous)


def _read_csv_rows(
    state: _State,
    spec: tuple[str, str | None, str | None],
    fh: IO[bytes],
    kind: str,
    src: str,
    report: FileReport,
) -> None:
    params = state.params
    st = _LineState()
    reader = csv.reader(itertools.chain.from_iterable(_blocks(fh, st)), strict=False)
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
    pending: list[str] | None = None
    part = _PART.search(src)
    stem_key = _PART.sub("_part", src) if part else ""
    missing = [c for c in required if c not in names]
    if missing and part and int(part.group(1)) > 1 and len(state.part_headers.get(stem_key, ())) == len(header):
        # A later part of a split file written without its own header: reuse part 1's.
        pending = header
        names = state.part_headers[stem_key]
        missing = []
        state.warnings.append(f"{src} has no header row; used the header of the first part.")
    if missing:
        raise InputError(
            f"{src} has no '{missing[0]}' column, which a {kind} file requires "
            f"(its header has: {', '.join(names[:12])}{'…' if len(names) > 12 else ''})."
        )
    if part:
        state.part_headers[stem_key] = names
    idx: dict[str, int] = {}
    for i, n in enumerate(names):
        idx.setdefault(n, i)
    width = len(names)
    convert = _tweet_converter(idx, width) if kind == "tweets" else _user_converter(idx, width)
    is_tweets = kind == "tweets"

    campaign, lab, dump = spec[1], spec[2], spec[0]
    batch = state.batch
    batch_rows = params.batch_rows
    seen = state.seen_tweetids
    authors = state.authors
    users = state.users
    user_dump = state.user_dump
    bad = st.bad
    read = 0
    last_end = reader.line_num if pending is None else 0

    def quarantine(start: int, end: int, reason: str) -> None:
        state.quarantine(src, start, reason, st.raw(start, end))

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
                    report.blank_lines += 1
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
                    out = convert(row)
                except _RowError as exc:
                    quarantine(start, end, str(exc))
                    continue
                if is_tweets:
                    tweet, uid, profile = out
                    tid = tweet[0]
                    if tid in seen:
                        quarantine(start, end, "duplicate tweetid")
                        continue
                    seen.add(tid)
                    batch.append((*tweet, campaign, lab, src))
                    ts = tweet[4]
                    cur = authors.get(uid)
                    if cur is None:
                        authors[uid] = [ts, profile, campaign, lab, src, dump]
                    else:
                        if cur[3] != lab:
                            state.label_conflict(uid, cur[3], cur[5], lab, dump)
                        if ts >= cur[0]:
                            cur[0], cur[1], cur[4] = ts, profile, src
                    if len(batch) >= batch_rows:
                        state.flush_tweets()
                        batch = state.batch
                else:
                    uid, profile = out
                    known = users.get(uid)
                    if known is not None:
                        state.label_conflict(uid, known[_A_LABEL], user_dump[uid], lab, dump)
                        quarantine(start, end, f"duplicate userid (first in {known[_A_SOURCE]})")
                        continue
                    users[uid] = [uid, *profile, not (uid.isdigit() and uid.isascii()), True, campaign, lab, src]
                    user_dump[uid] = dump
                read += 1
            break
        except csv.Error as exc:
            start = last_end + 1
            last_end = end = max(reader.line_num, start)
            msg = str(exc)
            if "field larger than field limit" in msg:
                reason = f"field longer than {params.max_field_chars} characters"
            else:
                reason = st.bad_reason(start, end) or f"malformed CSV record ({msg})"
            quarantine(start, end, reason)
            it = reader  # the exception closed the rows() generator, if it was in use
    report.rows_read = read


def _getter(idx: dict[str, int], width: int) -> Callable[[str], int]:
    # Absent optional columns read from index `width`, where every row gets an extra ''.
    return lambda name: idx.get(name, width)


def _profile_converter(idx: dict[str, int], width: int) -> Callable[[list[str]], tuple[Any, ...]]:
    g = _getter(idx, width)
    i_dn, i_sn, i_loc, i_desc, i_url, i_fol, i_fing, i_acd, i_lang = (g(c) for c in PROFILE_COLUMNS)
    cnt, dget = _count, _day_cache.get

    def profile(r: list[str]) -> tuple[Any, ...]:
        fol, fing, acd = r[i_fol], r[i_fing], r[i_acd]
        return (
            r[i_dn] or None,
            r[i_sn] or None,
            r[i_loc] or None,
            r[i_desc] or None,
            r[i_url] or None,
            int(fol) if len(fol) < 19 and fol.isdecimal() else cnt(fol, "follower_count"),
            int(fing) if len(fing) < 19 and fing.isdecimal() else cnt(fing, "following_count"),
            dget(acd) if acd in _day_cache else _date(acd, "account_creation_date"),
            r[i_lang] or None,
        )

    return profile


def _user_converter(idx: dict[str, int], width: int) -> Callable[[list[str]], tuple[Any, ...]]:
    profile = _profile_converter(idx, width)
    i_uid = idx["userid"]

    def convert(r: list[str]) -> tuple[Any, ...]:
        r.append("")
        uid = _norm_id(r[i_uid])
        if uid is None:
            raise _RowError("empty userid")
        return uid, profile(r)

    return convert


def _tweet_converter(idx: dict[str, int], width: int) -> Callable[[list[str]], tuple[Any, ...]]:
    g = _getter(idx, width)
    profile = _profile_converter(idx, width)
    (i_tid, i_uid, i_lang, i_text, i_time, i_client, i_rpu, i_rpt, i_qt, i_isrt, i_rtu, i_rtt,
     i_lat, i_lon, i_qc, i_rc, i_lc, i_rtc, i_ht, i_urls, i_um, i_poll) = (g(c) for c in _TWEET_DATA_COLUMNS)
    nid, cnt, lst, ts_, bools, coord = _norm_id, _count, _list, _timestamp, _BOOL, _coord

    # Each field: the common case inline, anything else through the full parser.
    def convert(r: list[str]) -> tuple[Any, ...]:
        r.append("")
        tid, uid = r[i_tid], r[i_uid]
        if not tid.isdigit():
            tid = nid(tid)
            if tid is None:
                raise _RowError("empty tweetid")
        if not uid.isdigit():
            uid = nid(uid)
            if uid is None:
                raise _RowError("empty userid")
        rpu, rpt, qt, rtu, rtt = r[i_rpu], r[i_rpt], r[i_qt], r[i_rtu], r[i_rtt]
        isrt, lat, lon = r[i_isrt], r[i_lat], r[i_lon]
        qc, rc, lc, rtc = r[i_qc], r[i_rc], r[i_lc], r[i_rtc]
        ht, urls, um = r[i_ht], r[i_urls], r[i_um]
        tweet = (
            tid,
            uid,
            r[i_lang] or None,
            r[i_text] or None,
            ts_(r[i_time]),
            r[i_client] or None,
            (rpu if rpu.isdigit() else nid(rpu)) if rpu else None,
            (rpt if rpt.isdigit() else nid(rpt)) if rpt else None,
            (qt if qt.isdigit() else nid(qt)) if qt else None,
            bools[isrt] if isrt in bools else _bool(isrt),
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
        )
        return tweet, uid, profile(r)

    return convert


# ---------------------------------------------------------------------------------------
# Twitter API v1.1 JSON lines


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
    return _norm_id(v if isinstance(v, str) else str(v)) if v is not None else None


def _jcount(obj: dict[str, Any], key: str) -> int | None:
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        return _count(str(v), key)
    if v < 0:
        raise _RowError(f"negative {key}: {v}")
    if v > _INT64_MAX:
        raise _RowError(f"{key} out of range: {v}")
    return v


def _user_profile(u: dict[str, Any]) -> tuple[Any, ...]:
    created = u.get("created_at")
    acd = None
    if created:
        try:
            acd = _timestamp_v1(created) // 86400
        except _RowError:
            acd = _date(str(created), "user.created_at")
    return (
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


def _v1_tweet(o: dict[str, Any]) -> tuple[tuple[Any, ...], str, tuple[Any, ...]]:
    tid = _id(o, "id")
    if tid is None:
        if "delete" in o or "limit" in o:
            raise _RowError("not a tweet (stream notice)")
        raise _RowError("missing id_str")
    user = o.get("user")
    if not isinstance(user, dict):
        raise _RowError("missing user object")
    uid = _id(user, "id")
    if uid is None:
        raise _RowError("empty userid")
    created = o.get("created_at")
    if not created:
        raise _RowError("empty tweet_time")
    ts = _timestamp_v1(created) if isinstance(created, str) and created[:1].isalpha() else _timestamp(str(created))
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
    tweet = (
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
    return tweet, uid, _user_profile(user)


def _raw_json(raw: bytes) -> str:
    return raw[: RAW_MAX_CHARS * 4].decode("utf-8", "backslashreplace")


def _read_jsonl(
    state: _State,
    spec: tuple[str, str | None, str | None],
    fh: IO[bytes],
    kind: str,
    label: str,
    report: FileReport,
) -> None:
    campaign, lab, dump = spec[1], spec[2], spec[0]
    limit = state.params.max_field_chars
    read = 0
    for n, raw in enumerate(fh, 1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if n == 1 and raw.lstrip()[:1] == b"[":
            raise InputError(f"{label} is a JSON array, not JSON lines; write one object per line.")
        if not raw.strip():
            report.blank_lines += 1
            continue
        raw_text = functools.partial(_raw_json, raw)
        if len(raw) > limit:
            state.quarantine(label, n, f"record longer than {limit} characters", raw_text())
            continue
        try:
            obj = _json_loads(raw)
        except UnicodeDecodeError:
            state.quarantine(label, n, "invalid UTF-8", raw_text())
            continue
        except _JSON_ERRORS as exc:
            reason = "invalid UTF-8" if "utf-8" in str(exc).lower() else "invalid JSON"
            state.quarantine(label, n, reason, raw_text())
            continue
        if not isinstance(obj, dict):
            state.quarantine(label, n, "not a JSON object", raw_text())
            continue
        try:
            if kind == "tweets":
                tweet, uid, profile = _v1_tweet(obj)
            else:
                uid = _id(obj, "id")
                if uid is None:
                    raise _RowError("empty userid")
                profile = _user_profile(obj)
        except _RowError as exc:
            state.quarantine(label, n, str(exc), raw_text())
            continue
        except (ValueError, TypeError, AttributeError) as exc:
            state.quarantine(label, n, f"unexpected JSON shape ({exc})", raw_text())
            continue
        if kind == "tweets":
            if tweet[0] in state.seen_tweetids:
                state.quarantine(label, n, "duplicate tweetid", raw_text())
                continue
            state.seen_tweetids.add(tweet[0])
            state.batch.append((*tweet, campaign, lab, label))
            cur = state.authors.get(uid)
            if cur is None:
                state.authors[uid] = [tweet[4], profile, campaign, lab, label, dump]
            else:
                if cur[3] != lab:
                    state.label_conflict(uid, cur[3], cur[5], lab, dump)
                if tweet[4] >= cur[0]:
                    cur[0], cur[1], cur[4] = tweet[4], profile, label
            if len(state.batch) >= state.params.batch_rows:
                state.flush_tweets()
        else:
            known = state.users.get(uid)
            if known is not None:
                state.label_conflict(uid, known[_A_LABEL], state.user_dump[uid], lab, dump)
                state.quarantine(label, n, f"duplicate userid (first in {known[_A_SOURCE]})", raw_text())
                continue
            state.users[uid] = [uid, *profile, not (uid.isdigit() and uid.isascii()), True, campaign, lab, label]
            state.user_dump[uid] = dump
        read += 1
    report.rows_read = read
