"""`validate` never raises on bad data, whatever the bytes, and reads in bounded memory."""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from etl_handlers.core import validate


class Endless(io.RawIOBase):
    """`size` bytes of one repeated byte, never held in memory at once."""

    def __init__(self, byte: bytes, size: int, head: bytes = b"") -> None:
        self._head = head
        self._byte = byte
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        n = min(len(buffer), self._left)
        buffer[:n] = self._byte * n
        self._left -= n
        return n


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_binary_garbage_is_reported_not_raised(fmt):
    result = validate(io.BytesIO(os.urandom(200_000)), fmt)
    assert result.error_count >= 1


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_nul_bytes_are_reported_not_raised(fmt):
    result = validate(io.BytesIO(b"transaction_id,amount\x00,date,account_id\n\x00\x00\n"), fmt)
    assert result.error_count >= 1


def test_json_nested_a_hundred_thousand_deep_is_reported():
    result = validate(io.BytesIO(b'[{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}]"), "json")
    assert result.error_count == 1
    assert "nested too deeply" in result.errors[0].message


def test_jsonl_line_nested_deep_is_a_row_error():
    result = validate(io.BytesIO(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"), "jsonl")
    assert result.errors[0].row == 1


def test_a_field_beyond_the_csv_modules_limit_is_reported():
    data = b"transaction_id,amount,date,account_id\nt1,1.00,2024-01-01," + b"a" * 2_000_000 + b"\n"
    result = validate(io.BytesIO(data), "csv")
    assert result.error_count == 1
    assert "longer than the limit" in result.errors[0].message


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_a_50_mb_line_is_rejected_in_bounded_memory(fmt):
    head = {"csv": b"transaction_id,amount,date,account_id\n", "jsonl": b'{"a":"', "json": b'[{"a":"'}[fmt]
    tracemalloc.start()
    result = validate(io.BufferedReader(Endless(b"x", 50 * 1024 * 1024, head)), fmt)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.error_count == 1
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a 50 MB line"


def test_an_unknown_format_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown format"):
        validate(io.BytesIO(b""), "xml")
