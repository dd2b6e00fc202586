"""Ingest: real archive samples, every format variant, quarantine and all-or-nothing output."""

from __future__ import annotations

import csv
import gzip
import json
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import IngestParams
from pipeline.errors import InputError
from pipeline.ingest import discover_files, ingest_dumps
from pipeline.schema import ACCOUNTS_SCHEMA, QUARANTINE_COLUMNS, TWEETS_COLUMNS, TWEETS_SCHEMA, USERS_COLUMNS, check_schema

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-samples"
USERS_2019 = "china_082019_1_users_csv_hashed.csv"
CNHU = "CNHU_0621_tweets_csv_hashed_2020.sample.csv"
RUSSIA = "russia_201901_1_tweets_csv_hashed.raw_truncated.csv"
OUTPUTS = ("accounts.parquet", "tweets.parquet", "quarantine.csv", "ingest_report.json")

needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real samples not present at {REAL}")


# ----------------------------------------------------------------------------- helpers


def tweet_row(tweetid: str, userid: str = "100", when: str = "2020-01-02 03:04", **kw: str) -> dict[str, str]:
    row = {c: "" for c in TWEETS_COLUMNS}
    row.update(
        tweetid=tweetid, userid=userid, user_screen_name=f"sn{userid}", follower_count="10", following_count="5",
        account_creation_date="2015-06-01", tweet_language="en", tweet_text="hello", tweet_time=when,
        is_retweet="False", latitude="absent", longitude="absent", quote_count="0", reply_count="0",
        like_count="1", retweet_count="2", hashtags="[]", urls="[]", user_mentions="[]",
    )
    row.update(kw)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], columns=TWEETS_COLUMNS, newline="\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator=newline)
        w.writerow(columns)
        for r in rows:
            w.writerow([r.get(c, "") for c in columns])
    return path


def tweets(out: Path) -> dict[str, dict]:
    return {r["tweetid"]: r for r in pq.read_table(out / "tweets.parquet").to_pylist()}


def accounts(out: Path) -> dict[str, dict]:
    return {r["userid"]: r for r in pq.read_table(out / "accounts.parquet").to_pylist()}


