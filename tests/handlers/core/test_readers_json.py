"""JSON arrays (incremental) and JSON Lines: exact numbers, bounded reading."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from etl_handlers.core import Config, transform, validate

GOOD = {"transaction_id": "t1", "amount": "1.00", "date": "2024-01-01", "account_id": "a"}


def out_rows(data: bytes, fmt: str) -> list[dict]:
    sink = io.BytesIO()
    result = transform(io.BytesIO(data), sink, fmt)
    assert result.error_count == 0, result.errors
    return [json.loads(line, parse_float=Decimal) for line in sink.getvalue().decode().splitlines()]


def errors(data: bytes, fmt: str) -> list[tuple]:
    return [(e.row, e.field, e.message) for e in validate(io.BytesIO(data), fmt).errors]


def test_json_numbers_are_read_exactly():
    data = (
        b'[{"transaction_id":"t1","amount":0.1000000000000000055511151231257827,"date":"2024-01-01","account_id":"a"}]'
    )
    (row,) = out_rows(data, "json")
    assert row["amount"] == Decimal("0.1000000000000000055511151231257827")


def test_json_amount_may_be_a_string_of_the_plain_form():
    (row,) = out_rows(json.dumps([GOOD]).encode(), "json")
    assert row["amount"] == Decimal("1.00")


def test_json_array_split_across_read_chunks_is_read_whole():
    records = [dict(GOOD, transaction_id=f"t{i}", pad="x" * 1000) for i in range(300)]
    rows = out_rows(json.dumps(records).encode(), "json")
    assert [r["transaction_id"] for r in rows] == [f"t{i}" for i in range(300)]


def test_non_object_element_is_a_row_error_and_reading_goes_on():
    data = json.dumps([GOOD, 5, dict(GOOD, transaction_id="t2")]).encode()
    assert errors(data, "json") == [(2, None, "the record is not a JSON object")]


def test_top_level_object_rejects_the_file():
    (error,) = errors(json.dumps(GOOD).encode(), "json")
    assert error[0] is None and "top-level array" in error[2]


def test_trailing_data_after_the_array_rejects_the_file():
    (error,) = errors(json.dumps([GOOD]).encode() + b" []", "json")
    assert "after the top-level array" in error[2]


def test_truncated_array_rejects_the_file():
    (error,) = errors(json.dumps([GOOD, GOOD]).encode()[:-5], "json")
    assert error[0] is None and "invalid JSON" in error[2]


def test_empty_array_rejects_the_file():
    assert errors(b"[]", "json") == [(None, None, "the file has no data records")]


def test_json_record_missing_a_required_field_is_a_row_error():
    record = {k: v for k, v in GOOD.items() if k != "date"}
    assert errors(json.dumps([record]).encode(), "json") == [(1, "date", "missing required field")]


@pytest.mark.parametrize("fmt", ["jsonl", "ndjson"])
def test_json_lines_skip_blank_lines(fmt):
    data = (json.dumps(GOOD) + "\n\n  \n" + json.dumps(dict(GOOD, transaction_id="t2")) + "\n").encode()
    assert [r["transaction_id"] for r in out_rows(data, fmt)] == ["t1", "t2"]


def test_a_bad_json_line_is_a_row_error_and_later_lines_are_checked():
    data = (json.dumps(GOOD) + "\n{oops\n" + json.dumps(dict(GOOD, transaction_id="t3", amount="x")) + "\n").encode()
    result = errors(data, "jsonl")
    assert result[0][0:2] == (2, None) and result[0][2].startswith("invalid JSON")
    assert result[1] == (3, "amount", "must be a plain decimal such as -12.50")


def test_nan_and_infinity_are_rejected():
    data = b'{"transaction_id":"t1","amount":NaN,"date":"2024-01-01","account_id":"a"}\n'
    (error,) = errors(data, "jsonl")
    assert error[0] == 1 and "NaN" in error[2]


def test_a_record_over_the_size_limit_rejects_the_file():
    big = dict(GOOD, pad="x" * 5000)
    (error,) = [
        e for e in validate(io.BytesIO(json.dumps([big]).encode()), "json", Config(max_record_bytes=2048)).errors
    ]
    assert "larger than the limit" in error.message


def test_a_json_amount_written_with_an_exponent_is_rejected():
    data = b'[{"transaction_id":"t1","amount":1.5e2,"date":"2024-01-01","account_id":"a"}]'
    assert errors(data, "json") == [(1, "amount", "must be a plain decimal such as -12.50")]


def test_exponent_numbers_in_other_fields_pass_through_exactly():
    data = b'[{"transaction_id":"t1","amount":"1","date":"2024-01-01","account_id":"a","rate":2.5E-3}]'
    (row,) = out_rows(data, "json")
    assert row["rate"] == Decimal("0.0025")
