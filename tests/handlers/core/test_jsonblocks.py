"""The JSON fast paths give exactly what the reference readers give, batch boundaries anywhere."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_handlers.core import api, jsonblocks, readers, transform, validate
from etl_handlers.core.blocks import EncodedBlock
from etl_handlers.core.config import Config
from etl_handlers.core.jsonblocks import read_json_blocks
from etl_handlers.core.rules import RecordChecker
from etl_handlers.core.streams import CountingReader, text_stream

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@contextmanager
def reference_path():
    """Every JSON record through the reference readers and RecordChecker.check."""

    def records(text, fmt, config, checker, trusted=False):
        return readers.read_records(text, fmt, config)

    with mock.patch.object(api, "read_json_blocks", records):
        yield


def outcome(data: bytes, fmt: str, config: Config | None = None) -> tuple:
    checked = validate(io.BytesIO(data), fmt, config)
    out = io.BytesIO()
    written = transform(io.BytesIO(data), out, fmt, config, processed_at=WHEN)
    # How far a rejected file was read before giving up depends on read-ahead, not on the rules.
    return replace(checked, bytes_read=0), replace(written, bytes_read=0), out.getvalue()


def assert_same(data: bytes, fmt: str, config: Config | None = None) -> None:
    fast = outcome(data, fmt, config)
    with reference_path():
        reference = outcome(data, fmt, config)
    assert fast == reference


def blocks_used(data: bytes, fmt: str) -> int:
    text = text_stream(CountingReader(io.BytesIO(data)))
    items = read_json_blocks(text, fmt, Config(), RecordChecker(Config()))
    return sum(i.rows for i in items if isinstance(i, EncodedBlock))


def record(i: int, **changes: object) -> dict:
    values = {
        "transaction_id": f"T{i}",
        "amount": f"{i}.25",
        "date": f"2024-01-{1 + i % 28:02d}",
        "account_id": f"A{i % 7}",
        "currency": "" if i % 3 else "EUR",
        "memo": f"memo {i}",
    }
    values.update(changes)
    return values


RECORDS = [record(i) for i in range(400)]


def jsonl(records: list, separator: str = "\n") -> bytes:
    return "".join(json.dumps(r) + separator for r in records).encode()


def array(records: list, indent: int | None = None) -> bytes:
    return json.dumps(records, indent=indent).encode()


@pytest.fixture(params=[16, 97, 1024, 1 << 16])
def block_chars(request, monkeypatch):
    monkeypatch.setattr(jsonblocks, "BLOCK_CHARS", request.param)
    monkeypatch.setattr(jsonblocks, "_MIN_WINDOW", min(1024, request.param))
    return request.param


def test_regular_files_go_through_blocks():
    assert blocks_used(jsonl(RECORDS), "jsonl") == 400
    assert blocks_used(jsonl(RECORDS, "\r\n"), "jsonl") == 400
    assert blocks_used(array(RECORDS), "json") == 399  # the last element is read by the reference reader
    assert blocks_used(array(RECORDS, indent=2), "json") == 399


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_regular_file_same_result(block_chars, fmt):
    data = jsonl(RECORDS) if fmt == "jsonl" else array(RECORDS, indent=1)
    assert_same(data, fmt)
    assert validate(io.BytesIO(data), fmt).ok


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_numbers_and_literals_are_written_as_read(block_chars, fmt):
    rows = [
        record(i, amount=json.loads(f"{i}.50" if i % 2 else str(i)), transaction_id=i, account_id=i % 5,
               memo=[None, True, False, 1.5e300, "x"][i % 5], extra="HUGE" if i % 9 else "s")
        for i in range(300)
    ]  # fmt: skip
    data = (jsonl(rows) if fmt == "jsonl" else array(rows)).replace(b'"HUGE"', b"1E+400")
    assert_same(data, fmt)
    if block_chars >= 1024:
        assert blocks_used(data, fmt) > 0
    text = data.decode().replace('"amount": 3.5', '"amount": 3.50').replace('"memo": 1.5e+300', '"memo": -0.0E-7')
    assert_same(text.encode(), fmt)
    # Amounts that are JSON numbers are written as read when no exponent is in the block, else as decimals.
    amounts = ["0", "-0", "0.10", "-0.00", "123456789012345678901234567890.5", "7", "1e2", "-2E-1", "9.999"]
    for exponent in (False, True):
        shown = [a for a in amounts if exponent or "e" not in a.lower()]
        rows = [record(i, amount=0) for i in range(60)]
        text = (jsonl(rows) if fmt == "jsonl" else array(rows)).decode()
        parts = text.split('"amount": 0')
        text = "".join(part + f'"amount": {shown[i % len(shown)]}' for i, part in enumerate(parts[:-1])) + parts[-1]
        assert_same(text.encode(), fmt)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_bad_values_are_reported_at_their_rows(block_chars, fmt):
    rows = list(RECORDS)
    rows[10] = record(10, amount="1e5", date="2024-02-30", account_id=" ", currency="usd")
    rows[20] = record(20, transaction_id=20.5, account_id=1e3, amount=None)
    rows[30] = record(30, date=20240101, currency=7)
    rows[40] = {k: v for k, v in record(40).items() if k != "date"}
    rows[50] = record(50, transaction_id="T5")  # a repeat
    rows[60] = record(60, transaction_id=True, memo={"nested": [1, 2.50, {"x": None}]})
    rows[70] = record(70, transaction_id=70)
    rows[71] = record(71, transaction_id="70")  # the same digits as the number before: a repeat
    data = jsonl(rows) if fmt == "jsonl" else array(rows)
    assert_same(data, fmt)
    assert {e.row for e in validate(io.BytesIO(data), fmt).errors} == {11, 21, 31, 41, 51, 61, 72}


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_layouts_that_change_from_record_to_record(block_chars, fmt, monkeypatch):
    rows = [
        {k: v for k, v in record(i).items() if i % 3 or k != "currency"}
        if i % 50 < 40
        else dict(reversed(record(i).items()))
        for i in range(400)
    ]  # fmt: skip
    data = jsonl(rows) if fmt == "jsonl" else array(rows)
    assert_same(data, fmt)
    monkeypatch.setattr(jsonblocks, "MIN_BLOCK_ROWS", 1)
    assert_same(data, fmt)


def test_lines_that_hold_one_value_only_when_read_alone():
    # Joined into one array these parse to as many objects as lines, but not line by line.
    lines = ['{"transaction_id":"a","amount":1,"date":"2024-01-01","account_id":"x","memo":"}', '{"}']
    lines += ['{"transaction_id":"c","amount":1,"date":"2024-01-01","account_id":"x","memo":""},{"transaction_id":"d"}']
    lines += ['{"a":[{}', '{"b":2}]}', '{"c":1},{"d":2}', '{"a":1', '"b":2}']
    data = ("\n".join(lines) + "\n").encode()
    assert_same(data, "jsonl")
    assert_same(data + jsonl(RECORDS), "jsonl")


def test_json_lines_oddities(block_chars):
    body = jsonl(RECORDS[:50]).decode()
    for text in [
        body.replace("\n", "\r\n"),
        body.replace("\n", "\r", 5),  # lone CRs end lines too
        body.replace("\n", "\n\n  \t\n", 7),  # blank lines
        body.replace("\n", "\n  ", 9),  # white space before a value
        body + '[1, 2]\n3\n"s"\nnull\n{bad json}\n' + body.replace('"T', '"U'),
        body + '{"amount": NaN}\n{"amount": Infinity}\n',
        body + "[" * 3000 + "]" * 3000 + "\n" + "{" + '"a":{' * 3000 + "}" * 3001 + "\n",
        body + '{"a": 1} {"b": 2}\n',
        body.rstrip("\n"),  # no final line end
        "\ufeff" + body,
    ]:
        assert_same(text.encode(), "jsonl")


def test_lines_shorter_than_the_limit_in_blocks_longer_than_it(block_chars):
    config = Config(max_record_bytes=1024)
    rows = [record(i, memo="m" * 800) for i in range(40)]  # lines of 900 characters or so
    for end in ["\n", "\r\n", " \n", "\t\r\n", "}\n"]:
        assert_same(jsonl(rows, end), "jsonl", config)


def test_a_line_over_the_limit(block_chars):
    config = Config(max_record_bytes=1024)
    long = jsonl([record(900, memo="x" * 2000)])
    assert_same(jsonl(RECORDS) + long + jsonl(RECORDS[:3]), "jsonl", config)
    assert_same(jsonl(RECORDS) + long.replace(b"\n", b"\r") + jsonl(RECORDS[:3]), "jsonl", config)
    assert_same(jsonl(RECORDS[:20], "\r"), "jsonl", config)


def test_json_array_oddities(block_chars):
    body = array(RECORDS[:60]).decode()
    for text in [
        body.replace("}, {", "},\n\t{"),
        body.replace('"memo 7"', '"m}, {7"').replace('"memo 9"', '"m},"'),
        body.replace('"memo 3"', '{"n": {"o": 1}, "p": [{"q": 2}, {"r": 3}]}'),
        body[:-1] + ", 1, [2], null]",
        body[:-1] + ", ]",
        body[:-1] + "] x",
        body[:-1],
        body.replace("}, {", "} {", 1),
        body.replace('"amount": "5.25"', '"amount": NaN'),
        body[:-1] + ", " + "[" * 3000 + "]" * 3000 + "]",
        "[]",
        " [ ] ",
        '{"a": 1}',
    ]:
        assert_same(text.encode(), "json")


def test_an_element_over_the_limit():
    config = Config(max_record_bytes=1024)
    rows = [*RECORDS[:30], record(900, memo="x" * 1100), *RECORDS[30:40]]
    assert_same(array(rows), "json", config)
    rows[30] = record(900, memo="x" * 900)
    assert_same(array(rows), "json", config)


def test_non_ascii_escapes_and_keys(block_chars):
    rows = [record(i, memo=f'café \\ "q" tab\t\x7f {i}', **{"clé": "€", "100%": i, "fee": "old"}) for i in range(50)]
    for fmt in ("json", "jsonl"):
        data = jsonl(rows) if fmt == "jsonl" else array(rows)
        assert_same(data, fmt)
        assert_same(data.decode().replace("\\u00e9", "é").encode(), fmt)


# Values of every kind, for every field: valid and not.
VALUES = {
    "transaction_id": st.sampled_from(["T1", "T2", " T3 ", "", "  ", "Ü5", 7, 7.0, -8, "7", True, None, [1]]),
    "amount": st.sampled_from(["1.00", "-2.5", " 4 ", "1e5", "x", "", "007.50", 3, -0.5, 12.50, 1e5, None, False]),
    "date": st.sampled_from(["2024-01-01", "2024-02-30", "2024-03-01T10:00:00Z", "bad", "", 20240101, None]),
    "account_id": st.sampled_from(["A", "B ", "  ", "", "Ä", 5, 5.5, None]),
    "currency": st.sampled_from(["", "USD", "usd", "EU", "GBP", None, 840]),
    "memo": st.one_of(
        st.text(st.sampled_from(list('ab }{],"\\\t\x7fé€\u2028')), max_size=6),
        st.sampled_from([None, True, False, 0, -1.5, 2e-9, {"k": [1, {"z": None}]}, []]),
    ),
}
GOOD = {
    "amount": st.sampled_from(["1.00", "-2.5", " 4 ", "007.50", 3, -0.5, 12.50]),
    "date": st.sampled_from(["2024-01-01", "2024-03-01T10:00:00Z"]),
    "account_id": st.sampled_from(["A", "B ", "Ä", 5]),
    "currency": st.sampled_from(["", "USD", "GBP", None]),
    "memo": VALUES["memo"],
}


@st.composite
def json_files(draw, fmt: str) -> bytes:
    names = ["transaction_id", "amount", "date", "account_id", "currency", "memo"]
    clean = draw(st.booleans())
    rows = []
    for index in range(draw(st.integers(0, 60))):
        order = names if draw(st.integers(0, 4)) else draw(st.permutations(names))
        kept = [n for n in order if draw(st.integers(0, 30)) or n == "memo"]
        if clean:
            row = {n: (f"T{index}" if n == "transaction_id" else draw(GOOD[n])) for n in kept}
        else:
            row = {n: draw(VALUES[n]) for n in kept}
        rows.append(row if draw(st.integers(0, 40)) else draw(st.sampled_from([1, "s", None, [row]])))
    if fmt == "json":
        text = json.dumps(rows, indent=draw(st.sampled_from([None, 0, 2])))
        return text.encode()
    ends = draw(st.lists(st.sampled_from(["\n", "\r\n", "\n\n", " \n", "\r"]), min_size=1, max_size=3))
    text = "".join(json.dumps(r, separators=draw(st.sampled_from([None, (",", ":")]))) + ends[i % len(ends)]
                   for i, r in enumerate(rows))  # fmt: skip
    if rows and draw(st.integers(0, 5)) == 0:
        text += draw(st.sampled_from(["{bad\n", "[" * 2000 + "\n", '{"a": NaN}\n', "{}{}\n"]))
    return text.encode()


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(["json", "jsonl"]).flatmap(lambda f: st.tuples(st.just(f), json_files(f))),
       st.sampled_from([16, 61, 200, 1024, 1 << 16]), st.sampled_from([1, 4]),
       st.sampled_from([1024, 1 << 20]))  # fmt: skip
def test_random_files_same_result_on_both_paths(case, chars, min_rows, limit):
    fmt, data = case
    with (
        mock.patch.object(jsonblocks, "BLOCK_CHARS", chars),
        mock.patch.object(jsonblocks, "_MIN_WINDOW", min(chars, 1024)),
        mock.patch.object(jsonblocks, "MIN_BLOCK_ROWS", min_rows),
    ):
        assert_same(data, fmt, Config(max_record_bytes=limit))


@SETTINGS
@given(st.sampled_from(["json", "jsonl"]).flatmap(lambda f: st.tuples(st.just(f), json_files(f))),
       st.sampled_from([16, 200, 1 << 16]))  # fmt: skip
def test_a_file_that_validates_transforms_the_same_when_already_validated(case, chars):
    fmt, data = case
    with mock.patch.object(jsonblocks, "BLOCK_CHARS", chars), mock.patch.object(jsonblocks, "MIN_BLOCK_ROWS", 1):
        if not validate(io.BytesIO(data), fmt).ok:
            return
        checked, trusted = io.BytesIO(), io.BytesIO()
        first = transform(io.BytesIO(data), checked, fmt, processed_at=WHEN)
        second = transform(io.BytesIO(data), trusted, fmt, processed_at=WHEN, already_validated=True)
    assert trusted.getvalue() == checked.getvalue()
    assert second == first


def test_required_fields_of_the_configuration():
    config = Config(required_fields=("transaction_id", "amount", "date", "account_id", "memo"))
    rows = [record(i, memo=["x", 0, False, None, "", " "][i % 6]) for i in range(120)]
    for fmt in ("json", "jsonl"):
        data = jsonl(rows) if fmt == "jsonl" else array(rows)
        assert_same(data, fmt, config)
        assert_same(jsonl([{k: v for k, v in r.items() if k != "memo"} for r in rows]), "jsonl", config)


# --- random schemas: the blocks check what the reference checks ---------------------------------

JSON_VALUES = {
    "string": ["AB12", "", " ", "abc", 17, 1.5, None, True, "MC123", [1], {"a": 1}],
    "decimal": ["1.50", 2, 2.5, "1e3", 1e3, None, "", " 3 ", True, "-0.01", 12345678901234567890],
    "integer": ["4", 4, 4.0, "x", None, "", "-2", True],
    "date": ["2024-01-01", "2024-02-30", None, "", 20240101, "2024-01-01T10:00:00Z"],
    "date-time": ["2024-01-01T10:00:00Z", "2024-01-01", None, "", 5],
    "boolean": [True, False, "true", "TRUE", None, "", 1],
    "any": ["v", "", " ", None, 0, False, [1]],
}


@st.composite
def schema_and_records(draw):
    from etl_handlers.core.schema import Schema, SchemaError

    names = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
    fields = {"amount": {"type": "decimal", "required": True}}
    for name in names:
        spec = {
            "type": draw(st.sampled_from(sorted(JSON_VALUES))),
            "required": draw(st.booleans()),
            "empty": draw(st.booleans()),
        }
        if spec["type"] != "any" and draw(st.booleans()):
            spec["unique"] = True
        fields[name] = spec
    fields["currency"] = {"type": "string", "empty": True}
    document = {"fields": fields, "other_fields": draw(st.sampled_from(["keep", "drop", "reject"]))}
    try:
        schema = Schema.from_dict(document)
    except SchemaError:
        schema = Schema.from_dict({**document, "other_fields": "keep"})
    keys = ["amount", *names, "currency"] + (["extra"] if draw(st.booleans()) else [])
    pools = {n: JSON_VALUES[fields[n]["type"]] for n in names}
    pools.update(amount=["1.50", 2, "0.005"], currency=["", "USD", "JPY", None, "usd", 840], extra=["x", 1, None])
    rows = draw(st.integers(1, 12))
    # Runs of records alike in kinds, so that blocks form (MIN_BLOCK_ROWS), with a few odd ones.
    base = {k: draw(st.sampled_from(pools[k])) for k in keys}
    records = []
    for _ in range(rows):
        record = dict(base)
        for key in draw(st.lists(st.sampled_from(keys), max_size=2)):
            record[key] = draw(st.sampled_from(pools[key]))
        records.append(record)
    return schema, records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_records(), st.sampled_from(["json", "jsonl"]), st.sampled_from([1, 4]))
def test_a_random_schema_gives_the_same_errors_and_bytes_on_both_paths(case, fmt, run):
    schema, records = case
    data = array(records) if fmt == "json" else jsonl(records)
    with mock.patch.object(jsonblocks, "MIN_BLOCK_ROWS", run):
        assert_same(data, fmt, Config(schema=schema))
