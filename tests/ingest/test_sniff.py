"""Sniffing uploads: format, encoding, delimiter, quoting, header, and refusing non-tables.

Also the time-format detection, which reads sampled values the same way.
"""

from __future__ import annotations

import gzip

import pytest
from badfiles import (
    GOOD_ROWS,
    HEADER,
    csv_text,
    late_latin1,
    png_bytes,
    random_bytes,
    write,
    write_parquet,
    zip_bytes,
)

from recsys_engine.ingest import sniff_file
from recsys_engine.ingest.sniff import SAMPLE_BYTES
from recsys_engine.ingest.timeparse import detect_time_format


def only_error(sniff) -> str:
    """The single blocking problem's message (and it names the file, with no line)."""
    errors = [p for p in sniff.problems if p.severity == "error"]
    assert len(errors) == 1, sniff.problems
    assert errors[0].file == sniff.name
    assert not sniff.ok
    return errors[0].message


# -- encodings ----------------------------------------------------------------------------
def test_plain_utf8_comma_file(tmp_path):
    s = sniff_file(write(tmp_path, "r.csv", csv_text(*GOOD_ROWS)))
    assert s.ok and s.problems == ()
    assert (s.kind, s.encoding, s.sep, s.quote, s.header) == ("csv", "utf-8", ",", '"', True)
    assert s.columns == ("user_id", "item_id", "rating", "timestamp")
    assert s.preview[0] == ("1", "10", "4", "1600000000")
    assert len(s.preview) == len(GOOD_ROWS)


def test_utf8_bom_is_recognised_and_kept_out_of_the_first_column_name(tmp_path):
    s = sniff_file(write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + csv_text(*GOOD_ROWS).encode()))
    assert s.ok and s.encoding == "utf-8-sig"
    assert s.columns[0] == "user_id"


def test_latin1_file_is_read_as_latin1_with_a_located_warning(tmp_path):
    text = csv_text("1,caf\xe9,4,1", "2,na\xefve,3,2", "3,caf\xe9,5,3")
    s = sniff_file(write(tmp_path, "l1.csv", text, encoding="latin-1"))
    assert s.ok and s.encoding == "latin-1"
    assert s.preview[0][1] == "caf\xe9"
    (warning,) = s.problems
    assert warning.severity == "warning"
    assert "not valid UTF-8; read as latin-1" in warning.message
    assert (warning.file, warning.line) == ("l1.csv", 2)


def test_utf16_little_endian_with_bom(tmp_path):
    text = csv_text("\xe91,a,4,1", "\xfc2,a,3,2", "\xe91,b,5,3", sep="\t")
    s = sniff_file(write(tmp_path, "u16.tsv", text, encoding="utf-16"))
    assert s.ok and s.encoding == "utf-16"
    assert s.sep == "\t" and s.header
    assert s.preview[0][0] == "\xe91"


def test_utf16_big_endian_is_refused_clearly(tmp_path):
    data = b"\xfe\xff" + csv_text(*GOOD_ROWS).encode("utf-16-be")
    message = only_error(sniff_file(write(tmp_path, "be.csv", data)))
    assert "UTF-16 big-endian" in message and "UTF-8" in message


def test_latin1_bytes_past_the_sample_are_not_seen_by_the_sniffer(tmp_path):
    # The loader catches them (tests/test_ingest_validation.py); the sniffer only reads
    # the first SAMPLE_BYTES and must not raise or guess latin-1 from a clean sample.
    data, _ = late_latin1()
    assert len(data) > SAMPLE_BYTES + 30_000
    s = sniff_file(write(tmp_path, "late.csv", data))
    assert s.ok and s.encoding == "utf-8" and s.problems == ()


