"""The quoted-CSV fast path gives exactly what the reference path gives, block boundaries anywhere."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_handlers.core import plaincsv, quotedcsv, validate
from etl_handlers.core.blocks import EncodedBlock
from etl_handlers.core.config import Config
from etl_handlers.core.plaincsv import read_csv_blocks
from etl_handlers.core.rules import RecordChecker
from etl_handlers.core.streams import CountingReader, text_stream

from .test_plaincsv import assert_same, csv_files

QUOTE = '"'
HEADER = "transaction_id,amount,date,account_id,currency,memo\r\n"
QUOTED = HEADER + "".join(
    f'T{i},{i}.25,2024-01-{1 + i % 28:02d},A{i % 7},{"" if i % 3 else "EUR"},"m, {i}{QUOTE * 2 if i % 5 else ""}"\r\n'
    for i in range(400)
)


def quoted_rows(data: bytes) -> int:
    text = text_stream(CountingReader(io.BytesIO(data)))
    return sum(i.rows for i in read_csv_blocks(text, Config(), RecordChecker(Config())) if isinstance(i, EncodedBlock))


@pytest.fixture(params=[16, 61, 1024, 1 << 16])
def block_chars(request, monkeypatch):
    monkeypatch.setattr(quotedcsv, "BLOCK_CHARS", request.param)
    return request.param


def test_a_quoted_file_goes_through_blocks():
    assert quoted_rows(QUOTED.encode()) == 400
    assert validate(io.BytesIO(QUOTED.encode()), "csv").ok


def test_quoted_file_same_result(block_chars):
    assert_same(QUOTED.encode())


def test_plain_then_quoted(block_chars, monkeypatch):
    monkeypatch.setattr(plaincsv, "BLOCK_CHARS", 200)
    plain = "".join(f"P{i},1.00,2024-01-01,A,,plain\r\n" for i in range(100))
    assert_same((HEADER + plain + QUOTED.split("\r\n", 1)[1]).encode())


def test_line_breaks_and_quotes_inside_fields(block_chars):
    lines = QUOTED.split("\r\n")
    lines[5] = 'T5,1.00,2024-01-01,A,,"two\r\nlines, ""quoted"""'
    lines[9] = 'T9,1.00,2024-01-01,A,,"lone\rCR and\nLF"'
    lines[11] = 'T11,"1.00","2024-01-01","A","","all quoted"'
    assert_same("\r\n".join(lines).encode())


def test_bad_records_in_quoted_blocks(block_chars):
    lines = QUOTED.split("\r\n")
    lines[10] = 'T10,1e5,2024-02-30,,usd,"x"'
    lines[20] = 'T20,1.00,"2024-01-01"'
    lines[30] = 'T5,1.00,2024-01-01,A,,"a repeat"'
    lines[40] = 'T40,1.00,2024-01-01,A,,"x",extra'
    assert_same("\r\n".join(lines).encode())


@pytest.mark.parametrize(
    "broken",
    [
        'T900,1.00,2024-01-01,A,,"not closed\r\n',
        'T900,1.00,2024-01-01,A,,"x"y\r\n',
        'T900,1.00,2024-01-01,A,,a"b\r\n',  # a quote inside an unquoted field: a literal
        'T900,1.00,2024-01-01,A,,"nul\x00"\r\n',
        "\r\n\r\n   \r\n",
    ],
)
def test_malformed_or_odd_records(block_chars, broken):
    rest = QUOTED.split("\r\n", 1)[1]
    assert_same((QUOTED + broken + rest.replace("T", "U")).encode())
    assert_same((QUOTED + broken).encode())


def test_a_record_over_the_limit(block_chars):
    config = Config(max_record_bytes=1024)
    long = 'T900,1.00,2024-01-01,A,,"' + "x\r\n" * 400 + '"\r\n'
    assert_same((QUOTED + long + QUOTED.split("\r\n", 1)[1].replace("T", "U")).encode(), config)
    assert_same((QUOTED + long.replace("x\r\n" * 400, "y" * 1000)).encode(), config)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.sampled_from([8, 32, 97, 4096, 1 << 16]), st.sampled_from([1024, 1 << 20]))
def test_random_quoted_files_same_result_on_both_paths(data, chars, limit):
    # The files' quoted fields (commas, quotes, line breaks) send them through the quoted path.
    with mock.patch.object(quotedcsv, "BLOCK_CHARS", chars), mock.patch.object(plaincsv, "BLOCK_CHARS", chars):
        assert_same(data, Config(max_record_bytes=limit))
