"""Where every record a reader produces goes: the one place for duplicates, the quarantine,
the counts, the accounts and the batches written to tweets.parquet.

Memory does not grow with the number of tweets except for the set of tweet ids used to drop
duplicates; accounts are held in a dict (they are few).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import InputError, StatelinkError
from pipeline.schema import ACCOUNTS_SCHEMA, TWEETS_SCHEMA

RAW_MAX_CHARS = 4096  # raw text kept per quarantined record
_SECONDS = pa.timestamp("s", tz="UTC")


class OutputError(StatelinkError):
    """An output that cannot be written (no space, not a folder, no permission): names the path."""


def output_error(exc: OSError, where: Path | str) -> OutputError:
    """The OutputError for `exc`, raised while writing `where`, in one sentence."""
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


@dataclass
class FileReport:
    file: str
    kind: str  # 'users' | 'tweets'
    rows_read: int
    rows_quarantined: int
    blank_lines: int = 0  # empty lines: not records, neither read nor quarantined
    header_rows: int = 0  # the header repeated mid-file (parts joined with `cat`): skipped, not data


class Dump(NamedTuple):
    path: str
    campaign: str | None
    label: str | None


# The records readers hand the sink. Field order is the schemas' column order (tests check it),
# so a tweet row is written as it is.


class Profile(NamedTuple):
    """The profile columns (schema.PROFILE_COLUMNS) of a users row, or as a tweet row repeats them."""

    user_display_name: str | None
    user_screen_name: str | None
    user_reported_location: str | None
    user_profile_description: str | None
    user_profile_url: str | None
    follower_count: int | None
    following_count: int | None
    account_creation_date: int | None  # days since 1970-01-01
    account_language: str | None


class Tweet(NamedTuple):
    """A tweets.parquet row, less campaign, label and source_file (which the sink adds)."""

    tweetid: str
    userid: str
    tweet_language: str | None
    tweet_text: str | None
    tweet_time: int  # seconds since the epoch, UTC
    tweet_client_name: str | None
    in_reply_to_userid: str | None
    in_reply_to_tweetid: str | None
    quoted_tweet_tweetid: str | None
    is_retweet: bool | None
    retweet_userid: str | None
    retweet_tweetid: str | None
    latitude: float | None
    longitude: float | None
    quote_count: int | None
    reply_count: int | None
    like_count: int | None
    retweet_count: int | None
    hashtags: list[str] | None
    urls: list[str] | None
    user_mentions: list[str] | None
    poll_choices: str | None


@dataclass(slots=True)
class _Account:
    """An account until accounts.parquet is written: from a users row, or rebuilt from the
    latest tweet of an author that no users row holds (yet)."""

    profile: Profile
    campaign: str | None
    label: str | None
    source_file: str  # of the users row or of that latest tweet
    dump: str  # where the account was first seen, for a label conflict's message
    tweet_time: int = 0  # of that latest tweet

    def row(self, userid: str, from_users_file: bool) -> tuple[Any, ...]:
        """Its accounts.parquet row, in ACCOUNTS_SCHEMA order."""
        is_hashed = not (userid.isdigit() and userid.isascii())
        return (userid, *self.profile, is_hashed, from_users_file, self.campaign, self.label, self.source_file)


def _column(values: Any, typ: pa.DataType) -> pa.Array:
    """Times are held as epoch seconds; the schema decides the stored unit."""
    if pa.types.is_timestamp(typ) and not typ.equals(_SECONDS):
        return pa.array(values, type=_SECONDS).cast(typ)
    return pa.array(values, type=typ)


class Sink:
    """One ingest run's records: tweets batched to `tweets_writer`, quarantined rows to
    `quarantine_writer` (a csv writer), accounts held until build_accounts, and what the
    report says. Readers reach it through a FileSink, one per file."""

    def __init__(
        self,
        quarantine_writer: Any,
        tweets_writer: pq.ParquetWriter,
        out_dir: Path,
        batch_rows: int,
        on_flush: Callable[[int], None] | None = None,
    ) -> None:
        self.quarantine_writer = quarantine_writer
        self.tweets_writer = tweets_writer
        self.out_dir = out_dir
        self.batch_rows = batch_rows
        self.on_flush = on_flush  # called with the number of tweets written so far
        self.batch: list[tuple[Any, ...]] = []  # tweets.parquet rows not written yet
        self.tweets_written = 0
        self.quarantined = 0
        self.file_reports: list[FileReport] = []
        self.skipped: list[str] = []  # 'path (why)' for files not read
        self.warnings: list[str] = []
        self.seen_tweetids: set[str] = set()
        self.users: dict[str, _Account] = {}  # from users files
        self.authors: dict[str, _Account] = {}  # rebuilt from tweets
        self.n_from_users = 0  # set by build_accounts

    def file(self, dump: Dump, label: str, kind: str) -> FileSink:
        return FileSink(self, dump, label, kind)

    def quarantine(self, file: str, line: int, reason: str, raw: str) -> None:
        if len(raw) > RAW_MAX_CHARS:
            raw = raw[:RAW_MAX_CHARS] + "…[truncated]"
        try:
            self.quarantine_writer.writerow((file, line, reason, raw.replace("\x00", "\\x00")))
        except OSError as exc:  # raised here, it would read as an input error of the file
            raise output_error(exc, self.out_dir / "quarantine.csv") from exc
        self.quarantined += 1

    def flush_tweets(self) -> None:
        if not self.batch:
            return
        cols = list(zip(*self.batch))
        arrays = [_column(col, f.type) for col, f in zip(cols, TWEETS_SCHEMA)]
        try:
            self.tweets_writer.write_table(pa.Table.from_arrays(arrays, schema=TWEETS_SCHEMA))
        except OSError as exc:  # raised here, it would read as an input error of the file
            raise output_error(exc, self.out_dir / "tweets.parquet") from exc
        self.tweets_written += len(self.batch)
        self.batch.clear()  # not a new list: each FileSink holds this one
        if self.on_flush is not None:
            self.on_flush(self.tweets_written)

    def label_conflict(self, userid: str, label_a: str | None, dump_a: str, label_b: str | None, dump_b: str) -> None:
        if label_a is not None and label_b is not None and label_a != label_b:
            raise InputError(
                f"Account {userid} is labelled '{label_a}' in dump {dump_a} and '{label_b}' in dump "
                f"{dump_b}; an account can carry only one label."
            )

    def build_accounts(self) -> pa.Table:
        """accounts.parquet: every users row, then the authors no users file holds."""
        rows = [account.row(uid, True) for uid, account in self.users.items()]
        self.n_from_users = len(rows)
        for uid, author in self.authors.items():
            known = self.users.get(uid)
            if known is not None:
                self.label_conflict(uid, known.label, known.dump, author.label, author.dump)
                continue
            rows.append(author.row(uid, False))
        cols = list(zip(*rows)) if rows else [[] for _ in ACCOUNTS_SCHEMA]
        arrays = [pa.array(col, type=f.type) for col, f in zip(cols, ACCOUNTS_SCHEMA)]
        return pa.Table.from_arrays(arrays, schema=ACCOUNTS_SCHEMA)


class FileSink:
    """The sink as the reader of one file sees it: what it keeps or quarantines is counted in
    that file's report. `tweet` and `user` return why a record was refused (the reader
    quarantines it with its raw text), or None when it was kept."""

    __slots__ = ("_authors", "_batch", "_row_tail", "_seen", "bad_utf8", "dump", "label", "report", "sink")

    def __init__(self, sink: Sink, dump: Dump, label: str, kind: str) -> None:
        self.sink = sink
        self.dump = dump
        self.label = label
        self.report = FileReport(file=label, kind=kind, rows_read=0, rows_quarantined=0)
        self.bad_utf8 = 0  # records quarantined as invalid UTF-8
        self._row_tail = (dump.campaign, dump.label, label)  # the last three tweets.parquet columns
        # Looked up once per tweet otherwise: tweet() is the hot path.
        self._seen, self._batch, self._authors = sink.seen_tweetids, sink.batch, sink.authors

    def blank_line(self) -> None:
        self.report.blank_lines += 1

    def header_row(self) -> None:
        self.report.header_rows += 1

    def warn(self, message: str) -> None:
        self.sink.warnings.append(message)

    def quarantine(self, line: int, reason: str, raw: str) -> None:
        self.sink.quarantine(self.label, line, reason, raw)
        self.report.rows_quarantined += 1
        if reason == "invalid UTF-8":
            self.bad_utf8 += 1

    def tweet(self, tweet: Tweet, profile: Profile) -> str | None:
        tid, seen = tweet.tweetid, self._seen
        if tid in seen:
            return "duplicate tweetid"
        seen.add(tid)
        batch = self._batch
        batch.append(tweet + self._row_tail)
        uid, ts, dump = tweet.userid, tweet.tweet_time, self.dump
        author = self._authors.get(uid)
        if author is None:
            self._authors[uid] = _Account(profile, dump.campaign, dump.label, self.label, dump.path, ts)
        else:
            if author.label != dump.label:
                self.sink.label_conflict(uid, author.label, author.dump, dump.label, dump.path)
            if ts >= author.tweet_time:
                author.tweet_time, author.profile, author.source_file = ts, profile, self.label
        if len(batch) >= self.sink.batch_rows:
            self.sink.flush_tweets()
        self.report.rows_read += 1
        return None

    def user(self, userid: str, profile: Profile) -> str | None:
        sink, dump = self.sink, self.dump
        known = sink.users.get(userid)
        if known is not None:
            sink.label_conflict(userid, known.label, known.dump, dump.label, dump.path)
            return f"duplicate userid (first in {known.source_file})"
        sink.users[userid] = _Account(profile, dump.campaign, dump.label, self.label, dump.path)
        self.report.rows_read += 1
        return None