def test_multibyte_character_cut_by_the_sample_end_is_not_an_encoding_problem(tmp_path):
    head = (HEADER + "\n").encode()
    row = b"1,abc,4,1\n"
    data = head + row * ((SAMPLE_BYTES - 40 - len(head)) // len(row))
    pad = SAMPLE_BYTES - 1 - len(data) - 2  # the 'é' starts on the sample's last byte
    data += b"1," + b"x" * pad + "\u00e9,4,1\n".encode() + row * 10
    assert data[SAMPLE_BYTES - 1 : SAMPLE_BYTES + 1] == "\u00e9".encode()
    s = sniff_file(write(tmp_path, "long.csv", data))
    assert s.ok and s.encoding == "utf-8" and s.problems == ()


# -- delimiters, quotes, header -----------------------------------------------------------
@pytest.mark.parametrize(
    ("sep", "quote"),
    [(",", '"'), (";", '"'), ("\t", ""), ("|", ""), ("::", "")],
    ids=["comma", "semicolon", "tab", "pipe", "double-colon"],
)
def test_delimiters(tmp_path, sep, quote):
    s = sniff_file(write(tmp_path, "r.txt", csv_text(*GOOD_ROWS, sep=sep)))
    assert s.ok
    assert (s.sep, s.quote) == (sep, quote)
    assert s.columns == ("user_id", "item_id", "rating", "timestamp")
    assert s.preview[2] == ("2", "10", "5", "1600000200")


def test_headerless_file_gets_numbered_columns(tmp_path):
    s = sniff_file(write(tmp_path, "u.data", csv_text(*GOOD_ROWS, header=None, sep="\t")))
    assert s.ok and not s.header
    assert s.columns == ("column_1", "column_2", "column_3", "column_4")
    assert s.preview[0] == ("1", "10", "4", "1600000000")


def test_header_of_text_columns_is_recognised_by_known_names(tmp_path):
    s = sniff_file(
        write(tmp_path, "r.csv", csv_text("alice,matrix", "bob,alien", header="user,item"))
    )
    assert s.header and s.columns == ("user", "item")


def test_quoted_fields_with_embedded_delimiters_and_quotes(tmp_path):
    text = csv_text('1,"10,a",4,"say ""hi"""', '2,"11;b",3,plain', header="user,item,rating,note")
    s = sniff_file(write(tmp_path, "q.csv", text))
    assert s.ok and s.sep == "," and s.quote == '"'
    assert s.preview[0] == ("1", "10,a", "4", 'say "hi"')
    assert s.preview[1][1] == "11;b"


def test_quoted_tab_file_keeps_quote_detection(tmp_path):
    text = csv_text('1\t"The, Movie"\t4', '2\t"Other"\t3', header="user\titem\trating")
    s = sniff_file(write(tmp_path, "q.tsv", text))
    assert s.sep == "\t" and s.quote == '"'
    assert s.preview[0][1] == "The, Movie"


def test_header_column_names_with_spaces_and_quotes_are_kept(tmp_path):
    text = csv_text("1,10,4", "2,11,3", header='"user ""id""",item id,"my, rating"')
    s = sniff_file(write(tmp_path, "h.csv", text))
    assert s.columns == ('user "id"', "item id", "my, rating")


def test_duplicate_and_empty_header_names_are_made_unique(tmp_path):
    s = sniff_file(write(tmp_path, "d.csv", csv_text("1,2,3", "4,5,6", header="user,user,")))
    assert s.columns == ("user", "user_", "column_3")


def test_crlf_line_endings(tmp_path):
    s = sniff_file(write(tmp_path, "crlf.csv", csv_text(*GOOD_ROWS, eol="\r\n")))
    assert s.ok and s.columns[-1] == "timestamp"
    assert s.preview[0][-1] == "1600000000"


# -- not a table --------------------------------------------------------------------------
def test_empty_file(tmp_path):
    assert only_error(sniff_file(write(tmp_path, "e.csv", b""))) == "the file is empty"


def test_file_of_blank_lines(tmp_path):
    message = only_error(sniff_file(write(tmp_path, "b.csv", "\n \n\r\n")))
    assert message == "the file holds only blank lines"


def test_header_only_file(tmp_path):
    message = only_error(sniff_file(write(tmp_path, "h.csv", HEADER + "\n")))
    assert message == "the file has a header line but no data rows"


def test_random_bytes_with_nul(tmp_path):
    message = only_error(sniff_file(write(tmp_path, "noise.csv", random_bytes())))
    assert message == "binary data (NUL bytes): not a text table"


def test_random_bytes_without_nul(tmp_path):
    data = bytes(b % 255 + 1 for b in random_bytes(8192, seed=1))
    message = only_error(sniff_file(write(tmp_path, "noise.csv", data)))
    assert message == "binary data (control bytes): not a text table"


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (zip_bytes(), "a ZIP archive"),
        (png_bytes(), "a PNG image"),
        (gzip.compress(b"user,item\n1,2\n"), "a gzip archive"),
        (b"%PDF-1.4\n" + b"x" * 100, "a PDF document"),
        (b"SQLite format 3\x00" + b"\x00" * 100, "an SQLite database"),
    ],
    ids=["zip", "png", "gzip", "pdf", "sqlite"],
)
def test_known_binary_formats_renamed_csv(tmp_path, data, what):
    message = only_error(sniff_file(write(tmp_path, "ratings.csv", data)))
    assert message.startswith(f"this is {what}")
    assert message.endswith("not a delimited text table")


def test_size_limit(tmp_path):
    path = write(tmp_path, "big.csv", HEADER + "\n" + "1,10,4,1600000000\n" * 70_000)
    assert 1.2 * 2**20 < path.stat().st_size < 1.3 * 2**20
    message = only_error(sniff_file(path, max_mb=1))
    assert message == "the file is 1.2 MB; the upload limit is 1 MB"
    assert sniff_file(path, max_mb=2).ok


def test_display_name_is_used_in_messages(tmp_path):
    s = sniff_file(write(tmp_path, "tmpab12.upload", b""), name="my ratings.csv")
    assert s.name == "my ratings.csv"
    assert s.problems[0].file == "my ratings.csv"


