"""Which files a dump holds and how to open them: folders, globs, single files, gzip, zip
archives (streamed, never extracted, and checked for tampering first) and split files whose
later parts lack a header.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from glob import glob
from pathlib import Path, PurePosixPath
from typing import IO, Any, NamedTuple

from pipeline.errors import InputError
from pipeline.ingest.decode import utf8_stream

CSV_EXT = (".csv", ".csv.gz")
JSON_EXT = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")
ZIP_EXT = (".zip",)
_READABLE_EXT = CSV_EXT + JSON_EXT
# A zip member that declares more than this uncompressed/compressed ratio (and is larger
# than _ZIP_RATIO_MIN_BYTES) is refused as a probable zip bomb. Real CSV dumps compress
# 5-20x; highly repetitive ones stay well under 100x.
MAX_ZIP_RATIO = 200
_ZIP_RATIO_MIN_BYTES = 8 << 20


class Source(NamedTuple):
    """One users or tweets file to read: a file on disk or a member of a zip archive."""

    name: str  # its file name, whose ending says the format (.csv, .jsonl, .gz)
    kind: str  # 'users' | 'tweets'
    label: str  # how the report, the quarantine and error messages name it
    open: Callable[[], IO[bytes]]


def discover_files(path: str) -> list[tuple[Path, str]]:
    """The dump files under `path` (a folder, searched recursively; a glob; or one file).

    Returns (file, kind) in natural order (``_part2`` before ``_part10``), where kind is
    'users' or 'tweets', or 'zip' for an archive whose members are classified when read.
    Raises InputError when nothing matches.
    """
    found, _skipped = discover(path)
    return found


def labelled_dumps(root: Path) -> list[tuple[str, str, str]]:
    """(path, campaign, label) for every `<campaign>/<label>/` folder under `root`, sorted:
    the layout the sample generators write (`ingest_dumps` takes the list as it is)."""
    return [(str(d), d.parent.name, d.name) for d in sorted(Path(root).glob("*/*")) if d.is_dir()]


def discover(path: str) -> tuple[list[tuple[Path, str]], list[str]]:
    """discover_files, and 'path (why)' for each file found but not read."""
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
        ext = ext_of(f.name)
        if ext is None:
            if explicit:
                raise InputError(
                    f"{f} is not a dump file: expected .csv, .csv.gz, .jsonl, .json, .jsonl.gz or .zip."
                )
            skipped.append(f"{f} (not a dump file type)")
            continue
        if ext in ZIP_EXT:
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


def _natural_key(p: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(p))]


def ext_of(name: str) -> str | None:
    """The dump file type `name` ends with (``.csv.gz``, ``.zip``...), or None."""
    low = name.lower()
    for ext in _READABLE_EXT + ZIP_EXT:
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


def _sniff_kind(f: Path, ext: str) -> str | None:
    """Kind of an explicitly named file whose name does not say: from its first line."""
    try:
        with open_binary(f) as raw_fh:
            fh, _enc = utf8_stream(raw_fh)
            first = fh.readline(1 << 20).decode("utf-8", "replace").lstrip("\ufeff")
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{f} cannot be read: {exc}.") from exc
    if ext in JSON_EXT:
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


def open_binary(path: Path) -> IO[bytes]:
    try:
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path} cannot be opened: {exc.strerror or exc}.") from exc


def file_source(path: Path, kind: str) -> Source:
    return Source(path.name, kind, str(path), functools.partial(open_binary, path))


def _unsafe_member(name: str) -> bool:
    pure = PurePosixPath(name.replace("\\", "/"))
    return pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":")


def zip_sources(path: Path, skipped: list[str]) -> Iterator[Source]:
    """The users and tweets members of the zip archive at `path`, in natural order, each
    checked (encryption, declared size) just before it is handed out; 'member (why)' for the
    others goes to `skipped`. The archive stays open until the iteration ends.

    Every member name is checked before any member is read: an archive with one tampered
    path ('..', absolute) is refused as a whole.
    """
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
        for info in sorted(members, key=lambda i: _natural_key(Path(i.filename))):
            name = info.filename
            base = PurePosixPath(name).name
            label = f"{path}::{name}"
            if name.startswith("__MACOSX/") or base.startswith("._"):
                skipped.append(f"{label} (macOS metadata)")
                continue
            ext = ext_of(base)
            kind = _kind_by_name(base)
            if ext is None or ext in ZIP_EXT or kind is None:
                skipped.append(f"{label} (not a users or tweets file)")
                continue
            if info.flag_bits & 0x1:
                raise InputError(f"{label} is encrypted; decrypt the archive first.")
            if info.file_size > _ZIP_RATIO_MIN_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
                raise InputError(
                    f"{label} declares {info.file_size} bytes from {info.compress_size} compressed "
                    f"(ratio over {MAX_ZIP_RATIO}); refusing it as a probable zip bomb."
                )
            yield Source(base, kind, label, functools.partial(_open_member, zf, info, base))


def _open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, base: str) -> IO[bytes]:
    raw = zf.open(info)
    if base.lower().endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


_PART = re.compile(r"_part0*(\d+)", re.I)


class SplitHeaders:
    """The column names of each split file (``x_part1.csv``, ``x_part2.csv``...), for a later
    part written without a header of its own."""

    def __init__(self) -> None:
        self._by_stem: dict[str, list[str]] = {}  # label with its part number dropped -> names

    def inherited(self, label: str, header: list[str]) -> list[str] | None:
        """An earlier part's names when `label` is a part after the first and `header` (its
        first row, then) has as many fields as they; otherwise None."""
        part = _PART.search(label)
        if not part or int(part.group(1)) <= 1:
            return None
        names = self._by_stem.get(_PART.sub("_part", label))
        # No earlier part read (or a blank first line): this part must carry its own header.
        if names is None or len(names) != len(header):
            return None
        return names

    def remember(self, label: str, names: list[str]) -> None:
        if _PART.search(label):
            self._by_stem[_PART.sub("_part", label)] = names
