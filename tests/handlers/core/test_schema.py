"""The schema document: what it accepts, what it refuses (naming the setting's path), and its hash."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from etl_handlers.core import Config, validate
from etl_handlers.core.schema import DEFAULT_SCHEMA, DEFAULT_SCHEMA_DOCUMENT, FieldRule, Schema, SchemaError

AMOUNT = {"type": "decimal", "required": True}


def schema(**fields) -> dict:
    return {"fields": {"amount": AMOUNT, **fields}}


@pytest.mark.parametrize(
    ("document", "path", "words"),
    [
        ([], "", "a schema is a JSON object"),
        ({"fields": {}}, "fields", "at least one field"),
        ({"fields": {"amount": AMOUNT}, "schema_version": 2}, "schema_version", "reads schema_version 1"),
        ({"fields": {"amount": AMOUNT}, "colour": "red"}, "colour", "unknown setting"),
        (schema(x={"type": "money"}), "fields.x.type", "one of string, decimal"),
        (schema(x={"type": "string", "maxlen": 3}), "fields.x.maxlen", "unknown setting"),
        (schema(x={"type": "string", "required": "yes"}), "fields.x.required", "true or false"),
        (schema(x={"type": "decimal", "minimum": 0.5}), "fields.x.minimum", "a float is not exact"),
        (schema(x={"type": "decimal", "minimum": "1e3"}), "fields.x.minimum", "a plain decimal"),
        (schema(x={"type": "decimal", "minimum": "5", "maximum": "1"}), "fields.x.minimum", "above the maximum"),
        (schema(x={"type": "integer", "maximum": "1.5"}), "fields.x.maximum", "a plain integer"),
        (schema(x={"type": "date", "minimum": "2024-02-30"}), "fields.x.minimum", "not a real calendar day"),
        (schema(x={"type": "string", "minimum": "1"}), "fields.x.minimum", "applies to decimal, integer, date"),
        (schema(x={"type": "decimal", "max_length": 3}), "fields.x.max_length", "applies to string fields"),
        (schema(x={"type": "string", "min_length": 4, "max_length": 3}), "fields.x.min_length", "above max_length"),
        (schema(x={"type": "string", "min_length": -1}), "fields.x.min_length", "0 or more"),
        (schema(x={"type": "string", "pattern": "(a|b)"}), "fields.x.pattern", "("),
        (schema(x={"type": "string", "pattern": "[a-z]*z"}), "fields.x.pattern", "disjoint"),
        (schema(x={"type": "integer", "pattern": "1"}), "fields.x.pattern", "applies to string fields"),
        (schema(x={"type": "string", "enum": []}), "fields.x.enum", "non-empty list"),
        (schema(x={"type": "string", "enum": ["A", "A"]}), "fields.x.enum", "listed twice"),
        (schema(x={"type": "string", "enum": ["A", True]}), "fields.x.enum[1]", "written as text"),
        (schema(x={"type": "string", "enum": ["AB", "ABCD"], "max_length": 3}), "fields.x.enum[1]", "no record could"),
        (schema(x={"type": "decimal", "enum": ["1", "x"]}), "fields.x.enum[1]", "plain decimal"),
        (schema(x={"type": "string", "enum": ["a", " b"]}), "fields.x.enum[1]", "spaces at an end"),
        (schema(fee={"type": "decimal"}), "fields.fee", "written by the pipeline"),
        (schema(**{" x": {"type": "string"}}), "fields. x", "without surrounding spaces"),
        ({"fields": {"value": AMOUNT}}, "amount_field", "'amount' is not a field"),
        ({"fields": {"amount": {"type": "decimal"}}}, "fields.amount", "required decimal"),
        ({"fields": {"amount": {"type": "string", "required": True}}}, "fields.amount", "required decimal"),
        (schema(currency={"type": "integer"}), "fields.currency.type", "make it a string"),
        ({**schema(), "other_fields": "reject"}, "currency_field", "not declared"),
        ({**schema(), "other_fields": "ignore"}, "other_fields", "keep, drop, reject"),
    ],
)
def test_a_malformed_or_unsatisfiable_schema_names_its_path(document, path, words):
    with pytest.raises(SchemaError) as caught:
        Schema.from_dict(document)
    assert caught.value.path == path
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{path}: " if path else words[:5])


def test_the_default_schema_is_the_contract_s_table():
    assert DEFAULT_SCHEMA.names == ("transaction_id", "account_id", "amount", "date", "currency")
    assert DEFAULT_SCHEMA.required_names == ("transaction_id", "account_id", "amount", "date")
    assert DEFAULT_SCHEMA.rule("transaction_id") == FieldRule("transaction_id", "string", required=True, unique=True)
    assert DEFAULT_SCHEMA.rule("currency") == FieldRule("currency", "string", empty=True)
    assert (DEFAULT_SCHEMA.other_fields, DEFAULT_SCHEMA.amount_field) == ("keep", "amount")
    assert Config().rules is DEFAULT_SCHEMA


def test_a_schema_round_trips_through_its_json_and_keeps_its_field_order():
    document = {
        "fields": {
            "value": {"type": "decimal", "required": True, "minimum": "0"},
            "id": {"type": "string", "required": True, "unique": True, "pattern": "T\\d{3}"},
        },
        "amount_field": "value",
        "other_fields": "drop",
    }
    first = Schema.from_dict(document)
    again = Schema.from_json(first.to_json())
    assert again == first
    assert again.names == ("value", "id")
    assert again.hash == first.hash
    assert Schema.from_json(DEFAULT_SCHEMA.to_json()) == DEFAULT_SCHEMA


def test_the_hash_changes_with_any_rule_and_with_the_order_of_the_fields():
    base = Schema.from_dict(DEFAULT_SCHEMA_DOCUMENT)
    changed = json.loads(json.dumps(DEFAULT_SCHEMA_DOCUMENT))
    changed["fields"]["account_id"]["max_length"] = 40
    reordered = dict(DEFAULT_SCHEMA_DOCUMENT, fields=dict(reversed(list(DEFAULT_SCHEMA_DOCUMENT["fields"].items()))))
    hashes = {base.hash, Schema.from_dict(changed).hash, Schema.from_dict(reordered).hash}
    assert len(hashes) == 3
    assert base.hash.startswith("sha256:") and len(base.hash) == 7 + 64


def test_numbers_in_a_schema_file_are_read_exactly():
    text = '{"fields": {"amount": {"type": "decimal", "required": true, "maximum": 0.1, "minimum": -5}}}'
    rule = Schema.from_json(text).rule("amount")
    assert (rule.minimum, rule.maximum) == ("-5", "0.1")
    assert Decimal(rule.maximum) == Decimal("0.1")


def test_a_schema_file_that_is_not_json_is_refused():
    with pytest.raises(SchemaError, match="not valid JSON"):
        Schema.from_json("{fields: }")


def test_required_fields_and_a_schema_do_not_mix():
    with pytest.raises(ValueError, match="mark its fields"):
        Config(schema=DEFAULT_SCHEMA, required_fields=("transaction_id", "amount"))


# --- a user's schema through the core API -------------------------------------------------------

USER_SCHEMA = Schema.from_dict(
    {
        "fields": {
            "transaction_id": {"type": "string", "required": True, "unique": True, "max_length": 20},
            "merchant_code": {"type": "string", "required": True, "pattern": "MC\\d{6}"},
            "status": {"type": "string", "required": True, "enum": ["SETTLED", "PENDING", "REVERSED"]},
            "value": {"type": "decimal", "required": True, "minimum": "0"},
            "posted_at": {"type": "date-time", "required": True},
            "currency": {"type": "string", "empty": True},
        },
        "other_fields": "reject",
        "amount_field": "value",
    }
)
GOOD = {
    "transaction_id": "T1",
    "merchant_code": "MC123456",
    "status": "SETTLED",
    "value": "10.00",
    "posted_at": "2026-01-02T03:04:05Z",
    "currency": "JPY",
}


def errors_of(records: list[dict], fmt: str = "json") -> list[tuple]:
    if fmt == "json":
        data = json.dumps(records).encode()
    else:
        names = list(records[0])
        data = ("\n".join([",".join(names)] + [",".join(r[n] for n in names) for r in records]) + "\n").encode()
    result = validate(io.BytesIO(data), fmt, Config(schema=USER_SCHEMA))
    return [(e.row, e.field, e.message) for e in result.errors]


def test_a_user_schema_accepts_its_records():
    assert errors_of([GOOD, dict(GOOD, transaction_id="T2", currency="")]) == []


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"merchant_code": "MC12345"}, "merchant_code", "must match the pattern MC\\d{6}"),
        ({"status": "LOST"}, "status", "must be one of SETTLED, PENDING, REVERSED"),
        ({"value": "-0.01"}, "value", "must be at least 0"),
        ({"value": "1e3"}, "value", "must be a plain decimal such as -12.50"),
        ({"posted_at": "2026-01-02"}, "posted_at", "must be a date-time written YYYY-MM-DDThh:mm:ss"),
        ({"transaction_id": "T" * 21}, "transaction_id", "must be at most 20 characters long"),
        ({"currency": "XYZ"}, "currency", "must be an active ISO 4217 currency code such as USD"),
    ],
)
def test_a_bad_value_is_a_row_error_naming_its_field_and_rule(fmt, change, field, message):
    assert errors_of([GOOD, {**GOOD, "transaction_id": "T2", **change}], fmt) == [(2, field, message)]


def test_a_field_the_schema_does_not_declare_is_rejected():
    assert errors_of([dict(GOOD, memo="hi")]) == [(1, "memo", "is not a field of the schema")]
    assert errors_of([dict(GOOD, memo="hi")], "csv") == [
        (None, "memo", "the header names column 'memo', which the schema does not declare")
    ]


def test_a_repeated_unique_value_is_an_error_on_the_later_record():
    assert errors_of([GOOD, GOOD]) == [(2, "transaction_id", "repeats the transaction_id of an earlier record")]
