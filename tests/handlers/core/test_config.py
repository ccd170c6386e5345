"""The functions' configuration: defaults are the contract's, JSON round-trips, bad values fail."""

from __future__ import annotations

from decimal import Decimal

import pytest

from etl_handlers.core import Config, ConfigError


def test_defaults_are_the_data_contract():
    config = Config()
    assert config.required_fields == ("transaction_id", "amount", "date", "account_id")
    assert config.fee_rate == Decimal("0.01")
    assert config.rounding == "ROUND_HALF_UP"
    assert config.default_currency == "USD"
    assert config.max_errors == 100


def test_json_round_trip_is_exact():
    config = Config(fee_rate=Decimal("0.0125"), suffixes=(".CSV",), max_errors=5)
    assert Config.from_json(config.to_json()) == config


def test_empty_document_gives_defaults():
    assert Config.from_json(None) == Config() == Config.from_json("")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fee_rate": "-1"}, "fee_rate"),
        ({"fee_rate": 0.01}, "never a float"),
        ({"rounding": "ROUND_NEAREST"}, "rounding"),
        ({"default_currency": "usd"}, "default_currency"),
        ({"suffixes": [".xml"]}, "suffixes"),
        ({"surprise": 1}, "unknown configuration keys"),
    ],
)
def test_bad_documents_fail_clearly(data, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_dict(data)


@pytest.mark.parametrize(
    ("key", "fmt"), [("a.csv", "csv"), ("A.CSV", "csv"), ("x.NdJson", "jsonl"), ("b.json", "json")]
)
def test_format_follows_the_suffix_ignoring_case(key, fmt):
    assert Config().format_for_key(key) == fmt


def test_other_suffixes_have_no_format():
    assert Config().format_for_key("notes.txt") is None
