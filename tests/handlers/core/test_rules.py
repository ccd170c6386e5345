"""The field rules of the default schema, one per test."""

from __future__ import annotations

import io
import json

import pytest

from etl_handlers.core import Config, validate

BASE = {"transaction_id": "t1", "amount": "1.00", "date": "2024-01-01", "account_id": "a"}


def field_errors(config: Config | None = None, **changes) -> list[tuple]:
    record = {k: v for k, v in {**BASE, **changes}.items() if v is not ...}
    result = validate(io.BytesIO(json.dumps([record]).encode()), "json", config)
    return [(e.field, e.message) for e in result.errors]


@pytest.mark.parametrize("amount", ["-12.50", "3", "0.07", "+4.5", 12, 0, "  7.25 "])
def test_plain_decimals_are_valid_amounts(amount):
    assert field_errors(amount=amount) == []


@pytest.mark.parametrize(
    "amount", ["1e5", "1,000.00", "$5", "NaN", "Infinity", "", "1.", ".5", "١٢", True, None, "1 000"]
)
def test_other_amounts_are_errors(amount):
    assert field_errors(amount=amount) == [("amount", "must be a plain decimal such as -12.50")]


@pytest.mark.parametrize("date", ["2024-02-29", "2024-03-01T12:00:00Z", "2024-03-01T12:00:00+02:00"])
def test_calendar_dates_and_date_times_are_valid(date):
    assert field_errors(date=date) == []


def test_an_impossible_day_is_an_error():
    assert field_errors(date="2024-02-30") == [("date", "is not a real calendar day")]


@pytest.mark.parametrize("date", ["01/03/2024", "2024-3-1", "20240301", 20240301])
def test_other_date_forms_are_errors(date):
    assert field_errors(date=date) == [("date", "must be a date written YYYY-MM-DD")]


def test_a_bad_time_after_the_date_is_an_error():
    assert field_errors(date="2024-03-01T25:00:00") == [("date", "has a time that is not ISO 8601")]


@pytest.mark.parametrize("name", ["transaction_id", "account_id"])
def test_blank_ids_are_errors(name):
    assert field_errors(**{name: "   "}) == [(name, "must not be empty")]


def test_a_repeated_transaction_id_is_an_error_on_the_later_record():
    records = [BASE, dict(BASE, account_id="b"), dict(BASE, transaction_id=" t1 ")]
    result = validate(io.BytesIO(json.dumps(records).encode()), "json")
    assert [(e.row, e.field) for e in result.errors] == [(2, "transaction_id"), (3, "transaction_id")]


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "12A", 840, "XYZ", "HRK", "XAU"])
def test_bad_currencies_are_errors(currency):
    # HRK was withdrawn in 2023; XAU (gold) has no minor unit: neither is a transaction currency.
    assert field_errors(currency=currency) == [("currency", "must be an active ISO 4217 currency code such as USD")]


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "12A", 840])
def test_any_currency_still_asks_for_three_upper_case_letters(currency):
    config = Config(any_currency=True)
    assert field_errors(config, currency=currency) == [("currency", "must be three upper-case letters such as USD")]
    assert field_errors(config, currency="XYZ") == []


def test_several_errors_in_one_record_are_all_reported():
    assert {f for f, _ in field_errors(amount="x", date="y", account_id="")} == {"amount", "date", "account_id"}


def test_an_extra_required_field_is_enforced():
    config = Config(required_fields=("transaction_id", "amount", "date", "account_id", "merchant"))
    assert field_errors(config) == [("merchant", "missing required field")]
    assert field_errors(config, merchant=" ") == [("merchant", "must not be empty")]


def test_errors_are_listed_up_to_the_limit_and_all_counted():
    records = [dict(BASE, transaction_id=f"t{i}", amount="bad") for i in range(250)]
    result = validate(io.BytesIO(json.dumps(records).encode()), "json", Config(max_errors=100))
    assert len(result.errors) == 100
    assert result.error_count == 250
    assert (result.rows_total, result.rows_valid, result.rows_rejected) == (250, 0, 250)