# -- parquet ------------------------------------------------------------------------------
def test_parquet_columns_and_preview(tmp_path):
    path = write_parquet(
        tmp_path, "r.parquet", {"user_id": ["a", "b"], "item_id": [1, 2], "rating": [4.5, None]}
    )
    s = sniff_file(path)
    assert s.ok and s.kind == "parquet" and s.header
    assert s.columns == ("user_id", "item_id", "rating")
    assert s.preview == (("a", "1", "4.5"), ("b", "2", ""))


def test_parquet_without_rows(tmp_path):
    path = write_parquet(tmp_path, "e.parquet", {"user_id": [], "item_id": []})
    assert only_error(sniff_file(path)) == "the Parquet file has no rows"


def test_truncated_parquet(tmp_path):
    path = write_parquet(tmp_path, "r.parquet", {"user_id": ["a"] * 100, "item_id": [1] * 100})
    broken = write(tmp_path, "broken.parquet", path.read_bytes()[:60])
    assert only_error(sniff_file(broken)).startswith("not a readable Parquet file")


# -- time formats -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "kind", "fmt"),
    [
        (["2020-01-05", "2021-12-31"], "format", "%Y-%m-%d"),
        (["2020-01-05 10:11:12", "2021-12-31 23:59:59"], "format", "%Y-%m-%d %H:%M:%S"),
        (["2020-01-05T10:11:12", "2021-12-31T23:59:59"], "format", "%Y-%m-%dT%H:%M:%S"),
        (["25/12/2020", "01/02/2020", "31/01/2021"], "format", "%d/%m/%Y"),
        (["12/25/2020", "01/02/2020", "01/31/2021"], "format", "%m/%d/%Y"),
        (["02 28, 2014", "03 16, 2013"], "format", "%m %d, %Y"),
        (["964982703", "964981247"], "epoch", None),
    ],
    ids=["iso-date", "iso-datetime", "iso-T", "d/m/Y", "m/d/Y", "amazon", "unix"],
)
def test_time_formats(values, kind, fmt):
    tf = detect_time_format(values)
    assert (tf.kind, tf.fmt, tf.scale, tf.note) == (kind, fmt, 1.0, None)


def test_unix_milliseconds_and_microseconds_are_scaled_with_a_note():
    ms = detect_time_format(["1600000000000", "1600000001000"])
    assert (ms.kind, ms.scale, ms.note) == ("epoch", 1e3, "time values look like milliseconds")
    us = detect_time_format(["1600000000000000"])
    assert (us.kind, us.scale, us.note) == ("epoch", 1e6, "time values look like microseconds")


def test_one_bad_time_among_few_does_not_change_the_reading():
    # 1 bad value in 10 is more than the 5% tolerance; the format that fits the other
    # values must still win so that only the bad value is reported.
    assert detect_time_format([str(1600000000 + i) for i in range(9)] + ["soon"]).kind == "epoch"
    dmy = detect_time_format([f"{13 + i}/01/2020" for i in range(9)] + ["31/31/2020"])
    assert (dmy.kind, dmy.fmt) == ("format", "%d/%m/%Y")


def test_unknown_time_text_falls_back_to_auto():
    assert detect_time_format(["yesterday", "today"]).kind == "auto"
    assert detect_time_format(["", "  "]).kind == "auto"


# -- choosing the interactions file among several -------------------------------------------
def test_interactions_file_is_chosen_by_content_not_size(tmp_path):
    from recsys_engine.ingest import guess_plan

    real = write(tmp_path, "ratings.csv", "user_id,item_id,rating\n1,10,4\n2,11,5\n")
    fake = write(tmp_path, "photo.csv", png_bytes() + b"\0" * 400)  # a PNG, bigger
    assert fake.stat().st_size > real.stat().st_size
    plan = guess_plan([fake, real])
    chosen = plan.by_role("interactions")
    assert [f.sniff.name for f in chosen] == ["ratings.csv"]
    assert {f.sniff.name: f.role for f in plan.files}["photo.csv"] == "ignore"
    assert any("using ratings.csv" in n and "photo.csv" in n for n in plan.notes), plan.notes
    assert plan.options.name == "ratings"  # named after the chosen file, not the first one


def test_named_user_and_item_columns_beat_a_bigger_anonymous_table(tmp_path):
    from recsys_engine.ingest import guess_plan

    named = write(tmp_path, "log.csv", "user_id,item_id\n1,10\n2,11\n")
    anonymous = write(tmp_path, "numbers.csv", "a,b\n" + "".join(f"{i},{i}\n" for i in range(50)))
    plan = guess_plan([anonymous, named])
    assert [f.sniff.name for f in plan.by_role("interactions")] == ["log.csv"]
    assert "user column 'user_id'" in plan.notes[0]
