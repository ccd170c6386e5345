"""CSV by RFC 4180, through `validate` and `transform` (the public core API)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_handlers.core import readers, transform, validate

HEADER = b"transaction_id,amount,date,account_id"


def rows(data: bytes, fmt: str = "csv") -> list[dict]:
    out = io.BytesIO()
    result = transform(io.BytesIO(data), out, fmt)
    assert result.error_count == 0, result.errors
    return [json.loads(line, parse_float=Decimal) for line in out.getvalue().decode().splitlines()]


def errors(data: bytes, fmt: str = "csv") -> list[tuple]:
    return [(e.row, e.field, e.message) for e in validate(io.BytesIO(data), fmt).errors]


def test_quoted_field_holds_commas_quotes_and_line_breaks():
    data = HEADER + b',memo\n"t,1",1.00,2024-01-01,a,"line one\nsaid ""hi"", then"\n'
    (row,) = rows(data)
    assert row["transaction_id"] == "t,1"
    assert row["memo"] == 'line one\nsaid "hi", then'


def test_crlf_and_lf_line_ends_are_both_accepted():
    data = HEADER + b"\r\nt1,1.00,2024-01-01,a\nt2,2.00,2024-01-02,b\r\n"
    assert [r["transaction_id"] for r in rows(data)] == ["t1", "t2"]


def test_leading_byte_order_mark_is_ignored():
    (row,) = rows(b"\xef\xbb\xbf" + HEADER + b"\nt1,1.00,2024-01-01,a\n")
    assert "transaction_id" in row


def test_header_names_are_trimmed():
    (row,) = rows(b" transaction_id , amount ,date,account_id\nt1,1.00,2024-01-01,a\n")
    assert row["amount"] == Decimal("1.00")


def test_empty_lines_are_skipped_and_not_counted():
    data = HEADER + b"\n\nt1,1.00,2024-01-01,a\n\n\nt2,x,2024-01-01,a\n"
    assert errors(data) == [(2, "amount", "must be a plain decimal such as -12.50")]


def test_field_count_differing_from_the_header_is_a_row_error():
    assert errors(HEADER + b"\nt1,1.00,2024-01-01\n") == [(1, None, "expected 4 fields as in the header, found 3")]


def test_header_missing_a_required_column_rejects_the_file():
    result = validate(io.BytesIO(b"transaction_id,amount,date\nt1,1,2024-01-01\n"), "csv")
    assert [(e.row, e.field) for e in result.errors] == [(None, "account_id")]
    assert "lacks required column 'account_id'" in result.errors[0].message


def test_duplicate_header_column_rejects_the_file():
    (error,) = errors(HEADER + b",amount\nt1,1,2024-01-01,a,2\n")
    assert error[0] is None and "twice" in error[2]


def test_unterminated_quote_rejects_the_file():
    (error,) = errors(HEADER + b'\nt1,"1.00,2024-01-01,a\n')
    assert error[0] is None and "malformed CSV" in error[2]


@pytest.mark.parametrize("data", [b"", HEADER + b"\n", b"\n\n"])
def test_no_data_records_rejects_the_file(data):
    assert errors(data) == [(None, None, "the file has no data records")]


def test_invalid_utf8_rejects_the_file():
    (error,) = errors(HEADER + b"\nt1,1.00,2024-01-01,caf\xe9\n")
    assert error[0] is None and "UTF-8" in error[2]


def test_other_fields_pass_through_unchanged():
    (row,) = rows(HEADER + b",note,blank\nt1,1.00,2024-01-01,a,  keep  spaces ,\n")
    assert row["note"] == "  keep  spaces "
    assert row["blank"] == ""


def parsed(text: str, limit: int = 1 << 20) -> list:
    """The records `csv_rows` reads from `text`, then the error it stopped at, if any."""
    out: list = []
    try:
        out.extend(readers.csv_rows(io.StringIO(text, newline=""), limit))
    except csv.Error as exc:
        out.append(("csv.Error", str(exc)))
    return out


@settings(max_examples=400, deadline=None)
@given(st.text(st.sampled_from(list('ab,"\r\n ')), max_size=40), st.sampled_from([0, 1, 4, 12]))
def test_records_past_the_csv_modules_field_limit_are_read_as_csv_reader_reads_them(text, threshold):
    with mock.patch.object(readers, "_csv_field_limit", lambda: threshold):
        in_python = parsed(text)
    assert in_python == parsed(text)


def test_a_record_is_bounded_with_its_line_ends_in_both_parsers():
    text = 'a,"' + "x\r\n" * 400 + '"\r\nb,c\n'
    for threshold in (0, 1 << 30):
        with mock.patch.object(readers, "_csv_field_limit", lambda threshold=threshold: threshold):
            assert parsed(text, len(text) - 4) == [["a", "x\r\n" * 400], ["b", "c"]]
            with pytest.raises(readers._RecordTooLong):
                parsed(text, len(text) - 5)
