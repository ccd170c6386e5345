"""Property-based: random valid records come out exact; one random corruption is caught where it is."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_handlers.core import transform, validate

FIELDS = ["transaction_id", "amount", "date", "account_id", "currency"]

amounts = (
    st.integers(0, 6)
    .flatmap(
        lambda places: st.decimals(
            min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False, places=places
        )
    )
    .map(lambda d: format(d, "f"))
)
ids = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda s: s.strip()
)
records = st.lists(
    st.fixed_dictionaries(
        {
            "amount": amounts,
            "date": st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat),
            "account_id": ids,
            "currency": st.sampled_from(["", "USD", "EUR", "JPY"]),
        }
    ),
    min_size=1,
    max_size=30,
)
MINOR_UNIT_OF = {"USD": 2, "EUR": 2, "JPY": 0}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _csv(rows: list[dict]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for index, row in enumerate(rows):
        writer.writerow({"transaction_id": f"T{index}", **row})
    return text.getvalue().encode()


@FAST
@given(records, st.sampled_from(["csv", "json", "jsonl"]))
def test_valid_records_come_out_exact(rows, fmt):
    full = [{"transaction_id": f"T{i}", **r} for i, r in enumerate(rows)]
    if fmt == "csv":
        data = _csv(rows)
    elif fmt == "json":
        data = json.dumps(full).encode()
    else:
        data = "\n".join(json.dumps(r) for r in full).encode()
    sink = io.BytesIO()
    result = transform(io.BytesIO(data), sink, fmt)
    assert result.error_count == 0, result.errors
    out = [json.loads(line, parse_float=Decimal, parse_int=Decimal) for line in sink.getvalue().decode().splitlines()]
    assert len(out) == len(full)
    for source, row in zip(full, out, strict=True):
        amount = Decimal(source["amount"])
        assert row["amount"] == amount
        places = MINOR_UNIT_OF[source["currency"] or "USD"]  # the currency's ISO 4217 minor unit
        fee = (amount * Decimal("0.01")).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        assert str(row["fee"]) == str(fee if fee else abs(fee))  # a zero fee has no sign
        assert row["currency"] == (source["currency"] or "USD")
        assert row["account_id"] == source["account_id"]


# JSON values as text, numbers of every form the grammar allows (exponents of any size included).
json_numbers = st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,25})?", fullmatch=True)


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(items: list[str]) -> str:
    return "{" + ",".join(f'"k{i}":{v}' for i, v in enumerate(items)) + "}"


json_values = st.recursive(
    json_numbers | st.from_regex(r'"[a-z %]{0,5}"', fullmatch=True) | st.sampled_from(["true", "false", "null"]),
    lambda inner: st.lists(inner, max_size=3).map(_array) | st.lists(inner, max_size=3).map(_object),
    max_leaves=12,
)


@FAST
@given(json_values, st.sampled_from(["json", "jsonl"]))
def test_a_value_that_passes_through_is_written_exactly_as_read(value, fmt):
    head = '{"transaction_id":"T0","amount":"-0.001","date":"2024-01-01","account_id":"a","x":'
    record = head + value + "}"
    data = (f"[{record}]" if fmt == "json" else record).encode()
    assert validate(io.BytesIO(data), fmt).ok
    sink = io.BytesIO()
    result = transform(io.BytesIO(data), sink, fmt, processed_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert result.rows_written == 1
    tail = ',"currency":"USD","fee":0.00,"processed_at":"2026-01-01T00:00:00.000Z"}\n'
    assert sink.getvalue().decode() == head.replace('"-0.001"', "-0.001") + value + tail


CORRUPTIONS = {
    "amount": ["1e3", "12,50", "$1", "abc", ""],
    "date": ["2024-02-30", "2024/01/01", "yesterday", ""],
    "account_id": ["", "   "],
    "currency": ["usd", "DOLLARS", "1$"],
}


@FAST
@given(records, st.data())
def test_a_single_corruption_is_rejected_at_its_row_and_field(rows, data):
    index = data.draw(st.integers(0, len(rows) - 1))
    name = data.draw(st.sampled_from(sorted(CORRUPTIONS)))
    rows[index] = {**rows[index], name: data.draw(st.sampled_from(CORRUPTIONS[name]))}
    result = validate(io.BytesIO(_csv(rows)), "csv")
    assert [(e.row, e.field) for e in result.errors] == [(index + 1, name)]
    assert result.rows_rejected == 1


@FAST
@given(records, st.data())
def test_a_repeated_id_is_rejected_at_the_later_row(rows, data):
    if len(rows) < 2:
        rows = rows * 2
    first, later = sorted(data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=2, max_size=2, unique=True)))
    full = [{"transaction_id": f"T{i}", **r} for i, r in enumerate(rows)]
    full[later]["transaction_id"] = full[first]["transaction_id"]
    result = validate(io.BytesIO(json.dumps(full).encode()), "json")
    assert [(e.row, e.field) for e in result.errors] == [(later + 1, "transaction_id")]
