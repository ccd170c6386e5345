"""Transformation: every field kept, exact amount, exact fee, currency, processed_at, input order."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from etl_handlers.core import Config, transform

HEADER = "transaction_id,amount,date,account_id,currency,memo\n"
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def run(text: str, config: Config | None = None) -> tuple[list[dict], object]:
    sink = io.BytesIO()
    result = transform(io.BytesIO(text.encode()), sink, "csv", config, processed_at=WHEN)
    lines = sink.getvalue().decode().splitlines()
    return [json.loads(line, parse_float=Decimal) for line in lines], result


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        ("125.50", "1.26"),  # 1.255 -> 1.26, half up
        ("-12.50", "-0.13"),  # ties away from zero
        ("0.49", "0.00"),
        ("0.50", "0.01"),
        ("100", "1.00"),
        ("99999999999999999999999999999999.99", "1000000000000000000000000000000.00"),
    ],
)
def test_fee_is_amount_times_rate_rounded_half_up_exactly(amount, fee):
    (row,), _ = run(HEADER + f"t1,{amount},2024-01-01,a,USD,\n")
    assert row["fee"] == Decimal(fee)
    assert str(row["fee"]) == fee


def test_amount_is_the_exact_decimal_read():
    (row,), _ = run(HEADER + "t1,-12.345,2024-01-01,a,,\n")
    assert str(row["amount"]) == "-12.345"


def test_every_input_field_is_kept_and_processed_at_added():
    (row,), _ = run(HEADER + 't1,1.00,2024-01-01,a,EUR,"hello, world"\n')
    assert row == {
        "transaction_id": "t1",
        "amount": Decimal("1.00"),
        "date": "2024-01-01",
        "account_id": "a",
        "currency": "EUR",
        "memo": "hello, world",
        "fee": Decimal("0.01"),
        "processed_at": "2026-01-02T03:04:05.678Z",
    }


def test_empty_currency_takes_the_configured_default():
    (row,), _ = run(HEADER + "t1,1.00,2024-01-01,a,,\n", Config(default_currency="EUR"))
    assert row["currency"] == "EUR"


def test_records_keep_input_order():
    text = HEADER + "".join(f"t{i},1.00,2024-01-01,a,,\n" for i in range(50))
    rows, _ = run(text)
    assert [r["transaction_id"] for r in rows] == [f"t{i}" for i in range(50)]


def test_rounding_mode_and_rate_are_configurable():
    (row,), _ = run(HEADER + "t1,-12.50,2024-01-01,a,,\n", Config(fee_rate=Decimal("0.01"), rounding="ROUND_HALF_EVEN"))
    assert row["fee"] == Decimal("-0.12")


def test_invalid_records_are_not_written_but_counted():
    rows, result = run(HEADER + "t1,1.00,2024-01-01,a,,\nt2,bad,2024-01-01,a,,\n")
    assert [r["transaction_id"] for r in rows] == ["t1"]
    assert (result.rows_total, result.rows_written, result.error_count) == (2, 1, 1)


def test_output_is_ascii_json_lines_even_for_non_ascii_input():
    sink = io.BytesIO()
    transform(io.BytesIO((HEADER + "t1,1.00,2024-01-01,a,,café ✓\n").encode()), sink, "csv")
    sink.getvalue().decode("ascii")
    assert json.loads(sink.getvalue())["memo"] == "café ✓"