def quarantine(out: Path) -> list[dict[str, str]]:
    with open(out / "quarantine.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def count_records(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as fh:
        return sum(1 for row in csv.reader(fh) if row) - 1


def assert_counts_add_up(report, out: Path) -> None:
    q = quarantine(out)
    assert report.quarantined == len(q) == sum(f.rows_quarantined for f in report.files)
    for f in report.files:
        assert f.rows_quarantined == sum(1 for r in q if r["file"] == f.file)
    assert report.tweets == pq.read_metadata(out / "tweets.parquet").num_rows


# ----------------------------------------------------------------------------- real samples


@needs_real
def test_real_samples_acceptance(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = ingest_dumps([(str(REAL), None, None)], out)
    for name in OUTPUTS:
        assert (out / name).exists()
    check_schema(out / "tweets.parquet", TWEETS_SCHEMA)
    check_schema(out / "accounts.parquet", ACCOUNTS_SCHEMA)
    by = {Path(f.file).name: f for f in report.files}
    assert (by[USERS_2019].kind, by[USERS_2019].rows_read, by[USERS_2019].rows_quarantined) == ("users", 744, 0)
    assert (by[CNHU].rows_read, by[CNHU].rows_quarantined) == (42, 0)
    russia_records = count_records(REAL / RUSSIA)  # the csv module returns the cut record too
    assert (by[RUSSIA].rows_read, by[RUSSIA].rows_quarantined) == (russia_records - 1, 1)
    assert report.tweets == 42 + russia_records - 1
    [q] = quarantine(out)
    assert Path(q["file"]).name == RUSSIA and q["reason"].startswith("truncated record")
    assert q["raw"].startswith('"929990851115212800"')
    assert int(q["line"]) > 900  # the record's first line, not the file's last
    assert any("README.md" in s for s in report.skipped)
    # the users file lists 744 accounts; the tweets' authors are rebuilt from tweet rows
    acc = accounts(out)
    from_users = [a for a in acc.values() if a["from_users_file"]]
    assert len(from_users) == 744 == report.accounts_from_users_files
    assert sum(a["is_hashed"] for a in from_users) == 254
    assert len(acc) == report.accounts == 744 + report.accounts_rebuilt_from_tweets
    assert_counts_add_up(report, out)
    rep = json.loads((out / "ingest_report.json").read_text())
    assert rep["tweets"] == report.tweets and rep["quarantined"] == 1 and len(rep["files"]) == 3


@needs_real
def test_real_users_file_values(tmp_path: Path) -> None:
    ingest_dumps([(str(REAL / USERS_2019), "hk_2019", "state_linked")], tmp_path)
    acc = accounts(tmp_path)
    a = acc["2993185258"]
    assert a["user_display_name"] == "HK時政直擊" and a["follower_count"] == 22551
    assert a["account_creation_date"] == date(2015, 1, 22)
    assert a["is_hashed"] is False and a["from_users_file"] is True
    assert (a["campaign"], a["label"]) == ("hk_2019", "state_linked")
    h = acc["vMm2zemFOF7kmXoDyX24Bo+TorqhNutpZlATYyxsE="]
    assert h["is_hashed"] is True and h["user_reported_location"] is None
    assert sum(a["account_creation_date"] == date(2017, 8, 30) for a in acc.values()) == 119


@needs_real
def test_real_cnhu_float_ids_and_text(tmp_path: Path) -> None:
    ingest_dumps([(str(REAL / CNHU), "xj", "state_linked")], tmp_path)
    tw = tweets(tmp_path)
    quoted = {t["quoted_tweet_tweetid"] for t in tw.values()} - {None}
    assert "1325015590000472000" in quoted  # written as 1.325015590000472e+18
    assert all(q.isdigit() for q in quoted)
    t = tw["1251405802318860289"]
    assert t["tweet_time"] == datetime(2020, 4, 18, 7, 2, tzinfo=timezone.utc)
    assert t["is_retweet"] is False and t["latitude"] is None and t["longitude"] is None
    assert t["hashtags"] == [] and t["like_count"] == 0
    assert any("\n" in (t["tweet_text"] or "") for t in tw.values())  # newline inside a quoted field
    acc = accounts(tmp_path)
    assert not any(a["from_users_file"] for a in acc.values()) and len(acc) == 39


@needs_real
def test_real_russia_lists_and_lowercase_bools(tmp_path: Path) -> None:
    ingest_dumps([(str(REAL / RUSSIA), "ru", "state_linked")], tmp_path)
    tw = list(tweets(tmp_path).values())
    assert sum(t["is_retweet"] for t in tw) == 3  # written lower-case 'true'
    rt = next(t for t in tw if t["is_retweet"])
    assert rt["retweet_tweetid"].isdigit() and rt["retweet_userid"]
    mentions = [m for t in tw for m in t["user_mentions"] or []]
    assert "2876420003" in mentions and all(isinstance(m, str) and m.isdigit() for m in mentions)
    t = next(t for t in tw if t["tweetid"] == "894109669869985793")
    assert t["hashtags"] == ["SyrianArmy", "Hama", "InsideSyriaMC"]
    assert t["urls"] == ["http://en.insidesyriamc.com/2017/08/06/new-convoy-of-syrian-army-arrived-in-hama/"]
    assert t["tweet_client_name"] == "WordPress.com" and t["poll_choices"] is None
    assert any(t["hashtags"] is None for t in tw)  # an empty list field is unknown, not []


# ----------------------------------------------------------------------------- CSV variants


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    cols = [c for c in TWEETS_COLUMNS if c != "tweet_time"]
    f = write_csv(tmp_path / "d" / "x_tweets.csv", [tweet_row("1")], columns=cols)
    with pytest.raises(InputError) as exc:
        ingest_dumps([(str(f), None, None)], tmp_path / "out")
    assert "x_tweets.csv" in str(exc.value) and "'tweet_time'" in str(exc.value)
    for name in OUTPUTS:  # all or nothing
        assert not (tmp_path / "out" / name).exists()
    assert not list(tmp_path.glob("out/.*.tmp"))  # no temporary files left behind


def test_broken_rows_are_quarantined_with_line_and_reason(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "d" / "a_tweets.csv",
        [
            tweet_row("1", tweet_text="two\nlines"),  # lines 2-3
            tweet_row("2", when="yesterday"),  # line 4
            tweet_row("3", like_count="-4"),  # line 5
            tweet_row(""),  # line 6
            tweet_row("1"),  # line 7: duplicate tweetid
            tweet_row("5", follower_count="many"),  # line 8
            tweet_row("6", quote_count="", like_count=""),  # line 9: empty counts are null
            tweet_row("7", tweet_time="2020-01-02T03:04:05Z"),  # line 10: ISO accepted
        ],
    )
    with open(f, "a", encoding="utf-8") as fh:
        fh.write('"8","100","extra","fields"\n')  # line 11
        fh.write('"9","100","cut off in the middle of a quoted\nfield')  # lines 12-13, no closing quote
    out = tmp_path / "out"
    report = ingest_dumps([(str(tmp_path / "d"), "c", "control")], out)
    reasons = {int(r["line"]): r["reason"] for r in quarantine(out)}
    assert reasons[4].startswith("unparseable tweet_time")
    assert reasons[5].startswith("negative like_count")
    assert reasons[6] == "empty tweetid"
    assert reasons[7] == "duplicate tweetid"
    assert reasons[8].startswith("unparseable number in follower_count")
    assert reasons[11].startswith("wrong number of fields: 4")
    assert reasons[12].startswith("truncated record")
    assert set(reasons) == {4, 5, 6, 7, 8, 11, 12}
    tw = tweets(out)
    assert set(tw) == {"1", "6", "7"}
    assert tw["1"]["tweet_text"] == "two\nlines"
    assert tw["6"]["quote_count"] is None and tw["6"]["like_count"] is None and tw["6"]["retweet_count"] == 2
    assert tw["7"]["tweet_time"] == datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    [fr] = report.files
    assert fr.rows_read + fr.rows_quarantined == 10 and fr.rows_read == 3
    assert_counts_add_up(report, out)


def test_nul_byte_and_invalid_utf8_rows_are_quarantined(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "d" / "b_tweets.csv", [tweet_row("1"), tweet_row("2"), tweet_row("3"), tweet_row("4")])
    data = f.read_bytes()
    data = data.replace(b'"2","100"', b'"2","1\x000"')  # tweet 2 (line 3): a NUL byte
    lines = data.split(b"\n")
    lines[3] = lines[3].replace(b"hello", b"caf\xe9 \xff")  # tweet 3: latin-1 bytes
    f.write_bytes(b"\n".join(lines))
    out = tmp_path / "out"
    report = ingest_dumps([(str(f), None, None)], out)
    q = {int(r["line"]): r for r in quarantine(out)}
    assert q[3]["reason"] == "NUL byte" and "\\x00" in q[3]["raw"]
    assert q[4]["reason"] == "invalid UTF-8"
    assert set(tweets(out)) == {"1", "4"}
    assert report.files[0].rows_read + report.files[0].rows_quarantined == 4


def test_field_longer_than_limit_is_quarantined(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "d" / "c_tweets.csv", [tweet_row("1", tweet_text="x" * 5000), tweet_row("2")])
    out = tmp_path / "out"
    report = ingest_dumps([(str(f), None, None)], out, IngestParams(max_field_chars=1000))
    [q] = quarantine(out)
    assert q["line"] == "2" and "longer than 1000" in q["reason"] and len(q["raw"]) < 4200
    assert set(tweets(out)) == {"2"}
    assert report.files[0].rows_read + report.files[0].rows_quarantined == 2


def test_bom_crlf_and_mixed_boolean_spellings(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "d" / "bom_tweets.csv",
        [tweet_row("1", is_retweet="true", retweet_tweetid="9", retweet_userid="8"), tweet_row("2", is_retweet="FALSE")],
        newline="\r\n",
    )
    f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    out = tmp_path / "out"
    ingest_dumps([(str(f), None, None)], out)
    tw = tweets(out)
    assert tw["1"]["is_retweet"] is True and tw["1"]["retweet_tweetid"] == "9" and tw["2"]["is_retweet"] is False
    assert tw["1"]["tweet_text"] == "hello" and tw["2"]["tweet_language"] == "en"
    assert quarantine(out) == []


def test_cr_only_line_ends_are_read_as_lines(tmp_path: Path) -> None:
    """Old Mac exports end lines with CR alone; quoted newlines are CRs too."""
    f = write_csv(tmp_path / "d" / "mac_tweets.csv",
                  [tweet_row("1", tweet_text="two\rlines"), tweet_row("2", when="yesterday"), tweet_row("3")], newline="\r")
    assert b"\n" not in f.read_bytes()
    out = tmp_path / "out"
    report = ingest_dumps([(str(f), None, None)], out)
    tw = tweets(out)
    assert set(tw) == {"1", "3"} and tw["1"]["tweet_text"] == "two\nlines" and tw["3"]["tweet_text"] == "hello"
    [q] = quarantine(out)
    assert q["line"] == "4" and q["reason"].startswith("unparseable tweet_time")  # numbered by CR
    assert any("CR alone" in w for w in report.warnings)
    assert_counts_add_up(report, out)


def test_a_header_repeated_mid_file_is_skipped_and_counted(tmp_path: Path) -> None:
    """Parts joined with `cat` repeat the header: not data, and not an unparseable time."""
    a = write_csv(tmp_path / "parts" / "p1.csv", [tweet_row("1"), tweet_row("2")])
    b = write_csv(tmp_path / "parts" / "p2.csv", [tweet_row("3"), tweet_row("4", when="yesterday")])
    joined = tmp_path / "d" / "joined_tweets.csv"
    joined.parent.mkdir()
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    out = tmp_path / "out"
    report = ingest_dumps([(str(joined), None, None)], out)
    assert set(tweets(out)) == {"1", "2", "3"}
    [q] = quarantine(out)
    assert q["line"] == "6" and q["reason"].startswith("unparseable tweet_time")
    [fr] = report.files
    assert fr.header_rows == 1 and fr.rows_read == 3 and fr.rows_quarantined == 1
    assert_counts_add_up(report, out)


def test_a_header_without_its_columns_is_refused_in_one_line_with_control_characters_shown(tmp_path: Path) -> None:
    f = tmp_path / "d" / "x_tweets.csv"
    f.parent.mkdir()
    f.write_bytes(b'"tw\reet",userid\n1,2\n')  # a stray CR inside a quoted header name
    with pytest.raises(InputError) as err:
        ingest_dumps([(str(f), None, None)], tmp_path / "out")
    msg = str(err.value)
    assert "x_tweets.csv" in msg and "no 'tweetid' column" in msg
    assert "\n" not in msg and "\r" not in msg and "tw\\reet" in msg


def test_ids_lists_and_coordinates(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "d" / "ids_tweets.csv",
        [
            tweet_row(
                "1.3250155e+18", userid="a1B2+c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ012345=",
                hashtags="['香港', 'HongKong']", urls="", user_mentions="[2876420003, 25203361]",
                latitude="22.3", longitude="114.2", in_reply_to_tweetid="1.2e+18",
            ),
            tweet_row("2", hashtags="[\"it's\", 'x']", user_mentions="['107549739']", poll_choices="yes|no"),
            tweet_row("3", hashtags="__import__('os').system('echo pwned')"),
        ],
        columns=(*TWEETS_COLUMNS, "poll_choices"),
    )
    out = tmp_path / "out"
    ingest_dumps([(str(f), None, None)], out)
    tw = tweets(out)
    t = tw["1325015500000000000"]
    assert t["hashtags"] == ["香港", "HongKong"] and t["urls"] is None
    assert t["user_mentions"] == ["2876420003", "25203361"]
    assert (t["latitude"], t["longitude"]) == (22.3, 114.2)
    assert t["in_reply_to_tweetid"] == "1200000000000000000"
    assert tw["2"]["hashtags"] == ["it's", "x"] and tw["2"]["user_mentions"] == ["107549739"]
    assert tw["2"]["poll_choices"] == "yes|no"
    [q] = quarantine(out)
    assert q["reason"].startswith("unparseable list in hashtags")
    acc = accounts(out)
    assert acc["a1B2+c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ012345="]["is_hashed"] is True
    assert acc["100"]["is_hashed"] is False


def test_a_later_part_with_a_blank_first_line_and_no_earlier_part_is_one_clear_error(tmp_path: Path) -> None:
    # Once a bare KeyError: the part had nothing to inherit its header from.
    d = tmp_path / "dump"
    write_csv(tmp_path / "tmp.csv", [tweet_row("1")])
    d.mkdir()
    (d / "t_tweets_part2.csv").write_text("\n" + (tmp_path / "tmp.csv").read_text().split("\n", 1)[1])
    with pytest.raises(InputError, match="t_tweets_part2.csv"):
        ingest_dumps([(str(d), "c", "control")], tmp_path / "out")


# ----------------------------------------------------------------------------- containers


def test_gzip_zip_and_split_parts(tmp_path: Path) -> None:
    d = tmp_path / "dump"
    write_csv(d / "t_tweets_part1.csv", [tweet_row("1"), tweet_row("2")])
    write_csv(d / "t_tweets_part2.csv", [tweet_row("3")])
    # part 10 sorts after part 2 and was written without a header (a `split` of part 1)
    write_csv(tmp_path / "tmp10.csv", [tweet_row("10")])
    (d / "t_tweets_part10.csv").write_text((tmp_path / "tmp10.csv").read_text().split("\n", 1)[1])
    users = write_csv(tmp_path / "u_users.csv", [{"userid": "100", "user_screen_name": "from_users"}], USERS_COLUMNS)
    with gzip.open(d / "u_users.csv.gz", "wb") as gz:
        gz.write(users.read_bytes())
    gz_tweets = write_csv(tmp_path / "g_tweets.csv", [tweet_row("4", userid="200")])
    with zipfile.ZipFile(d / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("inner/z_tweets.csv", write_csv(tmp_path / "z.csv", [tweet_row("5", userid="300")]).read_text())
        zf.writestr("inner/zz_tweets.csv.gz", gzip.compress(gz_tweets.read_bytes()))
        zf.writestr("notes.txt", "not data")
        zf.writestr("__MACOSX/inner/._z_tweets.csv", b"\x00\x05\x16\x07junk")
    (d / "README.md").write_text("docs")
    found = discover_files(str(d))
    assert [p.name for p, _ in found] == [
        "bundle.zip", "t_tweets_part1.csv", "t_tweets_part2.csv", "t_tweets_part10.csv", "u_users.csv.gz"
    ]
    assert dict((p.name, k) for p, k in found)["u_users.csv.gz"] == "users"
    out = tmp_path / "out"
    report = ingest_dumps([(str(d), "c", "control")], out)
    assert set(tweets(out)) == {"1", "2", "3", "4", "5", "10"}
    acc = accounts(out)
    assert acc["100"]["user_screen_name"] == "from_users" and acc["100"]["from_users_file"] is True
    assert acc["300"]["from_users_file"] is False
    assert any(f.file.endswith("bundle.zip::inner/z_tweets.csv") for f in report.files)
    assert any("notes.txt" in s for s in report.skipped) and any("README.md" in s for s in report.skipped)
    assert any("part10" in w and "header" in w for w in report.warnings)
    assert quarantine(out) == []
    # globs work too
    assert len(discover_files(str(d / "t_tweets_part*.csv"))) == 3


def test_zip_with_path_traversal_member_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "dump"
    d.mkdir()
    body = write_csv(tmp_path / "e.csv", [tweet_row("1")]).read_text()
    with zipfile.ZipFile(d / "evil_tweets.zip", "w") as zf:
        zf.writestr("../evil_tweets.csv", body)
    with pytest.raises(InputError, match=r"\.\./evil_tweets\.csv"):
        ingest_dumps([(str(d), None, None)], tmp_path / "out")
    assert not (tmp_path / "evil_tweets.csv").exists()
    assert not (tmp_path / "out" / "tweets.parquet").exists()


def test_zip_bomb_and_corrupt_containers_raise(tmp_path: Path) -> None:
    d = tmp_path / "bomb"
    d.mkdir()
    with zipfile.ZipFile(d / "b_tweets.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("b_tweets.csv", b"tweetid,userid,tweet_time\n" + b" " * (64 << 20))
    with pytest.raises(InputError, match="zip bomb"):
        ingest_dumps([(str(d), None, None)], tmp_path / "out")
    bad_gz = tmp_path / "c" / "bad_tweets.csv.gz"
    bad_gz.parent.mkdir()
    bad_gz.write_bytes(b"this is not gzip")
    with pytest.raises(InputError, match="bad_tweets.csv.gz"):
        ingest_dumps([(str(bad_gz), None, None)], tmp_path / "out")
    bad_zip = tmp_path / "z" / "bad_tweets.zip"
    bad_zip.parent.mkdir()
    bad_zip.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InputError, match="bad_tweets.zip"):
        ingest_dumps([(str(bad_zip), None, None)], tmp_path / "out")
    with pytest.raises(InputError, match="no/such/path"):
        ingest_dumps([(str(tmp_path / "no/such/path"), None, None)], tmp_path / "out")
    for name in OUTPUTS:
        assert not (tmp_path / "out" / name).exists()


# ----------------------------------------------------------------------------- JSONL and accounts


def v1_tweet(tid: int, uid: int, created: str, **kw) -> dict:
    t = {
        "id": tid, "id_str": str(tid), "created_at": created, "lang": "en",
        "text": "short", "source": '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
        "user": {
            "id": uid, "id_str": str(uid), "name": "Org", "screen_name": f"org{uid}", "location": "Paris",
            "description": None, "url": None, "followers_count": 12, "friends_count": 34,
            "created_at": "Wed Oct 10 20:19:24 +0000 2012", "lang": None,
        },
        "in_reply_to_status_id_str": None, "in_reply_to_user_id_str": None,
        "entities": {"hashtags": [{"text": "news"}], "urls": [{"url": "https://t.co/x", "expanded_url": "https://example.org/a"}],
                     "user_mentions": [{"id": 42, "id_str": "42"}]},
        "quote_count": 1, "reply_count": 2, "favorite_count": 3, "retweet_count": 4, "coordinates": None,
    }
    t.update(kw)
    return t


def test_jsonl_v1_control(tmp_path: Path) -> None:
    d = tmp_path / "control"
    d.mkdir()
    lines = [
        v1_tweet(11, 7, "Wed Oct 10 20:19:24 +0000 2018", truncated=True,
                 extended_tweet={"full_text": "the full long text", "entities": {"hashtags": [{"text": "long"}], "urls": [], "user_mentions": []}},
                 coordinates={"type": "Point", "coordinates": [2.35, 48.85]}),
        v1_tweet(12, 7, "Thu Oct 11 08:00:00 +0200 2018", quoted_status_id_str="99",
                 retweeted_status={"id_str": "55", "user": {"id_str": "66"}}, in_reply_to_status_id_str="5", in_reply_to_user_id_str="6"),
    ]
    body = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n" + json.dumps({"delete": {"status": {"id": 1}}}) + "\n"
    (d / "org_tweets.jsonl").write_text(body)
    with gzip.open(d / "more_tweets.jsonl.gz", "wt") as gz:
        gz.write(json.dumps(v1_tweet(13, 8, "Fri Oct 12 00:00:00 +0000 2018", full_text="full_text field")) + "\n")
    out = tmp_path / "out"
    report = ingest_dumps([(str(d), "hk", "control")], out)
    tw = tweets(out)
    t = tw["11"]
    assert t["tweet_text"] == "the full long text" and t["hashtags"] == ["long"]
    assert t["tweet_time"] == datetime(2018, 10, 10, 20, 19, 24, tzinfo=timezone.utc)
    assert (t["latitude"], t["longitude"]) == (48.85, 2.35)
    assert t["tweet_client_name"] == "Twitter for iPhone" and t["is_retweet"] is False
    u = tw["12"]
    assert u["tweet_time"] == datetime(2018, 10, 11, 6, 0, tzinfo=timezone.utc)
    assert (u["is_retweet"], u["retweet_tweetid"], u["retweet_userid"]) == (True, "55", "66")
    assert (u["quoted_tweet_tweetid"], u["in_reply_to_tweetid"], u["in_reply_to_userid"]) == ("99", "5", "6")
    assert u["urls"] == ["https://example.org/a"] and u["user_mentions"] == ["42"]
    assert (u["like_count"], u["retweet_count"], u["label"], u["campaign"]) == (3, 4, "control", "hk")
    assert tw["13"]["tweet_text"] == "full_text field"
    acc = accounts(out)
    a = acc["7"]
    assert (a["follower_count"], a["following_count"], a["account_creation_date"]) == (12, 34, date(2012, 10, 10))
    assert a["user_screen_name"] == "org7" and a["from_users_file"] is False and a["label"] == "control"
    reasons = {int(r["line"]): r["reason"] for r in quarantine(out)}
    assert reasons == {3: "invalid JSON", 4: "not a tweet (stream notice)"}
    assert_counts_add_up(report, out)


V2_USERS = [
    {"id": "7", "name": "Org", "username": "org7", "location": "Paris", "description": "", "url": "",
     "created_at": "2012-10-10T20:19:24.000Z", "public_metrics": {"followers_count": 12, "following_count": 34}},
    {"id": "66", "name": "Src", "username": "src66", "created_at": "2011-01-01T00:00:00.000Z",
     "public_metrics": {"followers_count": 900, "following_count": 1}},
]
V2_TWEETS = [
    {"id": "11", "author_id": "7", "created_at": "2018-10-10T20:19:24.000Z", "lang": "en", "text": "the full long text",
     "source": "Twitter for iPhone", "geo": {"coordinates": {"type": "Point", "coordinates": [2.35, 48.85]}},
     "entities": {"hashtags": [{"tag": "long"}], "urls": [{"url": "https://t.co/x", "expanded_url": "https://example.org/a"}],
                  "mentions": [{"username": "someone", "id": "42"}]},
     "public_metrics": {"retweet_count": 4, "reply_count": 2, "like_count": 3, "quote_count": 1},
     "attachments": {"poll_ids": ["p1"]}},
    {"id": "12", "author_id": "7", "created_at": "2018-10-11T06:00:00.000Z", "lang": "en", "text": "RT @src66: hi",
     "in_reply_to_user_id": "6",
     "referenced_tweets": [{"type": "retweeted", "id": "55"}, {"type": "quoted", "id": "99"}, {"type": "replied_to", "id": "5"}],
     "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0}},
]
V2_INCLUDES = {"users": V2_USERS, "tweets": [{"id": "55", "author_id": "66", "text": "hi"}],
               "polls": [{"id": "p1", "options": [{"position": 1, "label": "yes"}, {"position": 2, "label": "no"}]}]}


def _flattened(t: dict) -> dict:
    """A twarc2-flattened line: the author embedded, referenced tweets expanded."""
    users = {u["id"]: u for u in V2_USERS}
    refs = [{**r, **next((x for x in V2_INCLUDES["tweets"] if x["id"] == r["id"]), {})} for r in t.get("referenced_tweets", [])]
    out = {**t, "author": users[t["author_id"]]}
    if refs:
        out["referenced_tweets"] = refs
    if "attachments" in t:
        out["attachments"] = {**t["attachments"], "polls": V2_INCLUDES["polls"]}
    return out


@pytest.mark.parametrize("style", ["page", "flattened"])
def test_jsonl_v2_both_styles(tmp_path: Path, style: str) -> None:
    d = tmp_path / "control"
    d.mkdir()
    if style == "page":
        bad_page = {"data": [{"id": "13", "author_id": "7", "created_at": "not a time"}, "not an object"], "includes": V2_INCLUDES}
        lines = [{"data": V2_TWEETS, "includes": V2_INCLUDES}, bad_page]
    else:
        lines = [_flattened(t) for t in V2_TWEETS] + [{"id": "13", "author_id": "7", "created_at": "not a time"}]
    (d / "v2_tweets.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n")
    out = tmp_path / "out"
    report = ingest_dumps([(str(d), "hk", "control")], out)
    tw = tweets(out)
    assert set(tw) == {"11", "12"}
    t = tw["11"]
    assert t["tweet_text"] == "the full long text" and t["hashtags"] == ["long"] and t["urls"] == ["https://example.org/a"]
    assert t["tweet_time"] == datetime(2018, 10, 10, 20, 19, 24, tzinfo=timezone.utc)
    assert (t["latitude"], t["longitude"]) == (48.85, 2.35) and t["user_mentions"] == ["42"]
    assert t["tweet_client_name"] == "Twitter for iPhone" and t["is_retweet"] is False and t["poll_choices"] == "yes|no"
    assert (t["quote_count"], t["reply_count"], t["like_count"], t["retweet_count"]) == (1, 2, 3, 4)
    u = tw["12"]
    assert (u["is_retweet"], u["retweet_tweetid"], u["retweet_userid"]) == (True, "55", "66")
    assert (u["quoted_tweet_tweetid"], u["in_reply_to_tweetid"], u["in_reply_to_userid"]) == ("99", "5", "6")
    a = accounts(out)["7"]
    assert (a["follower_count"], a["following_count"], a["account_creation_date"]) == (12, 34, date(2012, 10, 10))
    assert (a["user_screen_name"], a["user_display_name"], a["user_reported_location"]) == ("org7", "Org", "Paris")
    q = quarantine(out)
    reasons = sorted(r["reason"] for r in q)
    assert "invalid JSON" in reasons and any(r.startswith("unparseable created_at") for r in reasons)
    if style == "page":  # the bad tweets of a good page, each on its own, at the page's line
        assert {int(r["line"]) for r in q if r["reason"] != "invalid JSON"} == {2} and "not a JSON object" in reasons
    assert_counts_add_up(report, out)


def test_jsonl_v2_users_pages_and_lines(tmp_path: Path) -> None:
    d = tmp_path / "io"
    d.mkdir()
    (d / "v2_users.jsonl").write_text(json.dumps({"data": V2_USERS}) + "\n" + json.dumps({"id": "", "username": "x"}) + "\n")
    out = tmp_path / "out"
    report = ingest_dumps([(str(d), "hk", "state_linked")], out)
    acc = accounts(out)
    assert set(acc) == {"7", "66"} and acc["66"]["follower_count"] == 900 and acc["7"]["from_users_file"] is True
    assert [r["reason"] for r in quarantine(out)] == ["empty userid"]
    assert_counts_add_up(report, out)


def test_tweets_only_dump_rebuilds_accounts_from_latest_tweet(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "d" / "only_tweets.csv",
        [
            tweet_row("1", when="2020-01-05 00:00", follower_count="50", user_screen_name="new"),
            tweet_row("2", when="2020-01-01 00:00", follower_count="10", user_screen_name="old"),
        ],
    )
    out = tmp_path / "out"
    report = ingest_dumps([(str(f), "c", "state_linked")], out)
    [a] = accounts(out).values()
    assert (a["user_screen_name"], a["follower_count"], a["from_users_file"]) == ("new", 50, False)
    assert (a["campaign"], a["label"], a["source_file"]) == ("c", "state_linked", str(f))
    assert report.accounts_rebuilt_from_tweets == 1


def test_users_file_profile_wins_over_tweet_rows(tmp_path: Path) -> None:
    d = tmp_path / "d"
    write_csv(d / "x_tweets.csv", [tweet_row("1", user_screen_name="from_tweet", follower_count="1")])
    write_csv(d / "x_users.csv", [{"userid": "100", "user_screen_name": "from_users", "follower_count": "", "account_creation_date": "2011-02-03"}], USERS_COLUMNS)
    out = tmp_path / "out"
    ingest_dumps([(str(d), "c", "control")], out)
    [a] = accounts(out).values()
    assert (a["user_screen_name"], a["follower_count"], a["from_users_file"]) == ("from_users", None, True)
    assert a["account_creation_date"] == date(2011, 2, 3)


def test_same_account_under_both_labels_is_an_error(tmp_path: Path) -> None:
    io_dump = write_csv(tmp_path / "io" / "a_tweets.csv", [tweet_row("1", userid="777")])
    ctl_dump = write_csv(tmp_path / "ctl" / "b_users.csv", [{"userid": "777"}], USERS_COLUMNS)
    out = tmp_path / "out"
    with pytest.raises(InputError) as exc:
        ingest_dumps([(str(io_dump.parent), "c", "state_linked"), (str(ctl_dump.parent), "c", "control")], out)
    msg = str(exc.value)
    assert "777" in msg and str(io_dump.parent) in msg and str(ctl_dump.parent) in msg
    assert "state_linked" in msg and "control" in msg
    for name in OUTPUTS:
        assert not (out / name).exists()
    # the same account twice under one label is fine: the later users row is quarantined
    dup = write_csv(tmp_path / "io2" / "c_users.csv", [{"userid": "777"}], USERS_COLUMNS)
    report = ingest_dumps([(str(ctl_dump.parent), "c", "control"), (str(dup.parent), "d", "control")], out)
    assert report.accounts == 1 and quarantine(out)[0]["reason"].startswith("duplicate userid")


def test_unlabelled_paths_and_batches(tmp_path: Path) -> None:
    rows = [tweet_row(str(i), userid=str(i % 7), when=f"2020-01-{1 + i % 28:02d} 00:{i % 60:02d}") for i in range(1, 351)]
    f = write_csv(tmp_path / "d" / "many_tweets.csv", rows)
    out = tmp_path / "out"
    report = ingest_dumps([str(f)], out, IngestParams(batch_rows=100))
    assert report.tweets == 350 and report.accounts == 7
    assert pq.ParquetFile(out / "tweets.parquet").metadata.num_row_groups == 4  # streamed in batches
    t = tweets(out)["5"]
    assert t["label"] is None and t["campaign"] is None and t["source_file"] == str(f)
    with open(out / "quarantine.csv", newline="") as fh:
        assert next(csv.reader(fh)) == list(QUARANTINE_COLUMNS)


def test_reader_records_are_in_schema_column_order() -> None:
    # Readers build these positionally and the sink writes a tweet row as it is.
    from pipeline.ingest.sink import Profile, Tweet
    from pipeline.schema import PROFILE_COLUMNS

    assert Profile._fields == PROFILE_COLUMNS
    assert Tweet._fields == tuple(TWEETS_SCHEMA.names[:-3])
    assert TWEETS_SCHEMA.names[-3:] == ["campaign", "label", "source_file"]


def test_labelled_dumps_lists_campaign_label_folders_in_order(tmp_path: Path) -> None:
    from pipeline.ingest import labelled_dumps

    for d in ("zz_2023/state_linked", "aa_2022/control", "aa_2022/state_linked"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "aa_2022" / "README.txt").write_text("not a dump\n", encoding="utf-8")
    assert labelled_dumps(tmp_path) == [(str(tmp_path / "aa_2022/control"), "aa_2022", "control"),
                                        (str(tmp_path / "aa_2022/state_linked"), "aa_2022", "state_linked"),
                                        (str(tmp_path / "zz_2023/state_linked"), "zz_2023", "state_linked")]
    assert labelled_dumps(tmp_path / "missing") == []
