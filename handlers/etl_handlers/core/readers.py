"""Streaming readers: each yields one item per data record, a dict or a RowError, in file order.

They read through a text stream a line or a bounded chunk at a time, so memory depends on the
largest record (capped by `Config.max_record_bytes`), never on the file's size. A problem that
makes the rest of the file unreadable raises FileError.

JSON numbers are yielded as `JsonNumber`s, their own text: nothing is converted while reading.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from .config import Config
from .jsonout import JsonNumber
from .results import FileError, RowError

Item = dict[str, Any] | RowError

#: How deeply a JSON record may nest objects and arrays, the record itself being level 1. Both
#: passes read through these readers, so `transform` never meets a record nested deeper than one
#: `validate` accepted, and the writer, which recurses once per level, stays far from Python's
#: recursion limit. Deeper records are row errors, however deep (even too deep to decode).
MAX_DEPTH = 64
TOO_DEEP = f"nested too deeply: more than {MAX_DEPTH} levels of objects and arrays"
NOT_AN_OBJECT = "the record is not a JSON object"

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_CHUNK = 64 * 1024
_CONTAINERS = frozenset({dict, list})
# A whole JSON string, a bracket, or the `"` of a string that does not end in the text at hand.
_SKIP_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}"]', re.DOTALL)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decoder() -> json.JSONDecoder:
    # Numbers keep their text: never a binary float, never an int past Python's digit limit.
    return json.JSONDecoder(parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=_reject_constant)


def _too_deep(record: dict[str, Any]) -> bool:
    """True when `record` nests objects and arrays deeper than MAX_DEPTH levels (it is level 1)."""
    level: list[Any] = [record]
    for _ in range(MAX_DEPTH):
        deeper: list[Any] = []
        for container in level:
            for value in container.values() if type(container) is dict else container:
                if type(value) is dict or type(value) is list:
                    deeper.append(value)
        if not deeper:
            return False
        level = deeper
    return True


def _record(value: Any, row: int) -> Item:
    """A decoded JSON value as a record, or the row error that says why it is not one."""
    if type(value) is not dict:
        return RowError(row, None, NOT_AN_OBJECT)
    if not _CONTAINERS.isdisjoint(map(type, value.values())) and _too_deep(value):
        return RowError(row, None, TOO_DEEP)
    return value


def _too_deep_to_decode(opening: str, row: int) -> RowError:
    """The row error for a value the decoder gave up on (RecursionError), by its first character."""
    return RowError(row, None, NOT_AN_OBJECT if opening == "[" else TOO_DEEP)


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


# --- CSV -------------------------------------------------------------------------------------


def _csv_message(lines: list[str]) -> str:
    """The csv module's own message for what `lines` does wrong, so both parsers say the same."""
    try:
        list(csv.reader(lines, strict=True))
    except csv.Error as exc:
        return str(exc)
    raise AssertionError(f"the csv module accepts {lines!r}")  # pragma: no cover


_QUOTE_NOT_CLOSED = _csv_message(['"a\n'])
_TEXT_AFTER_QUOTE = _csv_message(['"a"b\n'])
_TEXT_AFTER_LINE_END = _csv_message(["a\rb\n"])
_UNQUOTED_END = re.compile(r"[,\r\n]")


def _csv_field_limit() -> int:
    """The csv module's field size limit: one value for the whole process, so read and never set."""
    return csv.field_size_limit()


class _RecordTooLong(Exception):
    """A CSV record is longer than the limit."""


class _LongRecord(Exception):
    """A CSV record is longer than the csv module's field size limit: a field of it may be too."""


class _CsvLines:
    """The lines of a CSV text, for `csv.reader`, with the characters of the current record counted.

    `csv.reader` takes lines until its record is complete and no further, so the lines taken since
    `next_record` are exactly the record's: it is bounded as a whole, however many lines it spans,
    and the lines are kept (they are at most `limit` characters) in case it has to be parsed again.
    """

    __slots__ = ("_csv_limit", "_limit", "_readline", "lines", "size")

    def __init__(self, text: Any, limit: int) -> None:
        self._readline: Callable[[int], str] = text.readline
        self._limit = limit
        self._csv_limit = _csv_field_limit()
        self.lines: list[str] = []
        self.size = 0

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = self._readline(self._limit - self.size + 1)  # the same as `more`, inline: once per line
        if not line:
            raise StopIteration
        self.size += len(line)
        if self.size > self._limit:
            raise _RecordTooLong
        self.lines.append(line)
        if self.size > self._csv_limit:
            raise _LongRecord
        return line

    def more(self) -> str:
        """The next line of the current record, "" at the end of the text."""
        line = self._readline(self._limit - self.size + 1)
        self.size += len(line)
        if self.size > self._limit:
            raise _RecordTooLong
        if line:
            self.lines.append(line)
        return line

    def next_record(self) -> None:
        """Start counting a new record."""
        self.size = 0
        self.lines.clear()


