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


# Each fee at a rounding tie of its currency's minor unit: USD 2 places, JPY 0, BHD 3 (fee_rate 0.01).
TIES = [
    ("USD", "0.50", "0.01"),  # 0.005 -> 0.01
    ("USD", "-0.50", "-0.01"),
    ("USD", "0.49", "0.00"),
    ("JPY", "50", "1"),  # 0.5 -> 1
    ("JPY", "-150", "-2"),  # -1.5 -> -2, away from zero
    ("JPY", "49", "0"),
    ("BHD", "0.050", "0.001"),  # 0.0005 -> 0.001
    ("BHD", "-1.250", "-0.013"),  # -0.0125 -> -0.013
    ("BHD", "0.049", "0.000"),
]


@pytest.mark.parametrize("fmt", ["csv", "quoted csv", "json"])
@pytest.mark.parametrize(("currency", "amount", "fee"), TIES)
def test_a_fee_is_rounded_to_its_currency_s_minor_unit_at_the_ties(fmt, currency, amount, fee):
    # Plain CSV takes the column path, quoted CSV and JSON the record path: all three round alike.
    if fmt == "json":
        data = json.dumps(
            [{"transaction_id": "t", "amount": amount, "date": "2024-01-01", "account_id": "a", "currency": currency}]
        )
    elif fmt == "quoted csv":
        data = HEADER + f'"t",{amount},2024-01-01,a,{currency},"m"\n'
    else:
        data = HEADER + f"t,{amount},2024-01-01,a,{currency},m\n"
    sink = io.BytesIO()
    transform(io.BytesIO(data.encode()), sink, "json" if fmt == "json" else "csv", processed_at=WHEN)
    (line,) = sink.getvalue().decode().splitlines()
    assert f'"fee":{fee},' in line


@pytest.mark.parametrize(
    ("currency", "amount", "fee"),
    [("JPY", "50", "0"), ("JPY", "150", "2"), ("BHD", "0.050", "0.000"), ("USD", "0.50", "0.00")],
)
def test_half_even_rounds_ties_to_the_even_minor_unit(currency, amount, fee):
    rows, _ = run(HEADER + f"t,{amount},2024-01-01,a,{currency},m\n", Config(rounding="ROUND_HALF_EVEN"))
    assert str(rows[0]["fee"]) == fee


def test_a_code_outside_the_table_accepted_by_setting_rounds_to_two_places():
    rows, _ = run(HEADER + "t,0.50,2024-01-01,a,XYZ,m\n", Config(any_currency=True))
    assert (rows[0]["currency"], str(rows[0]["fee"])) == ("XYZ", "0.01")


def test_every_fee_quantum_writes_in_plain_notation_with_str():
    # The column writer writes fees with `str`, which equals format(fee, "f") only for exponents 0 to -6.
    from etl_handlers.core import api

    quanta = [*api._QUANTA.values(), api._OTHER_QUANTUM]
    assert all(-6 <= q.as_tuple().exponent <= 0 for q in quanta)
    for quantum in quanta:
        for fee in (Decimal("0"), Decimal("-123456789.987654321"), Decimal("0.000049")):
            value = fee.quantize(quantum)
            assert str(value) == format(value, "f")
