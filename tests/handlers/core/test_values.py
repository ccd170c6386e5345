"""The schema engine held to its reference: a CSV column checked at once says what each value's check says.

`ValueRule.problem` (one value, with the error's words) is the reference; `ValueRule.column_ok` and
`RecordChecker.check_columns` (the plain-CSV fast path) must agree with it for random schemas and
random records, and the two paths of a whole file must give the same errors and the same bytes.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from etl_handlers.core import api, readers, transform, validate
from etl_handlers.core.config import Config
from etl_handlers.core.schema import FieldRule, Schema, SchemaError
from etl_handlers.core.values import ValueRule

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Candidate CSV cells per type: valid, nearly valid, and wrong; none holds a comma, quote or line end.
CELLS = {
    "string": ["", " ", "AB12", "MC123", "abc", "xxxxx", "SETTLED", " AB12 ", "ab_9", "\u2003AB12", "abc\x1c"],
    "decimal": [
        "1",
        "-2.50",
        "0",
        "1e3",
        "",
        " 3 ",
        "abc",
        "10.005",
        "+7.0",
        "0.00",
        # Beside the bounds drawn below: a float cannot tell these from the bound, the exact check must.
        "1.0000000000000000000001",
        "0.9999999999999999999999",
        "-1.0000000000000000000001",
        "20.00000000000000000001",
        "5.000",
        "-0.0000000000000000000001",
        "9" * 400,
        # Judged by their shapes (each ASCII digit read as 0): other digits, line feeds, lone signs and points.
        "\u0661.5",
        "1\n2",
        "1.\n5",
        "-",
        ".5",
        "1.",
        "0x1",
        "1 000",
    ],
    "integer": ["1", "-3", "2.0", "", "12", " 4 ", "x", "+0", "\u30001", "2\x85", "\u0663", "1\n2", "-", "007"],
    "date": [
        "2024-01-01",
        "2024-02-30",
        "2024-01-01T10:00:00",
        "",
        "x",
        "2023-12-31",
        "2024-01-01 10:00",
        "2024-06-30T23:59:59.999Z",
        "2024-07-01T00:00:00+05:30",
        "2024-01-01T10:61:00",
    ],
    "date-time": [
        "2024-01-01T10:00:00Z",
        "2024-01-01",
        "2024-01-01T25:00:00",
        "",
        "2024-03-01T00:00:00+01:00",
        "2024-01-01T23:59:59.123456+23:59",
        "2024-01-01T24:00:00",
        "2024-01-01T10:00:00.1234567Z",
        "2024-01-01T10:00:00-00:00",
        "2024-01-01T10:00",
        "2024-01-01T10:00:00.5",
        "2024-02-30T10:00:00Z",
        "2024-01-01T10:00:60",
        "2024-01-01T10:00:00+24:00",
        "0000-01-01T00:00:00Z",
    ],
    "boolean": ["true", "false", "TRUE", "", "yes"],
    "any": ["", " ", "v", "1.5"],
}
PATTERNS = ["[A-Z]{2}\\d{2}", "\\w+", "[a-c]*", "MC\\d{3}", "[^ ]{3,5}"]


@st.composite
def field_rules(draw, name: str) -> FieldRule:
    kind = draw(st.sampled_from(sorted(CELLS)))
    spec: dict = {"type": kind, "required": draw(st.booleans()), "empty": draw(st.booleans())}
    if kind != "any" and draw(st.booleans()):
        spec["unique"] = True
    if kind == "string":
        if draw(st.booleans()):
            spec["min_length"] = draw(st.integers(0, 4))
        if draw(st.booleans()):
            spec["max_length"] = draw(st.integers(spec.get("min_length", 0) or 1, 6))
        if draw(st.booleans()):
            spec["pattern"] = draw(st.sampled_from(PATTERNS))
        if draw(st.booleans()):
            spec["enum"] = draw(st.lists(st.sampled_from(["AB12", "abc", "SETTLED", "MC123"]), min_size=1, unique=True))
    elif kind in ("decimal", "integer"):
        if draw(st.booleans()):
            spec["minimum"] = draw(st.sampled_from(["-1", "0", "1"]))
        if draw(st.booleans()):
            spec["maximum"] = draw(st.sampled_from(["1", "5", "20"]))
    elif kind == "date":
        if draw(st.booleans()):
            spec["minimum"] = "2024-01-01"
        if draw(st.booleans()):
            spec["maximum"] = draw(st.sampled_from(["2024-01-01", "2024-06-30"]))
    try:
        return Schema.from_dict({"fields": {"amount": {"type": "decimal", "required": True}, name: spec}}).rule(name)
    except SchemaError:
        assume(False)
        raise


@FAST
@given(st.data())
def test_a_column_passes_exactly_when_each_of_its_values_does(data):
    rule = ValueRule(data.draw(field_rules("f")))
    values = data.draw(st.lists(st.sampled_from(CELLS[rule.type] + CELLS["string"]), min_size=1, max_size=6))
    singles = [ValueRule(rule.rule).problem(v) is None for v in values]
    assert ValueRule(rule.rule).column_ok(values) == all(singles)


@contextmanager
def reference_path():
    """Every CSV record through csv.reader and RecordChecker.check: the record-by-record reference."""
    with mock.patch.object(
        api, "read_csv_blocks", lambda text, config, checker, trusted=False: readers.read_csv(text, config)
    ):
        yield


def outcome(data: bytes, config: Config) -> tuple:
    checked = validate(io.BytesIO(data), "csv", config)
    out = io.BytesIO()
    written = transform(io.BytesIO(data), out, "csv", config, processed_at=WHEN)
    return replace(checked, bytes_read=0), replace(written, bytes_read=0), out.getvalue()


@st.composite
def schemas_and_files(draw):
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=3, unique=True))
    rules = {name: draw(field_rules(name)).to_dict() for name in names}
    other = draw(st.sampled_from(["keep", "drop", "reject"]))
    document = {
        "fields": {
            "amount": {"type": "decimal", "required": True},
            **rules,
            "currency": {"type": "string", "empty": True},
        },
        "other_fields": other,
    }
    try:
        schema = Schema.from_dict(document)
    except SchemaError:
        assume(False)
    header = ["amount", *names, "currency"] + (["extra"] if draw(st.booleans()) else [])
    rows = draw(st.integers(1, 12))
    lines = [",".join(header)]
    for _ in range(rows):
        cells = []
        for name in header:
            rule = schema.rule(name)
            pool = (
                CELLS["decimal"][:4]
                if name == "amount"
                else (
                    ["", "USD", "JPY", "BHD", "usd"] if name == "currency" else CELLS[rule.type] if rule else ["x", ""]
                )
            )
            cells.append(draw(st.sampled_from(pool)))
        lines.append(",".join(cells))
    return schema, ("\r\n".join(lines) + "\r\n").encode()


@FAST
@given(schemas_and_files())
def test_a_random_schema_gives_the_same_errors_and_bytes_on_both_paths(case):
    schema, data = case
    config = Config(schema=schema)
    fast = outcome(data, config)
    quoted = b"\r\n".join(b'"' + line.replace(b",", b'","') + b'"' for line in data.split(b"\r\n")[:-1]) + b"\r\n"
    fast_quoted = outcome(quoted, config)  # the quoted-CSV blocks
    with reference_path():
        reference = outcome(data, config)
        assert outcome(quoted, config) == fast_quoted
    assert fast == reference


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        (FieldRule("x", "integer"), "2.0", "must be an integer such as 42"),
        (FieldRule("x", "integer", minimum="3"), "2", "must be at least 3"),
        (FieldRule("x", "boolean"), "yes", "must be true or false"),
        (FieldRule("x", "date", maximum="2024-01-01"), "2024-01-02", "must be on or before 2024-01-01"),
        (FieldRule("x", "date", minimum="2024-01-01"), "2023-12-31T23:00:00", "must be on or after 2024-01-01"),
        (FieldRule("x", "string", min_length=2), " a ", "must be at least 2 characters long"),
        (FieldRule("x", "string"), None, "must be a string"),
        (FieldRule("x", "any"), " ", "must not be empty"),
        (FieldRule("x", "decimal", empty=True), " ", None),
        (FieldRule("x", "decimal"), "", "must be a plain decimal such as -12.50"),
        (FieldRule("x", "string", enum=("A", "B")), " A ", None),
        (FieldRule("x", "boolean"), True, None),
    ],
)
def test_each_rule_says_what_it_wants(rule, value, message):
    assert ValueRule(rule).problem(value) == message


def test_a_value_seen_in_an_earlier_block_is_still_held_to_the_bounds():
    schema = Schema.from_dict(
        {
            "fields": {
                "amount": {"type": "decimal", "required": True},
                "day": {"type": "date", "required": True, "minimum": "2024-01-01"},
                "at": {"type": "date-time", "required": True},
            }
        }
    )
    rows = [f"{i}.00,2024-02-01,2024-02-01T10:00:{i % 60:02d}Z" for i in range(4000)]
    rows[0] = rows[-1] = "1.00,2023-06-01,2024-02-01T10:00:00Z"
    rows[1] = rows[-2] = "1.00,2024-02-01,2024-02-01"  # a day without a time: no date-time
    data = ("amount,day,at\n" + "\n".join(rows) + "\n").encode()
    assert len(data) > 2 * (1 << 16)  # several blocks of the fast path
    config = Config(schema=schema)
    expected = [
        (1, "day", "must be on or after 2024-01-01"),
        (2, "at", "must be a date-time written YYYY-MM-DDThh:mm:ss"),
        (3999, "at", "must be a date-time written YYYY-MM-DDThh:mm:ss"),
        (4000, "day", "must be on or after 2024-01-01"),
    ]
    fast = outcome(data, config)
    assert [(e.row, e.field, e.message) for e in fast[0].errors] == expected
    with reference_path():
        assert outcome(data, config) == fast


def test_integers_of_any_length_are_compared_exactly_on_both_paths():
    big = "1" + "0" * 5000  # past int()'s default limit of 4,300 digits
    schema = Schema.from_dict(
        {"fields": {"amount": {"type": "decimal", "required": True}, "n": {"type": "integer", "maximum": big}}}
    )
    data = f"amount,n\n1,{big}\n1,{big}1\n1,-{big}\n".encode()
    config = Config(schema=schema)
    fast = outcome(data, config)
    assert [(e.row, e.field) for e in fast[0].errors] == [(2, "n")]
    with reference_path():
        assert outcome(data, config) == fast


def test_two_unique_fields_in_one_block_report_each_repeat_once():
    # id2 repeats at row 3, so the block's column check stops there, having registered id1 for rows 3 to 6
    # already; the record path then takes those as new once, and row 7's repeat of a4 is still a repeat.
    schema = Schema.from_dict(
        {
            "fields": {
                "amount": {"type": "decimal", "required": True},
                "id1": {"type": "string", "unique": True},
                "id2": {"type": "string", "unique": True},
            }
        }
    )
    rows = ["1,a1,b1", "1,a2,b2", "1,a3,b1", "1,a4,b4", "1,a5,b5", "1,a6,b6", "1,a4,b7"]
    data = ("amount,id1,id2\n" + "\n".join(rows) + "\n").encode()
    config = Config(schema=schema)
    fast = outcome(data, config)
    assert [(e.row, e.field) for e in fast[0].errors] == [(3, "id2"), (7, "id1")]
    with reference_path():
        assert outcome(data, config) == fast


def test_without_a_currency_field_every_record_takes_the_default_on_both_paths():
    schema = Schema.from_dict(
        {"fields": {"value": {"type": "decimal", "required": True}}, "amount_field": "value", "currency_field": None}
    )
    data = b"value,currency\n1.005,JPY\n2.50,XYZ\n"
    config = Config(schema=schema)
    fast = outcome(data, config)
    lines = fast[2].decode().splitlines()
    assert [line.split(',"fee":')[1].split(",")[0] for line in lines] == ["0.01", "0.03"]  # USD, 2 places
    assert all('"currency":"USD"' in line for line in lines)
    with reference_path():
        assert outcome(data, config) == fast


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("date", ["2024-01-01\n2024-01-02", "2024-01-01"]),
        ("date-time", ["2024-01-01T10:00:00Z\n2024-01-01T11:00:00Z", "2024-01-01T10:00:00Z"]),
        ("decimal", ["1.50\n2", "3"]),
        ("integer", ["1\n2", "3"]),
    ],
)
def test_a_value_holding_a_line_feed_fails_its_column_as_it_fails_alone(kind, values):
    schema = Schema.from_dict({"fields": {"amount": {"type": "decimal", "required": True}, "f": {"type": kind}}})
    rule = ValueRule(schema.rule("f"))
    assert rule.problem(values[0]) is not None
    assert rule.column_ok(values) is False
