"""The evasion playbook: text tricks an operation uses against text matching, as pure functions.

Operators who know they are being matched on text break the match without changing what a
reader sees: zero-width characters inside words, Latin letters swapped for Cyrillic or
Greek look-alikes, ASCII written full-width, emoji and hashtags appended. A detector that
leans on exact or near-duplicate text loses the signal; one that normalises text first
(NFKC, dropping format characters, folding confusables) keeps it. These functions make the
attacked copy of a dump, so the two can be compared.

- `evade_text(text, tricks, rng)`: one text. URLs, @mentions, hashtags and a leading
  "RT @handle: " are left alone (an operator who breaks them breaks the post). Chinese
  text gets zero-width characters and padding; Latin letters, also inside mixed text, get
  homoglyphs and full-width forms. Each trick touches a share of what it can touch, never
  all of it, and at least one place when there is one.
- `evade_dump(in_dir, out_dir, tricks, seed)`: a copy of an archive-format dump tree
  (`<campaign>/<label>/...`: .csv, .csv.gz, .zip, and .jsonl/.json/.ndjson, plain or
  gzipped) in which only the tweet text of the state-linked tweets files is rewritten;
  every other file is copied byte for byte, and in a rewritten CSV every other field keeps
  its bytes. An operator can edit their own posts but not someone else's: a retweet of a
  post of the same dump carries that post's attacked text, a retweet of an outside post is
  left as it is.

Deterministic: each text is attacked with a random.Random seeded from (seed, tweet id), so
the same seed gives the same output, and a retweet matches its original.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import io
import json
import random
import re
import shutil
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

TRICKS = ("zero_width", "homoglyph", "fullwidth", "padding")

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")

# Latin letter -> Cyrillic / Greek look-alikes (none of them changes under NFKC, which is
# why folding confusables needs a table like this one).
HOMOGLYPHS: dict[str, str] = {
    "a": "а", "c": "с", "d": "ԁ", "e": "е", "h": "һ", "i": "іι", "j": "ј", "k": "κ", "l": "ӏ", "o": "оο",
    "p": "рρ", "q": "ԛ", "s": "ѕ", "u": "υ", "v": "ν", "w": "ԝ", "x": "хχ", "y": "у",
    "A": "АΑ", "B": "ВΒ", "C": "С", "E": "ЕΕ", "H": "НΗ", "I": "ІΙ", "J": "Ј", "K": "КΚ", "M": "МΜ",
    "N": "Ν", "O": "ОΟ", "P": "РΡ", "S": "Ѕ", "T": "ТΤ", "X": "ХΧ", "Y": "ҮΥ", "Z": "Ζ",
}

_PAD_EMOJI = ("🔥", "👍", "💯", "🙏", "😊", "🌸", "✨", "🎉", "👀", "💪", "🌟", "😂", "🥰", "📢")
_PAD_TAGS = ("#news", "#China", "#travel", "#love", "#photography", "#trending", "#fyp", "#viral", "#中国", "#美食",
             "#旅行", "#日常", "#follow", "#instagood")

_RT_HEAD = re.compile(r"RT @[^\s:]+: ")
_TOKENS = re.compile(r"(\s+)")
_TEXT_FIELDS_JSON = ("full_text", "text")
_TRUE = {"true", "1"}


def _checked(tricks: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(tricks))
    unknown = [t for t in wanted if t not in TRICKS]
    if unknown:
        raise ValueError(f"Unknown evasion trick(s) {', '.join(unknown)}; known: {', '.join(TRICKS)}.")
    return tuple(t for t in TRICKS if t in wanted)  # one fixed order, whatever the caller's


def _protected(token: str) -> bool:
    return token.startswith(("http", "www.", "@", "#")) or "://" in token


def _sample(places: list, share: float, rng: random.Random) -> list:
    """A share of the places (at least one when there is one), in their order."""
    if not places:
        return []
    k = max(1, round(len(places) * share))
    return sorted(rng.sample(range(len(places)), k))


def _homoglyph(tokens: list[str], editable: list[int], rng: random.Random) -> None:
    places = [(i, j) for i in editable for j, c in enumerate(tokens[i]) if c in HOMOGLYPHS]
    chosen = {places[k] for k in _sample(places, rng.uniform(0.2, 0.45), rng)}
    for i in editable:
        tokens[i] = "".join(rng.choice(HOMOGLYPHS[c]) if (i, j) in chosen else c for j, c in enumerate(tokens[i]))


def _fullwidth(tokens: list[str], editable: list[int], rng: random.Random) -> None:
    # Whole words, as evaders write them (ＣＣＰ, ｃｏｖｉｄ), not scattered letters.
    words = [i for i in editable if any(c.isascii() and c.isalnum() for c in tokens[i])]
    for k in _sample(words, rng.uniform(0.3, 0.6), rng):
        i = words[k]
        tokens[i] = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in tokens[i])


def _zero_width(tokens: list[str], editable: list[int], rng: random.Random) -> None:
    # Only between two letters or digits: never next to a combining mark, whose composition
    # a format character would block (then normalising would not give the text back).
    gaps = [(i, j) for i in editable for j in range(1, len(tokens[i]))
            if tokens[i][j - 1].isalnum() and tokens[i][j].isalnum()]
    chosen: dict[int, set[int]] = {}
    for k in _sample(gaps, rng.uniform(0.12, 0.3), rng):
        i, j = gaps[k]
        chosen.setdefault(i, set()).add(j)
    for i, cuts in chosen.items():
        t = tokens[i]
        tokens[i] = "".join((rng.choice(ZERO_WIDTH) + c) if j in cuts else c for j, c in enumerate(t))


def _padding(text: str, rng: random.Random) -> str:
    pads = rng.sample(_PAD_EMOJI, rng.randint(0, 3)) + rng.sample(_PAD_TAGS, rng.randint(0, 2))
    if not pads:
        pads = [rng.choice(_PAD_EMOJI)]
    rng.shuffle(pads)
    glue = rng.choice((" ", " ", "  ", "\n"))
    return text.rstrip() + glue + " ".join(pads)


def evade_text(text: str, tricks: Iterable[str], rng: random.Random) -> str:
    """`text` with the given tricks applied (see the module docstring)."""
    tricks = _checked(tricks)
    m = _RT_HEAD.match(text)
    head, body = (text[: m.end()], text[m.end():]) if m else ("", text)
    tokens = _TOKENS.split(body)
    editable = [i for i, t in enumerate(tokens) if t and not t.isspace() and not _protected(t)]
    # Look-alikes before full-width: each Latin letter gets at most one disguise.
    if "homoglyph" in tricks:
        _homoglyph(tokens, editable, rng)
    if "fullwidth" in tricks:
        _fullwidth(tokens, editable, rng)
    if "zero_width" in tricks:
        _zero_width(tokens, editable, rng)
    out = head + "".join(tokens)
    if "padding" in tricks:
        out = _padding(out, rng)
    return out


# ======================================================================================
# Dumps
# ======================================================================================


class _Attack:
    """Which texts of one dump to rewrite and how: one rng per tweet id."""

    def __init__(self, tricks: tuple[str, ...], seed: int, own_ids: set[str]) -> None:
        self.tricks, self.seed, self.own_ids = tricks, seed, own_ids
        self.seen = self.changed = 0

    def _evade(self, text: str, key: str) -> str:
        return evade_text(text, self.tricks, random.Random(f"{self.seed}/{key}"))

    def rewrite(self, text: str, tweetid: str, retweet_of: str | None) -> str:
        self.seen += 1
        if retweet_of is not None:
            m = _RT_HEAD.match(text)
            if retweet_of not in self.own_ids or not m:
                return text  # somebody else's post: the operator cannot edit it
            new = text[: m.end()] + self._evade(text[m.end():], retweet_of)
        else:
            new = self._evade(text, tweetid)
        self.changed += new != text
        return new


# -- CSV, record by record, keeping every byte but the text field's ---------------------

_FIELD = re.compile(r'"(?:[^"]|"")*"|[^,"\r\n]*')


def _records(lines: Iterable[str]) -> Iterator[str]:
    """Raw CSV records, terminators included: a record ends at a line end outside quotes."""
    parts: list[str] = []
    quotes = 0
    for line in lines:
        parts.append(line)
        quotes += line.count('"')
        if quotes % 2 == 0:
            yield "".join(parts)
            parts, quotes = [], 0
    if parts:
        yield "".join(parts)


def _spans(record: str) -> list[tuple[int, int]] | None:
    """The (start, end) of each field of a record, or None when it is not well-formed CSV."""
    end = len(record)
    while end and record[end - 1] in "\r\n":
        end -= 1
    spans, pos = [], 0
    while True:
        m = _FIELD.match(record, pos)
        spans.append((pos, m.end()))
        pos = m.end()
        if pos < end and record[pos] == ",":
            pos += 1
            continue
        return spans if pos == end else None


def _value(raw: str) -> str:
    return raw[1:-1].replace('""', '"') if raw.startswith('"') else raw


def _encode(value: str, was_quoted: bool) -> str:
    if was_quoted or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_columns(header: str) -> dict[str, int]:
    row = next(csv.reader([header.lstrip("\ufeff")]), [])
    cols: dict[str, int] = {}
    for i, name in enumerate(row):
        cols.setdefault(name.strip().lower(), i)
    return cols


def _rewrite_csv(lines: Iterable[str], out: IO[str], attack: _Attack) -> None:
    records = _records(lines)
    header = next(records, None)
    if header is None:
        return
    out.write(header)
    cols = _csv_columns(header)
    if "tweet_text" not in cols:
        out.writelines(records)
        return
    i_text, i_id = cols["tweet_text"], cols.get("tweetid")
    i_rt, i_rtid = cols.get("is_retweet"), cols.get("retweet_tweetid")
    width = max(cols.values()) + 1
    for rec in records:
        spans = _spans(rec)
        if spans is None or len(spans) < width:
            out.write(rec)  # not a record this tool understands: leave it as it is
            continue
        fields = [_value(rec[a:b]) for a, b in spans]
        rt_of = None
        if i_rt is not None and fields[i_rt].strip().lower() in _TRUE:
            rt_of = fields[i_rtid] if i_rtid is not None else ""
        a, b = spans[i_text]
        old = fields[i_text]
        new = attack.rewrite(old, fields[i_id] if i_id is not None else f"row{attack.seen}", rt_of)
        out.write(rec if new == old else rec[:a] + _encode(new, rec[a:b].startswith('"')) + rec[b:])


def _csv_ids(lines: Iterable[str]) -> Iterator[str]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        return
    cols = {h.strip().lstrip("\ufeff").lower(): i for i, h in enumerate(header)}
    if "tweetid" in cols:
        i = cols["tweetid"]
        yield from (row[i] for row in reader if len(row) > i)


# -- JSONL (API v1.1 objects) --------------------------------------------------------------


def _rewrite_jsonl(lines: Iterable[str], out: IO[str], attack: _Attack) -> None:
    for line in lines:
        body = line.rstrip("\r\n")
        try:
            obj = json.loads(body)
        except ValueError:
            out.write(line)
            continue
        key = next((k for k in _TEXT_FIELDS_JSON if isinstance(obj, dict) and isinstance(obj.get(k), str)), None)
        if key is None:
            out.write(line)
            continue
        rt = obj.get("retweeted_status")
        rt_of = str(rt.get("id_str", "")) if isinstance(rt, dict) else None
        new = attack.rewrite(obj[key], str(obj.get("id_str", "")), rt_of)
        if new == obj[key]:
            out.write(line)
            continue
        obj[key] = new
        out.write(json.dumps(obj, ensure_ascii=False) + line[len(body):])


def _jsonl_ids(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "id_str" in obj:
            yield str(obj["id_str"])


# -- containers ------------------------------------------------------------------------------

_JSON_NAMES = (".jsonl", ".json", ".ndjson")


def _kind(name: str) -> str | None:
    """'csv' or 'jsonl' for a tweets file (by name, as the loader decides), else None."""
    low = name.lower()
    if "tweets" not in low:
        return None
    low = low.removesuffix(".gz")
    if low.endswith(".csv"):
        return "csv"
    if low.endswith(_JSON_NAMES):
        return "jsonl"
    return None


def _gzip_header(path: Path) -> tuple[str, int]:
    """(stored file name, mtime) of a gzip file, so the rewritten copy keeps them."""
    with open(path, "rb") as fh:
        head = fh.read(10)
        if len(head) < 10 or head[:2] != b"\x1f\x8b":
            return "", 0
        flags, mtime = head[3], struct.unpack("<I", head[4:8])[0]
        if flags & 4:  # FEXTRA
            (xlen,) = struct.unpack("<H", fh.read(2))
            fh.read(xlen)
        name = b""
        if flags & 8:  # FNAME
            while (ch := fh.read(1)) not in (b"", b"\x00"):
                name += ch
    return name.decode("latin-1"), mtime


def _text_in(fh: IO[bytes]) -> io.TextIOWrapper:
    # surrogateescape: bytes that are not UTF-8 go through unchanged
    return io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")


_REWRITERS: dict[str, Callable[[Iterable[str], IO[str], _Attack], None]] = {"csv": _rewrite_csv, "jsonl": _rewrite_jsonl}
_ID_READERS: dict[str, Callable[[Iterable[str]], Iterator[str]]] = {"csv": _csv_ids, "jsonl": _jsonl_ids}


def _tweets_members(src: Path) -> Iterator[tuple[str, Callable[[], contextlib.AbstractContextManager]]]:
    """(kind, opener of its bytes) of each tweets file that `src` is or holds."""
    if src.suffix.lower() == ".zip":
        with zipfile.ZipFile(src) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
        for name in names:
            kind = _kind(name)
            if kind:
                yield kind, functools.partial(_zip_member, src, name)
        return
    kind = _kind(src.name)
    if kind:
        yield kind, functools.partial(gzip.open if src.name.lower().endswith(".gz") else open, src, "rb")


@contextlib.contextmanager
def _zip_member(src: Path, name: str) -> Iterator[IO[bytes]]:
    with zipfile.ZipFile(src) as zf, zf.open(name) as fh:
        yield fh


def _rewrite_file(src: Path, dst: Path, attack: _Attack) -> None:
    if src.suffix.lower() == ".zip":
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
            zout.comment = zin.comment
            for info in zin.infolist():
                copy = zipfile.ZipInfo(info.filename, info.date_time)
                copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
                copy.create_system, copy.comment = info.create_system, info.comment
                kind = None if info.is_dir() else _kind(info.filename)
                with zin.open(info) as fin, zout.open(copy, "w", force_zip64=info.file_size > 1 << 30) as fout:
                    if kind is None:
                        shutil.copyfileobj(fin, fout)
                    else:
                        _rewrite_stream(kind, fin, fout, attack)
        return
    kind = _kind(src.name)
    assert kind is not None
    if src.name.lower().endswith(".gz"):
        name, mtime = _gzip_header(src)
        with gzip.open(src, "rb") as fin, open(dst, "wb") as raw, \
                gzip.GzipFile(filename=name, mode="wb", fileobj=raw, mtime=mtime) as fout:
            _rewrite_stream(kind, fin, fout, attack)
        return
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        _rewrite_stream(kind, fin, fout, attack)


def _rewrite_stream(kind: str, fin: IO[bytes], fout: IO[bytes], attack: _Attack) -> None:
    text_in = _text_in(fin)
    text_out = io.TextIOWrapper(fout, encoding="utf-8", errors="surrogateescape", newline="", write_through=True)
    try:
        _REWRITERS[kind](text_in, text_out, attack)
        text_out.flush()
    finally:
        text_in.detach()  # the caller closes the binary streams
        text_out.detach()


def _dump_root(rel: Path, label_dirs: tuple[str, ...]) -> Path | None:
    """The dump folder (up to the label component) a file belongs to, if it is attacked."""
    for k, part in enumerate(rel.parts[:-1]):
        if part in label_dirs:
            return Path(*rel.parts[: k + 1])
    return None


def evade_dump(in_dir: Path, out_dir: Path, tricks: Iterable[str], seed: int,
               label_dirs: Iterable[str] = ("state_linked",)) -> dict:
    """Copy the dump tree `in_dir` to `out_dir`, attacking the tweet text of the tweets files
    under a `label_dirs` folder. Returns {"texts_seen", "texts_changed", "files": {path
    relative to out_dir: texts changed in it}} (the attacked files only)."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    tricks = _checked(tricks)
    labels = tuple(label_dirs)
    if not in_dir.is_dir():
        raise FileNotFoundError(f"{in_dir} is not a folder of dumps.")
    if out_dir.resolve() == in_dir.resolve() or in_dir.resolve() in out_dir.resolve().parents:
        raise ValueError(f"out_dir {out_dir} must be outside in_dir {in_dir}.")
    files = sorted(p for p in in_dir.rglob("*") if p.is_file())
    # Pass 1: each attacked dump's own tweet ids (a retweet of one of them follows its edits).
    own: dict[Path, set[str]] = {}
    for src in files:
        root = _dump_root(src.relative_to(in_dir), labels)
        if root is None:
            continue
        ids = own.setdefault(root, set())
        for kind, opener in _tweets_members(src):
            with opener() as fh:
                text_in = _text_in(fh)
                ids.update(_ID_READERS[kind](text_in))
                text_in.detach()
    report: dict = {"texts_seen": 0, "texts_changed": 0, "files": {}}
    for src in files:
        rel = src.relative_to(in_dir)
        dst = out_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        root = _dump_root(rel, labels)
        if root is None or not any(True for _ in _tweets_members(src)):
            shutil.copyfile(src, dst)
            continue
        attack = _Attack(tricks, seed, own[root])
        _rewrite_file(src, dst, attack)
        report["texts_seen"] += attack.seen
        report["texts_changed"] += attack.changed
        report["files"][str(rel)] = attack.changed
    return report


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Copy a dump tree with the state-linked tweet texts attacked.")
    ap.add_argument("in_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--tricks", default=",".join(TRICKS), help=f"comma-separated, of {', '.join(TRICKS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", action="append", dest="labels", help="label folder to attack (repeatable)")
    args = ap.parse_args(argv)
    report = evade_dump(args.in_dir, args.out_dir, args.tricks.split(","), args.seed,
                        tuple(args.labels or ("state_linked",)))
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