def _parse_record(first: list[str], more: Callable[[], str]) -> list[str]:
    """One record parsed as `csv.reader(..., strict=True)` parses it, from its lines so far and `more`.

    For records longer than the csv module's field size limit: that limit is process-wide, and
    raising it for one file would raise it for every reader in the process. The record is already
    bounded by `max_record_bytes`. Lines end at the first CR, LF or CRLF (`newline=""`), as
    `csv.reader` is given them; the differential tests hold the two parsers to the same results.
    """
    pending = iter(first)

    def line_after() -> str:
        line = next(pending, "") or more()
        if not line:
            raise csv.Error(_QUOTE_NOT_CLOSED)
        return line

    line = line_after()
    fields: list[str] = []
    if line[0] in "\r\n":
        return fields  # an empty line
    position = 0
    while True:  # at the start of a field
        if line.startswith('"', position):
            parts = []
            position += 1
            while True:
                quote = line.find('"', position)
                if quote < 0:  # the field goes on past this line, line end included
                    parts.append(line[position:])
                    line, position = line_after(), 0
                    continue
                parts.append(line[position:quote])
                after = quote + 1
                following = line[after : after + 1]
                if following == '"':
                    parts.append('"')
                    position = after + 1
                    continue
                fields.append("".join(parts))
                if following == ",":
                    position = after + 1
                    break
                if following in ("", "\r", "\n"):
                    return _record_end(fields, line, after)
                raise csv.Error(_TEXT_AFTER_QUOTE)
            continue
        stop = _UNQUOTED_END.search(line, position)
        if stop is None:  # the last line of the text, without a line end
            fields.append(line[position:])
            return fields
        end = stop.start()
        fields.append(line[position:end])
        if line[end] != ",":
            return _record_end(fields, line, end)
        position = end + 1


def _record_end(fields: list[str], line: str, at: int) -> list[str]:
    if line[at:].strip("\r\n"):  # not from readline(newline=""), which ends a line at its line end
        raise csv.Error(_TEXT_AFTER_LINE_END)
    return fields


def csv_rows(text: Any, limit: int) -> Iterator[list[str]]:
    """The records of CSV `text` as lists of fields (`[]` for an empty line), RFC 4180 as `csv.reader`.

    Raises `_RecordTooLong` for a record of more than `limit` characters, line ends included.
    """
    lines = _CsvLines(text, limit)
    reader = csv.reader(lines, strict=True)
    while True:
        try:
            for fields in reader:
                lines.next_record()
                yield fields
            return
        except _LongRecord:
            # The reader stopped inside the record and starts afresh at the next line it is given.
            fields = _parse_record(lines.lines.copy(), lines.more)
            lines.next_record()
            yield fields


def read_csv(text: io.TextIOBase, config: Config) -> Iterator[Item]:
    """RFC 4180 CSV: the first record is the header; empty lines are skipped."""
    header = read_csv_header(text, config)
    if header is not None:
        yield from csv_records(text, header, config.max_record_bytes)


def read_csv_header(text: Any, config: Config) -> list[str] | None:
    """Read up to the header (the first non-empty record) and return its names; None for no header."""
    limit = config.max_record_bytes
    try:
        for fields in csv_rows(text, limit):
            if fields:
                return _csv_header(fields, config)
    except csv.Error as exc:
        raise FileError(f"malformed CSV in the header: {exc}") from exc
    except _RecordTooLong as exc:
        raise FileError(f"the header is longer than the limit of {limit} characters") from exc
    return None


