"""Inputs that pass validation also transform, in bounded time and memory, with the same errors."""

from __future__ import annotations

import csv
import io
import json
import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from etl_handlers.core import Config, transform, validate
from etl_handlers.core.readers import MAX_DEPTH

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
GOOD = '"transaction_id":"t1","amount":"1.00","date":"2024-01-01","account_id":"a"'
WRITTEN = GOOD.replace('"1.00"', "1.00")  # a string amount is written as the JSON number it holds
TAIL = ',"currency":"USD","fee":0.01,"processed_at":"2026-01-02T03:04:05.000Z"}'


def json_file(fields: str, fmt: str) -> bytes:
    record = "{" + fields + "}"
    return (f"[{record}]" if fmt == "json" else record + "\n").encode()


def both_passes(data: bytes, fmt: str, config: Config | None = None) -> tuple[list[tuple], list[tuple], bytes]:
    """The errors of validate, the errors of transform, and what transform wrote."""
    checked = validate(io.BytesIO(data), fmt, config)
    sink = io.BytesIO()
    written = transform(io.BytesIO(data), sink, fmt, config, processed_at=WHEN)
    assert written.rows_written == written.rows_valid
    return (
        [(e.row, e.field, e.message) for e in checked.errors],
        [(e.row, e.field, e.message) for e in written.errors],
        sink.getvalue(),
    )


# 1. Pass-through numbers are written back as read, whatever their exponent.


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_huge_exponent_in_a_pass_through_field_is_written_as_read(fmt):
    number = "1e999999999999999999"
    data = json_file(GOOD + f',"x":{number}', fmt)
    assert len(data) < 110
    tracemalloc.start()
    checked, written, out = both_passes(data, fmt)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert checked == written == []
    assert out == ("{" + WRITTEN + f',"x":{number}' + TAIL + "\n").encode()
    assert peak < 2 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_50_million_digit_exponent_costs_neither_time_nor_memory():
    data = json_file(GOOD + ',"x":1e50000000,"y":[-2E+50000000]', "json")
    tracemalloc.start()
    started = time.perf_counter()
    _, _, out = both_passes(data, "json")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert b'"x":1e50000000,"y":[-2E+50000000]' in out
    assert peak < 2 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert elapsed < 1


@pytest.mark.parametrize(
    "number", ["1e5", "1E5", "1.50", "-0", "-0.0", "2.5e-3", "1E+2", "0.1000000000000000055511151231257827", "9" * 5000]
)
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_pass_through_numbers_keep_their_exact_text(number, fmt):
    _, _, out = both_passes(json_file(GOOD + f',"x":{number},"y":{{"z":[{number}]}}', fmt), fmt)
    assert out == ("{" + WRITTEN + f',"x":{number},"y":{{"z":[{number}]}}' + TAIL + "\n").encode()


@pytest.mark.parametrize("number", ["12", "1.50", "-0.07", "-0"])
def test_a_json_number_amount_is_the_exact_decimal_read(number):
    checked, _, out = both_passes(json_file(GOOD.replace('"1.00"', number), "json"), "json")
    assert checked == []
    assert f'"amount":{number},'.encode() in out


@pytest.mark.parametrize("number", ["1e5", "1.5E2", "0e0"])
def test_a_json_amount_with_an_exponent_stays_an_error(number):
    checked, written, _ = both_passes(json_file(GOOD.replace('"1.00"', number), "jsonl"), "jsonl")
    assert checked == written == [(1, "amount", "must be a plain decimal such as -12.50")]


@pytest.mark.parametrize(("tid", "errors"), [("17", []), ("1.5", [(1, "transaction_id", "must be a string")])])
def test_a_numeric_transaction_id_must_be_an_integer(tid, errors):
    checked, _, _ = both_passes(json_file(GOOD.replace('"t1"', tid), "json"), "json")
    assert checked == errors


def test_a_numeric_transaction_id_repeats_its_string_form():
    data = b"[" + b",".join(json_file(GOOD.replace('"t1"', t), "jsonl").strip() for t in ('"17"', "17")) + b"]"
    checked, _, _ = both_passes(data, "json")
    assert checked == [(2, "transaction_id", "repeats the transaction_id of an earlier record")]


# 2. One depth limit, applied by both passes as a row error.


def nested(depth: int) -> str:
    """A field whose value brings the record (level 1) to `depth` levels of objects and arrays."""
    inner = depth - 1
    return ',"deep":' + '{"a":[' * (inner // 2) + ("{}" if inner % 2 else "") + "]}" * (inner // 2)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_record_at_the_depth_limit_transforms(fmt):
    value = nested(MAX_DEPTH)
    checked, written, out = both_passes(json_file(GOOD + value, fmt), fmt)
    assert checked == written == []
    assert out == ("{" + WRITTEN + value + TAIL + "\n").encode()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 5_000, 200_000])
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_record_nested_beyond_the_limit_is_a_row_error_in_both_passes(fmt, depth):
    data = json_file(GOOD + nested(depth), fmt)
    data = data + (b"\n" if fmt == "jsonl" else b"")
    message = f"nested too deeply: more than {MAX_DEPTH} levels of objects and arrays"
    checked, written, out = both_passes(data, fmt)
    assert checked == written == [(1, None, message)]
    assert out == b""


