"""Text decoding. Files are UTF-8; a UTF-16 or UTF-32 byte-order mark is honoured; nothing else
is guessed. A line that is not UTF-8 is quarantined, and a file that is mostly not UTF-8 is
refused as a whole, since quarantining most of a GB18030 or Big5 file helps nobody.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import IO, Any

from pipeline.errors import InputError

BLOCK_BYTES = 1 << 20
UTF8_BOM = codecs.BOM_UTF8
_RAW_MAX_LINES = 64  # physical lines buffered per record for the quarantine's raw text
# A file where at least this many records, and more than half of them, are not UTF-8 is
# in another encoding (GB18030, Big5, Latin-1...): refused as a whole rather than quarantined.
_WRONG_ENCODING_MIN_RECORDS = 10
# UTF-32 first: its LE mark starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Characters str.splitlines() breaks on besides '\n' and '\r\n'; line numbers count '\n' only.
_ODD_BREAK_CHARS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def refuse_wrong_encoding(label: str, bad_utf8: int, records: int) -> None:
    """Raise InputError when `bad_utf8` of a file's `records` say it is in another encoding."""
    if bad_utf8 >= _WRONG_ENCODING_MIN_RECORDS and 2 * bad_utf8 > records:
        raise InputError(
            f"{label} is not UTF-8: {bad_utf8} of its {records} records hold invalid UTF-8 (GB18030, Big5 or "
            "Latin-1?); re-encode it as UTF-8, e.g. with iconv -f GB18030 -t UTF-8."
        )


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


def utf8_stream(fh: IO[bytes]) -> tuple[IO[bytes], str | None]:
    """`fh`, or a UTF-8 view of it when it starts with a UTF-16 or UTF-32 byte-order mark
    (Excel's "Unicode text" export), with that encoding's name. Files without a mark are
    read as UTF-8."""
    peek = getattr(fh, "peek", None)
    head = peek(4)[:4] if peek is not None else b""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return io.BufferedReader(_Utf8Recoder(fh, encoding), BLOCK_BYTES), encoding  # type: ignore[arg-type]
    return fh, None


class LineState:
    """What the line reader knows that the CSV reader does not: physical lines with invalid
    UTF-8 or NUL bytes, the last two blocks of lines (for the quarantine's raw text), and
    whether the input is exhausted."""

    __slots__ = ("bad", "eof", "blocks", "cr_only")

    def __init__(self) -> None:
        self.bad: dict[int, str] = {}  # line number -> reason
        self.eof = False
        self.cr_only = False  # the file ends its lines with CR alone (read as if they were LF)
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


def _odd_breaks(text: str) -> bool:
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return True
    return any(c in text for c in _ODD_BREAK_CHARS)


def _split_lf(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    tail = parts.pop()
    out = [p + b"\n" for p in parts]
    if tail:
        out.append(tail)
    return out


def line_blocks(fh: IO[bytes], st: LineState) -> Iterator[list[str]]:
    """Lists of decoded physical lines (ends kept), decoded a block at a time: a valid
    block costs one decode; a block with invalid UTF-8 or NUL bytes is redone line by line
    and its bad lines are flagged in `st`."""
    base = 1
    rest = b""
    first = True
    while True:
        chunk = fh.read(BLOCK_BYTES)
        if first:
            first = False
            if chunk.startswith(UTF8_BOM):
                chunk = chunk[3:]
            # Classic Mac OS exports end lines with CR alone: with no LF in the first block,
            # every CR is a line end (quoted newlines included, as the csv module expects).
            st.cr_only = b"\r" in chunk and b"\n" not in chunk
        if st.cr_only:
            chunk = chunk.replace(b"\r", b"\n")
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
