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

Modules: discover (files, containers, zip safety, split files), decode (encodings), fields
(per-field parsers), csvfile and jsonl (the two readers), sink (per-record bookkeeping and
the tweets writer), run (ingest_dumps).
"""

from pipeline.ingest.discover import discover_files, labelled_dumps
from pipeline.ingest.run import IngestReport, ingest_dumps
from pipeline.ingest.sink import FileReport, OutputError

__all__ = ["FileReport", "IngestReport", "OutputError", "discover_files", "ingest_dumps", "labelled_dumps"]