def test_reading_goes_on_after_a_record_too_deep_for_the_parser():
    deep = "{" + GOOD + nested(200_000) + "}"
    other = "{" + GOOD.replace("t1", "t2").replace('"1.00"', '"x"') + "}"
    data = f"[{deep}, {other}]".encode()
    message = f"nested too deeply: more than {MAX_DEPTH} levels of objects and arrays"
    checked, written, _ = both_passes(data, "json")
    assert checked == written == [(1, None, message), (2, "amount", "must be a plain decimal such as -12.50")]


def test_a_deep_array_element_is_not_an_object_however_deep():
    for depth in (MAX_DEPTH + 1, 200_000):
        checked, _, _ = both_passes(b"[" + b"[" * depth + b"]" * depth + b"]", "json")
        assert checked == [(1, None, "the record is not a JSON object")]


# 3. A CSV record is bounded as a whole, and the csv module's process-wide limit is left alone.

HEADER = b"transaction_id,amount,date,account_id,memo\n"


def test_a_quoted_record_over_many_lines_is_bounded_by_max_record_bytes():
    field = b'"' + (b"x" * 99 + b"\n") * 9_000 + b'"'
    data = HEADER + b"t1,1,2024-01-01,a," + b",".join([field] * 50) + b"\n"
    assert len(data) > 40_000_000
    tracemalloc.start()
    result = validate(io.BytesIO(data), "csv")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [(e.row, e.field) for e in result.errors] == [(None, None)]
    assert result.errors[0].message == "data record 1 is longer than the limit of 1048576 characters"
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_record_of_exactly_the_limit_is_read_and_one_more_is_not():
    config = Config(max_record_bytes=2048)
    start = b't1,1,2024-01-01,a,"'
    for size, ok in ((2048, True), (2049, False)):
        memo = b"y\r\n" * ((size - len(start) - 2) // 3) + b"z" * ((size - len(start) - 2) % 3)
        record = start + memo + b'"\n'
        assert len(record) == size
        assert validate(io.BytesIO(HEADER + record), "csv", config).ok is ok


def test_a_field_larger_than_the_csv_modules_own_limit_is_read_within_max_record_bytes():
    memo = "a\nb,c" * (csv.field_size_limit() // 4)
    data = HEADER + f't1,1,2024-01-01,a,"{memo}"\nt2,2,2024-01-01,b,x\n'.encode()
    checked, written, out = both_passes(data, "csv", Config(max_record_bytes=2 * len(data)))
    assert checked == written == []
    assert [json.loads(line)["memo"] for line in out.splitlines()] == [memo, "x"]


@pytest.mark.parametrize("limit", [1024, 1 << 20, 1 << 26])
def test_the_csv_modules_process_wide_field_limit_is_left_unchanged(limit):
    before = csv.field_size_limit()
    limit = max(limit, 4 * before)
    memo = "m" * (before + 10)
    for data in (HEADER + b't1,1,2024-01-01,a,"x"\n', HEADER + f"t1,1,2024-01-01,a,{memo}\n".encode()):
        both_passes(data, "csv", Config(max_record_bytes=limit))
        both_passes(data, "csv", Config(max_record_bytes=1024))
    assert csv.field_size_limit() == before


# 5. An integer amount is read like the same digits as a decimal: no limit of Python's int.


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_4301_digit_integer_amount_is_read_like_the_same_decimal(fmt):
    digits = "7" * 4301
    as_int, _, int_out = both_passes(json_file(GOOD.replace('"1.00"', digits), fmt), fmt)
    as_decimal, _, _ = both_passes(json_file(GOOD.replace('"1.00"', digits + ".0"), fmt), fmt)
    assert as_int == as_decimal == []
    row = json.loads(int_out, parse_int=Decimal, parse_float=Decimal)
    assert row["amount"] == Decimal(digits)
    assert row["fee"] == Decimal(digits[:-2] + ".77")  # 77...7 * 0.01 is exact: no rounding


def test_a_4301_digit_integer_in_a_pass_through_field_is_written_as_read():
    digits = "-" + "3" * 4301
    _, _, out = both_passes(json_file(GOOD + f',"x":{digits}', "json"), "json")
    assert f'"x":{digits},'.encode() in out


# 6. A zero fee has no sign.


@pytest.mark.parametrize("amount", ["-0.001", "-0.004", "-0", "-0.00", "0"])
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_fee_that_rounds_to_zero_is_written_without_a_sign(amount, fmt):
    if fmt == "csv":
        data = HEADER + "".join(f"t{i},{amount},2024-01-01,a,\n" for i in range(3)).encode()
    else:
        data = json_file(GOOD.replace('"1.00"', amount), "json")
    _, _, out = both_passes(data, fmt)
    assert out.count(b'"fee":0.00,') == len(out.splitlines()) > 0


@pytest.mark.parametrize("rounding", ["ROUND_HALF_UP", "ROUND_FLOOR", "ROUND_CEILING", "ROUND_DOWN", "ROUND_UP"])
def test_a_zero_fee_has_no_sign_whatever_the_rounding(rounding):
    data = HEADER + b"t1,-0.0001,2024-01-01,a,\nt2,0.0001,2024-01-01,a,\n"
    _, _, out = both_passes(data, "csv", Config(rounding=rounding))
    fees = [json.loads(line, parse_float=str)["fee"] for line in out.splitlines()]
    assert len(fees) == 2
    assert "-0.00" not in fees
