"""The plain-CSV fast path gives exactly what the reference path gives, block boundaries anywhere."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_handlers.core import api, plaincsv, readers, transform, validate
from etl_handlers.core.config import Config
from etl_handlers.core.plaincsv import Block, read_csv_blocks
from etl_handlers.core.rules import RecordChecker
from etl_handlers.core.streams import CountingReader, text_stream

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@contextmanager
def reference_path():
    """Every CSV record through csv.reader and RecordChecker.check, as before the fast path."""

    def records(text, config, checker, trusted=False):
        return readers.read_csv(text, config)

    with mock.patch.object(api, "read_csv_blocks", records):
        yield


def outcome(data: bytes, config: Config | None = None) -> tuple:
    checked = validate(io.BytesIO(data), "csv", config)
    out = io.BytesIO()
    written = transform(io.BytesIO(data), out, "csv", config, processed_at=WHEN)
    if not any(e.row is None for e in checked.errors):
        assert checked.bytes_read == written.bytes_read == len(data)
    # How far a rejected file was read before giving up depends on read-ahead, not on the rules.
    return replace(checked, bytes_read=0), replace(written, bytes_read=0), out.getvalue()


def assert_same(data: bytes, config: Config | None = None) -> None:
    fast = outcome(data, config)
    with reference_path():
        reference = outcome(data, config)
    assert fast == reference


def blocks_used(data: bytes) -> int:
    text = text_stream(CountingReader(io.BytesIO(data)))
    return sum(isinstance(i, Block) for i in read_csv_blocks(text, Config(), RecordChecker(Config())))


PLAIN = "transaction_id,amount,date,account_id,currency,memo\r\n" + "".join(
    f"T{i},{i}.25,2024-01-{1 + i % 28:02d},A{i % 7},{'' if i % 3 else 'EUR'},memo {i}\r\n" for i in range(400)
)


@pytest.fixture(params=[16, 61, 1024, 1 << 16, 1 << 20])
def block_chars(request, monkeypatch):
    monkeypatch.setattr(plaincsv, "BLOCK_CHARS", request.param)
    return request.param


def test_a_plain_file_goes_through_blocks(block_chars):
    if block_chars >= 61:
        assert blocks_used(PLAIN.encode()) > 0


def test_plain_file_same_result(block_chars):
    assert_same(PLAIN.encode())


def test_a_quote_later_in_the_file_switches_to_the_reference_path(block_chars):
    assert_same((PLAIN + 'T900,1.00,2024-01-01,A,,"quoted, memo"\r\n' + PLAIN.split("\r\n", 1)[1]).encode())


def test_a_repeated_id_inside_a_block_is_reported_at_its_row(block_chars):
    data = PLAIN + "T5,1.00,2024-01-01,A,,again\r\n"
    assert_same(data.encode())
    assert [(e.row, e.field) for e in validate(io.BytesIO(data.encode()), "csv").errors] == [(401, "transaction_id")]


def test_bad_values_in_plain_blocks(block_chars):
    lines = PLAIN.split("\r\n")
    lines[10] = "T10,1e5,2024-02-30,,usd,x"
    lines[200] = "T200,1.00,2024-01-01"
    assert_same("\r\n".join(lines).encode())


def test_non_ascii_and_escapes_are_encoded_like_the_reference(block_chars):
    assert_same((PLAIN + "T901,1.00,2024-01-01,A,,café \\ tab\there\r\n").encode())


def test_a_line_over_the_limit(block_chars):
    config = Config(max_record_bytes=1024)
    assert_same((PLAIN + "T902,1.00,2024-01-01,A,," + "x" * 3000 + "\r\n").encode(), config)


def test_no_final_line_end_and_a_lone_carriage_return(block_chars):
    assert_same(PLAIN.rstrip("\r\n").encode())
    assert_same((PLAIN + "T903,1.00,2024-01-01,A,,x\rT904,2.00,2024-01-01,B,,y\r\n").encode())


def test_runs_of_records_ended_by_a_lone_carriage_return_longer_than_the_limit(block_chars):
    config = Config(max_record_bytes=1024)
    head = "".join(f"L{i},1.00,2024-01-01,A,,lf\n" for i in range(1500))
    run = "".join(f"C{i},2.00,2024-01-01,B,,cr\r" for i in range(3000))
    tail = "".join(f"E{i},3.00,2024-01-01,C,,end\r\n" for i in range(50))
    data = (PLAIN + head + run + tail).encode()
    assert len(PLAIN + head) < 1 << 16 < len(PLAIN + head + run)
    assert validate(io.BytesIO(data), "csv", config).ok
    assert_same(data, config)


@pytest.mark.parametrize("after", ["\n", "\r", "", "T997,2.00,2024-01-01,B,,n\r\n"])
def test_a_block_that_ends_on_a_carriage_return(monkeypatch, after):
    """Between the CR and the LF of a CR LF, or after a lone CR: the record is the same on both paths."""
    config = Config(max_record_bytes=1024)
    header, rest = PLAIN.split("\r\n", 1)
    quoted = 'T999,1.00,2024-01-01,A,,"q"\r\n'  # not plain: the block is handed to the reference path
    for size in (1022, 1023, 1024, 1025):
        record = "T998,1.00,2024-01-01,A,," + "m" * (size - 25 - len(after[:1])) + "\r"
        data = header + "\r\n" + quoted + record + after + rest
        assert len(record + after[:1]) == size
        # The header is read first; the first block then ends just after the record's CR.
        monkeypatch.setattr(plaincsv, "BLOCK_CHARS", len(quoted) + len(record))
        assert_same(data.encode(), config)


def test_a_delete_character_is_escaped_like_the_reference(block_chars):
    data = (PLAIN + "T905,1.00,2024-01-01,A,,del\x7fete\r\n").encode()
    assert_same(data)
    out = io.BytesIO()
    transform(io.BytesIO(data), out, "csv")
    assert out.getvalue().count(b"del\\u007fete") == 1


def test_header_with_fee_and_processed_at_columns_is_overwritten_in_place(block_chars):
    data = "fee,transaction_id,amount,date,account_id,processed_at\n" + "".join(
        f"old,T{i},{i}.10,2024-01-01,A,old\n" for i in range(50)
    )
    assert_same(data.encode())


FIELDS = {
    "transaction_id": st.sampled_from(["T1", "T2", "T3", " T4 ", "", "  ", "T1", "Ü5", "T,6", 'T"7']),
    "amount": st.sampled_from(["1.00", "-2.5", "+3", " 4 ", "1e5", "x", "", "007.50", "0.005", "12,5"]),
    "date": st.sampled_from(["2024-01-01", "2024-02-30", "2024-03-01T10:00:00Z", "bad", "2024-03-01T25:00", ""]),
    "account_id": st.sampled_from(["A", "B ", "  ", "", "Ä"]),
    "currency": st.sampled_from(["", "USD", "usd", "EU", "GBP"]),
    "memo": st.text(st.sampled_from(list('ab ,"\r\n\\\té€\x01\x7f')), max_size=6),
}


# Values that pass every rule, so that plain blocks reach the fast path's writer.
CLEAN = {
    "amount": st.sampled_from(["1.00", "-2.5", "+3", " 4 ", "007.50", "0.005", "-0.001"]),
    "date": st.sampled_from(["2024-01-01", "2024-03-01T10:00:00Z"]),
    "account_id": st.sampled_from(["A", "B ", "Ä"]),
    "currency": st.sampled_from(["", "USD", "GBP"]),
    "memo": st.text(st.sampled_from(list("ab \\\té€\x01\x7f")), max_size=6),
}


@st.composite
def csv_files(draw):
    names = ["transaction_id", "amount", "date", "account_id"]
    names += draw(st.lists(st.sampled_from(["currency", "memo"]), unique=True))
    names = draw(st.permutations(names))
    # Rows end with one terminator up to a point and another after it: runs of lone CRs included.
    first, then = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=2, max_size=2))
    rows = draw(st.integers(0, 60))
    switch = draw(st.integers(0, rows))
    clean = draw(st.booleans())
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=first)
    writer.writerow(names)
    for index in range(rows):
        terminator = first if index < switch else then
        writer = csv.writer(text, lineterminator=terminator)
        kind = draw(st.integers(0, 20))
        if kind == 0:
            text.write(terminator)  # a blank line
            continue
        if clean:
            row = [f"T{index}" if n == "transaction_id" else draw(CLEAN[n]) for n in names]
        else:
            row = [draw(FIELDS[n]) for n in names]
        if kind == 1:
            row = row[:-1]
        writer.writerow(row)
    return text.getvalue().encode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.sampled_from([8, 32, 97, 4096, 1 << 16]), st.sampled_from([1024, 1 << 20]))
def test_random_files_same_result_on_both_paths(data, chars, limit):
    with mock.patch.object(plaincsv, "BLOCK_CHARS", chars):
        assert_same(data, Config(max_record_bytes=limit))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.sampled_from([8, 97, 4096, 1 << 16]))
def test_a_file_that_validates_transforms_the_same_when_already_validated(data, chars):
    with mock.patch.object(plaincsv, "BLOCK_CHARS", chars):
        if not validate(io.BytesIO(data), "csv").ok:
            return
        checked, trusted = io.BytesIO(), io.BytesIO()
        first = transform(io.BytesIO(data), checked, "csv", processed_at=WHEN)
        second = transform(io.BytesIO(data), trusted, "csv", processed_at=WHEN, already_validated=True)
    assert trusted.getvalue() == checked.getvalue()
    assert second == first


def test_already_validated_plain_blocks_are_not_checked_again():
    # The promise is about bytes that validated; on others the rules are (by design) not applied again.
    data = (PLAIN + "T5,1.00,2024-01-01,A,,again\r\n").encode()
    assert not validate(io.BytesIO(data), "csv").ok
    out = io.BytesIO()
    result = transform(io.BytesIO(data), out, "csv", processed_at=WHEN, already_validated=True)
    assert result.rows_written == 401
