"""Streaming readers: each yields one item per data record, a dict or a RowError, in file order.

They read through a text stream a line or a bounded chunk at a time, so memory depends on the
largest record (capped by `Config.max_record_bytes`), never on the file's size. A problem that
makes the rest of the file unreadable raises FileError.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from .config import Config
from .results import FileError, RowError

Item = dict[str, Any] | RowError

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_CHUNK = 64 * 1024


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class ExponentDecimal(Decimal):
    """A JSON number written with an exponent (`1e5`): exact, but not a plain decimal amount."""

    __slots__ = ()


def _json_number(text: str) -> Decimal:
    return ExponentDecimal(text) if "e" in text or "E" in text else Decimal(text)


def _decoder() -> json.JSONDecoder:
    # Floats are read as Decimal from their own text: a JSON number never passes through a binary float.
    return json.JSONDecoder(parse_float=_json_number, parse_constant=_reject_constant)


def read_records(text: io.TextIOBase, fmt: str, config: Config) -> Iterator[Item]:
    """Yield the data records of `text` read as `fmt` (csv, json, jsonl or ndjson)."""
    if fmt == "csv":
        return read_csv(text, config)
    if fmt == "json":
        return read_json_array(text, config)
    if fmt in ("jsonl", "ndjson"):
        return read_json_lines(text, config)
    raise ValueError(f"unknown format {fmt!r}: expected csv, json, jsonl or ndjson")


def bounded_lines(text: io.TextIOBase, limit: int) -> Iterator[str]:
    """Yield the lines of `text`, raising FileError for a line longer than `limit` characters."""
    readline = text.readline
    while line := readline(limit + 1):
        if len(line) > limit:
            raise FileError(f"a line is longer than the limit of {limit} characters")
        yield line


def read_csv(text: io.TextIOBase, config: Config) -> Iterator[Item]:
    """RFC 4180 CSV: the first record is the header; empty lines are skipped."""
    header = read_csv_header(text, config)
    if header is not None:
        yield from csv_records(text, header, config.max_record_bytes)


def _csv_reader(text: Any, limit: int) -> Any:
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)
    return csv.reader(bounded_lines(text, limit), strict=True)


def read_csv_header(text: Any, config: Config) -> list[str] | None:
    """Read up to the header (the first non-empty record) and return its names; None for no header."""
    try:
        for fields in _csv_reader(text, config.max_record_bytes):
            if fields:
                return _csv_header(fields, config)
    except csv.Error as exc:
        raise FileError(f"malformed CSV in the header: {exc}") from exc
    return None


def csv_records(text: Any, header: list[str], limit: int, first_row: int = 1) -> Iterator[Item]:
    """The data records after the header, record by record, numbered from `first_row`."""
    width = len(header)
    row = first_row - 1
    try:
        for fields in _csv_reader(text, limit):
            if not fields:
                continue
            row += 1
            if len(fields) != width:
                yield RowError(row, None, f"expected {width} fields as in the header, found {len(fields)}")
            else:
                yield dict(zip(header, fields, strict=False))  # lengths are equal: checked above
    except csv.Error as exc:
        raise FileError(f"malformed CSV after data record {row}: {exc}") from exc


def _csv_header(fields: list[str], config: Config) -> list[str]:
    header = [name.strip() for name in fields]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FileError(f"the header names column {name!r} twice", field=name)
        seen.add(name)
    missing = [name for name in config.required_fields if name not in seen]
    if missing:
        raise FileError(f"the header lacks required column {missing[0]!r}", field=missing[0])
    return header


def read_json_lines(text: io.TextIOBase, config: Config) -> Iterator[Item]:
    """JSON Lines: one object per non-empty line; a bad line is a row error, the rest is read on."""
    decode = _decoder().decode
    row = 0
    for line in bounded_lines(text, config.max_record_bytes):
        if not line.strip():
            continue
        row += 1
        try:
            value = decode(line)
        except json.JSONDecodeError as exc:
            yield RowError(row, None, f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:
            yield RowError(row, None, "invalid JSON: nested too deeply")
            continue
        except ValueError as exc:
            yield RowError(row, None, f"invalid JSON: {exc}")
            continue
        yield value if isinstance(value, dict) else RowError(row, None, "the record is not a JSON object")


def read_json_array(text: io.TextIOBase, config: Config) -> Iterator[Item]:
    """One top-level JSON array of objects, parsed element by element."""
    return _JsonArray(text, config.max_record_bytes).records()


class _JsonArray:
    """An incremental parser: the C scanner decodes each element from a buffer that is refilled as needed."""

    def __init__(self, text: io.TextIOBase, limit: int) -> None:
        self._read = text.read
        self._limit = limit
        self._raw_decode = _decoder().raw_decode
        self._buf = ""
        self._pos = 0
        self._eof = False

    def _fill(self, want: int) -> None:
        parts = [self._buf[self._pos :]]
        got = 0
        while got < want:
            chunk = self._read(max(_CHUNK, want - got))
            if not chunk:
                self._eof = True
                break
            parts.append(chunk)
            got += len(chunk)
        self._buf = "".join(parts)
        self._pos = 0

    def _peek(self) -> str | None:
        """The next character that is not white space, or None at the end of the file."""
        while True:
            match = _WHITESPACE.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if self._eof:
                return None
            self._fill(_CHUNK)

    def records(self) -> Iterator[Item]:
        if self._peek() != "[":
            raise FileError("a .json file must hold one top-level array of objects")
        self._pos += 1
        row = 0
        if self._peek() == "]":
            self._pos += 1
            self._expect_end()
            return
        while True:
            row += 1
            value = self._value(row)
            yield value if isinstance(value, dict) else RowError(row, None, "the record is not a JSON object")
            following = self._peek()
            if following == ",":
                self._pos += 1
            elif following == "]":
                self._pos += 1
                self._expect_end()
                return
            else:
                found = "the end of the file" if following is None else repr(following)
                raise FileError(f"expected ',' or ']' after data record {row}, found {found}")

    def _value(self, row: int) -> Any:
        if self._peek() is None:
            raise FileError(f"the file ends inside the array, before data record {row}")
        while True:
            try:
                value, end = self._raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._eof:
                    raise FileError(f"invalid JSON in data record {row}: {exc.msg}") from exc
                self._grow(row)
                continue
            except RecursionError as exc:
                raise FileError(f"invalid JSON in data record {row}: nested too deeply") from exc
            except ValueError as exc:
                raise FileError(f"invalid JSON in data record {row}: {exc}") from exc
            if end == len(self._buf) and not self._eof:
                self._grow(row)  # a number may go on in the next chunk
                continue
            if end - self._pos > self._limit:
                raise FileError(f"data record {row} is larger than the limit of {self._limit} bytes")
            self._pos = end
            return value

    def _grow(self, row: int) -> None:
        pending = len(self._buf) - self._pos
        if pending > self._limit:
            raise FileError(f"data record {row} is larger than the limit of {self._limit} bytes")
        self._fill(max(pending, _CHUNK))  # doubling keeps repeated attempts linear in the record's size

    def _expect_end(self) -> None:
        if self._peek() is not None:
            raise FileError("unexpected data after the top-level array")