def csv_records(text: Any, header: list[str], limit: int, first_row: int = 1) -> Iterator[Item]:
    """The data records after the header, record by record, numbered from `first_row`."""
    width = len(header)
    row = first_row - 1
    try:
        for fields in csv_rows(text, limit):
            if not fields:
                continue
            row += 1
            if len(fields) != width:
                yield RowError(row, None, f"expected {width} fields as in the header, found {len(fields)}")
            else:
                yield dict(zip(header, fields, strict=False))  # lengths are equal: checked above
    except csv.Error as exc:
        raise FileError(f"malformed CSV after data record {row}: {exc}") from exc
    except _RecordTooLong as exc:
        raise FileError(f"data record {row + 1} is longer than the limit of {limit} characters") from exc


def _csv_header(fields: list[str], config: Config) -> list[str]:
    header = [name.strip() for name in fields]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FileError(f"the header names column {name!r} twice", field=name)
        seen.add(name)
    schema = config.rules
    missing = [name for name in schema.required_names if name not in seen]
    if missing:
        raise FileError(f"the header lacks required column {missing[0]!r}", field=missing[0])
    if schema.other_fields == "reject":
        for name in header:
            if schema.rule(name) is None:
                raise FileError(f"the header names column {name!r}, which the schema does not declare", field=name)
    return header


# --- JSON ------------------------------------------------------------------------------------


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
            yield _too_deep_to_decode(line.lstrip(" \t\n\r")[:1], row)
            continue
        except ValueError as exc:
            yield RowError(row, None, f"invalid JSON: {exc}")
            continue
        yield _record(value, row)


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
        if not self._begin():
            return
        row = 0
        while True:
            row += 1
            yield self._element(row)
            if not self._after(row):
                return

    def _begin(self) -> bool:
        """Read the array's `[`; False when the array is empty (and all that follows it is checked)."""
        if self._peek() != "[":
            raise FileError("a .json file must hold one top-level array of objects")
        self._pos += 1
        if self._peek() == "]":
            self._pos += 1
            self._expect_end()
            return False
        return True

    def _element(self, row: int) -> Item:
        """The next element as a record, or the row error that says why it is not one."""
        value = self._value(row)
        return value if type(value) is RowError else _record(value, row)

    def _after(self, row: int) -> bool:
        """Read the separator after data record `row`: True for `,`, False for the array's end."""
        following = self._peek()
        if following == ",":
            self._pos += 1
            return True
        if following == "]":
            self._pos += 1
            self._expect_end()
            return False
        found = "the end of the file" if following is None else repr(following)
        raise FileError(f"expected ',' or ']' after data record {row}, found {found}")

    def _value(self, row: int) -> Any:
        """The next element decoded, or the RowError for one too deeply nested to decode."""
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
            except RecursionError:
                error = _too_deep_to_decode(self._buf[self._pos], row)
                self._skip(row)
                return error
            except ValueError as exc:
                raise FileError(f"invalid JSON in data record {row}: {exc}") from exc
            if end == len(self._buf) and not self._eof:
                self._grow(row)  # a number may go on in the next chunk
                continue
            self._advance(end, row)
            return value

    def _skip(self, row: int) -> None:
        """Move past an element too deep for the decoder, counting its brackets outside strings.

        The element is not checked further: it is a row error already. Reading goes on after it.
        """
        depth = 0
        offset = 0  # from self._pos, which `_fill` moves to 0 with the unread text
        while True:
            match = _SKIP_TOKEN.search(self._buf, self._pos + offset)
            if match is None or match.group() == '"':  # the text at hand ends first
                if self._eof:
                    raise FileError(f"invalid JSON in data record {row}: the file ends inside it")
                offset = (match.start() if match else len(self._buf)) - self._pos
                self._grow(row)
                continue
            token = match.group()
            if token == "[" or token == "{":
                depth += 1
            elif token == "]" or token == "}":
                depth -= 1
                if depth <= 0:
                    self._advance(match.end(), row)
                    return
            offset = match.end() - self._pos

    def _advance(self, end: int, row: int) -> None:
        if end - self._pos > self._limit:
            raise FileError(f"data record {row} is larger than the limit of {self._limit} bytes")
        self._pos = end

    def _grow(self, row: int) -> None:
        pending = len(self._buf) - self._pos
        if pending > self._limit:
            raise FileError(f"data record {row} is larger than the limit of {self._limit} bytes")
        self._fill(max(pending, _CHUNK))  # doubling keeps repeated attempts linear in the record's size

    def _expect_end(self) -> None:
        if self._peek() is not None:
            raise FileError("unexpected data after the top-level array")
