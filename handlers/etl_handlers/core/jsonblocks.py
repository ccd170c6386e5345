"""Fast paths for JSON Lines and JSON arrays; they give exactly what the reference readers give.

A batch of records is decoded in one call of the C scanner, with numbers kept as the bytes of their
text (`str.encode`, a C call: a JSON string never decodes to bytes). Runs of records with the same
keys, in the same order, whose values are of simple kinds, become an `EncodedBlock`: checked by
`RecordChecker.check_columns` with the cells a CSV file would hold, and written a column at a time.
Other records are given back as the reference readers give them (numbers as `JsonNumber`, the same
`_record` checks), to be checked and written one at a time. Text the fast path cannot prove it reads
exactly as the reference does goes to the reference readers themselves.

Why a batch reads as the reference reads it:

- JSON Lines: the non-blank lines of a block are joined into `[line\\n,line\\n,...]`. When each
  line ends (before white space) with `}`, the parse succeeds, the values are as many as the lines
  and every value is an object with no object or array in it, each line holds exactly one value:
  a line's last `}` is not in a string (the line end that follows would be a raw control character
  in it, which the strict decoder refuses), so it closes an object, and every object is a top-level
  value; each line thus ends a value, and with as many values as lines, each holds one. Failing
  that, each line is scanned alone (its value must start at its first character and end at its
  last one but white space), and failing that the block goes to `read_json_lines`.
- JSON array: elements are taken up to a `}` followed by `,`. If `[` + that text + `]` parses to
  its very end, the cut is between two top-level elements: a cut inside a string leaves it
  unterminated, and a cut inside an element leaves a container open, so the parse would fail. The
  batch's text is at most `max_record_bytes`, so no element in it is over the limit.

The differential tests in tests/handlers/core/test_jsonblocks.py hold both paths to the same output.
"""

from __future__ import annotations

import io
import json
from collections.abc import Generator, Iterator
from itertools import chain, groupby, repeat
from json.encoder import encode_basestring_ascii
from typing import Any

from .blocks import EncodedBlock, string_texts, writer_filled
from .config import Config
from .jsonout import JsonNumber
from .plaincsv import _Prefixed
from .readers import _WHITESPACE, Item, _JsonArray, _record, _reject_constant, read_json_lines, read_records
from .results import RowError
from .rules import RecordChecker
from .schema import Schema

#: Characters read at a time (JSON Lines), or the most a JSON array's batch holds.
BLOCK_CHARS = 1 << 16
#: A run of records with the same keys shorter than this is checked record by record.
MIN_BLOCK_ROWS = 4
# The smallest batch of a JSON array tried after cuts that did not parse; below it, one element
# goes through the reference reader before the next try.
_MIN_WINDOW = 1024
_CANDIDATE_CUTS = 4
_JSON_SPACE = " \t\r"  # and the line feed, which a line of a block no longer holds
_NULL = type(None)
_CURRENCY_KINDS: frozenset[type] = frozenset({str, _NULL})
_PLAIN_KINDS: frozenset[type] = frozenset({str, bytes, _NULL, bool})
# Numbers are decoded as their text's bytes (see `_scanner`).
_RULE_KINDS: dict[str, frozenset[type]] = {
    "string": frozenset({str, bytes, _NULL}),
    "decimal": frozenset({str, bytes, _NULL}),
    "integer": frozenset({str, bytes, _NULL}),
    "date": frozenset({str, _NULL}),
    "date-time": frozenset({str, _NULL}),
    "boolean": frozenset({str, bool, _NULL}),
    "any": _PLAIN_KINDS,
}
_NOT_INTEGER = (b".", b"e", b"E")
_CELL_LITERALS = {None: "", True: "true", False: "false"}
_TEXT_LITERALS = {None: "null", True: "true", False: "false"}
_PARSE_ERRORS = (ValueError, StopIteration, RecursionError)  # JSONDecodeError is a ValueError


def read_json_blocks(
    text: Any, fmt: str, config: Config, checker: RecordChecker, trusted: bool = False
) -> Iterator[Item | EncodedBlock]:
    """The data records of a JSON array or JSON Lines file: EncodedBlocks of checked rows, and items.

    `trusted`: these bytes passed validation already, so blocks skip the column checks.
    """
    rules = _Layouts(config, checker, trusted)
    if fmt == "json":
        return _ArrayBlocks(text, config.max_record_bytes, rules).items()
    if fmt in ("jsonl", "ndjson"):
        return _line_blocks(text, config, rules)
    return read_records(text, fmt, config)


def _scanner() -> Any:
    decoder = json.JSONDecoder(parse_float=str.encode, parse_int=str.encode, parse_constant=_reject_constant)
    return decoder.scan_once  # type: ignore[attr-defined]


class _Layouts:
    """Turns decoded records into blocks and items, in order, from a given row on."""

    def __init__(self, config: Config, checker: RecordChecker, trusted: bool) -> None:
        self._schema = config.rules
        self._required = frozenset(self._schema.required_names)
        self._checker = checker
        self._trusted = trusted

    def plan(self, values: list[Any], clean: bool = False) -> list[tuple[list[Any], EncodedBlock | None]]:
        """`values` cut into runs, each with its block, or None for a run to give record by record.

        `clean`: the text the values were decoded from is ASCII, with no backslash and no DEL, so
        no string in them needs escaping. Nothing is checked or registered yet.
        """
        layout = _one_layout(values)
        if layout is not None:
            return [(values, self._block(layout, values, clean))]
        if set(map(type, values)) != {dict}:
            return [(values, None)]
        layouts = list(map(tuple, values))
        runs: list[tuple[list[Any], EncodedBlock | None]] = []
        start = 0
        for layout, run in groupby(layouts):
            size = sum(1 for _ in run)
            records = values[start : start + size]
            runs.append((records, self._block(layout, records, clean)))
            start += size
        return runs

    def _block(self, layout: tuple[str, ...], records: list[dict[str, Any]], clean: bool) -> EncodedBlock | None:
        if len(records) < MIN_BLOCK_ROWS or not self._required.issubset(layout):
            return None
        return _encode(layout, records, self._schema, clean)

    def items(self, plan: list[tuple[list[Any], EncodedBlock | None]], row: int) -> Iterator[Item | EncodedBlock]:
        """Blocks and items for a plan's runs, the first record being data record `row + 1`."""
        for records, block in plan:
            yield from self._run(records, block, row)
            row += len(records)

    def _run(self, records: list[Any], block: EncodedBlock | None, row: int) -> Iterator[Item | EncodedBlock]:
        if block is None:
            yield from _items(records, row)
            return
        rows = len(records)
        good = rows if self._trusted else self._checker.check_columns(block.columns, rows)
        if good:
            yield block if good == rows else block.head(good)
        if good < rows:
            yield from _items(records[good:], row + good)


def _one_layout(values: list[Any]) -> tuple[str, ...] | None:
    """The keys, in order, of every value when all are objects with the same keys in the same order, else None.

    Checked over the keys of all the values in a row (identical objects, as the scanner shares a
    batch's keys, compare at once): when each run of `width` keys is the first value's, and there are
    `width` times as many keys as values, each value has those keys, since an object repeats no key.
    """
    if not values or type(values[0]) is not dict:
        return None
    layout = tuple(values[0])
    width = len(layout)
    try:
        keys = list(chain.from_iterable(map(dict.keys, values)))
    except TypeError:  # a value that is not an object
        return None
    rows = len(values)
    if not width or len(keys) != width * rows:
        return None
    if not all(keys[index::width].count(key) == rows for index, key in enumerate(layout)):
        return None
    return layout


def _items(values: list[Any], row: int) -> Iterator[Item]:
    """Each value as the reference reader yields it: a record with `JsonNumber`s, or a row error."""
    for value in values:
        row += 1
        item = _record(value, row)
        yield _referenced(item) if type(item) is dict else item


def _referenced(value: Any) -> Any:
    """A decoded value with its numbers as `JsonNumber`s; nested at most `MAX_DEPTH` levels (checked)."""
    kind = type(value)
    if kind is bytes:
        return JsonNumber(value.decode())
    if kind is dict:
        return {key: _referenced(member) for key, member in value.items()}
    if kind is list:
        return [_referenced(member) for member in value]
    return value


def _cell(value: Any) -> str:
    """What a CSV cell would hold for a JSON string, number, null or boolean."""
    kind = type(value)
    if kind is str:
        text: str = value
        return text
    if kind is bytes:
        digits: str = value.decode()
        return digits
    return _CELL_LITERALS[value]


def _text(value: Any) -> str:
    """The JSON text the writer gives a string, number, null or boolean."""
    kind = type(value)
    if kind is str:
        text: str = encode_basestring_ascii(value)
        return text
    if kind is bytes:
        digits: str = value.decode()
        return digits
    return _TEXT_LITERALS[value]


def _kinds_of(values: list[Any]) -> set[type]:
    """The types of `values` (not empty); a join proves the common columns, all strings or all numbers, in C."""
    try:
        "".join(values)
    except TypeError:
        pass
    else:
        return {str}
    try:
        b"".join(values)
    except TypeError:
        return set(map(type, values))
    return {bytes}


def _kinds(schema: Schema, name: str) -> frozenset[type] | None:
    """The JSON value kinds a column of field `name` may hold and still be checked as CSV cells; None: none.

    A kind is taken only when the column check of its cell can pass no value the reference check
    (`ValueRule.problem`, `RecordChecker.check`) would refuse: a string field takes strings, integers
    (their digits; `_encode` refuses other numbers) and null (""); decimal and integer fields strings,
    numbers and null; dates strings and null; booleans also true and false; the currency strings and null.
    A field the schema does not declare takes any value but an object or array, unless it is rejected.
    """
    rule = schema.rule(name)
    if rule is None:
        if schema.other_fields == "reject":
            return None
        kinds = _PLAIN_KINDS
    else:
        kinds = _RULE_KINDS[rule.type]
    if name == schema.currency_field:
        kinds = kinds & _CURRENCY_KINDS
    return kinds


def _encode(
    layout: tuple[str, ...], records: list[dict[str, Any]], schema: Schema, clean: bool = False
) -> EncodedBlock | None:
    """Records of one key layout as an EncodedBlock, or None when a value is not of a kind it takes.

    `clean`: no string in the records needs escaping (see `_Layouts.plan`). Which kinds each field
    takes is `_kinds`: a value of another kind, which may be an error, goes to the reference check.
    """
    width = len(layout)
    flat = list(chain.from_iterable(map(dict.values, records)))
    columns: dict[str, list[str]] = {}
    texts: dict[str, list[str]] = {}
    raw: set[str] = set()
    numeric: set[str] = set()
    filled = writer_filled(schema)
    for index, name in enumerate(layout):
        values = flat[index::width]
        kinds = _kinds_of(values)
        allowed = _kinds(schema, name)
        if allowed is None or not kinds <= allowed:
            return None
        rule = schema.rule(name)
        if bytes in kinds and rule is not None and rule.type == "string":
            numbers = b"".join(value for value in values if type(value) is bytes)
            if any(mark in numbers for mark in _NOT_INTEGER):  # only integers stand for their digits
                return None
        strings = kinds == {str}
        numbers_only = kinds == {bytes}
        cells = values if strings else list(map(bytes.decode, values)) if numbers_only else list(map(_cell, values))
        columns[name] = cells
        if numbers_only:
            numeric.add(name)
        if name in filled:
            continue
        if numbers_only:
            texts[name] = cells  # a number's text is its cell
        elif strings:
            encoded = None if clean else string_texts(values)
            if encoded is None:
                raw.add(name)
            else:
                texts[name] = encoded
        else:
            texts[name] = list(map(_text, values))
    return EncodedBlock(columns, len(records), texts, frozenset(raw), frozenset(numeric))


# --- JSON Lines ------------------------------------------------------------------------------


def _line_blocks(text: Any, config: Config, layouts: _Layouts) -> Iterator[Item | EncodedBlock]:
    limit = config.max_record_bytes
    scan = _scanner()
    row = 0
    pending = ""
    while True:
        chunk = text.read(BLOCK_CHARS)
        data = pending + chunk
        if not chunk:
            if data:
                yield from _reference_lines(io.StringIO(data, newline=""), config, row)
            return
        cut = data.rfind("\n") + 1
        if cut == 0:  # no complete line yet: read on, unless the line is already too long
            if len(data) > limit:
                yield from _reference_lines(_Prefixed(data, text), config, row)
                return
            pending = data
            continue
        block, pending = data[:cut], data[cut:]
        row += yield from _lines_block(block, row, config, scan, layouts)
        if len(pending) > limit:  # a line too long, or lines ended by lone CRs: the reference knows
            yield from _reference_lines(_Prefixed(pending, text), config, row)
            return


def _lines_block(
    block: str, row: int, config: Config, scan: Any, layouts: _Layouts
) -> Generator[Item | EncodedBlock, None, int]:
    """The records of a block of whole lines, after data record `row`; returns how many there were."""
    if "\r" in block and block.count("\r") != block.count("\r\n"):  # a lone CR ends a line too: the reference splits it
        return (yield from _reference_lines(io.StringIO(block, newline=""), config, row))
    lines = block.split("\n")
    lines.pop()  # the block ends with a line feed
    clean = _clean(block)
    braced = len(block) <= config.max_record_bytes and all(map(str.endswith, lines, repeat(("}", "}\r"))))
    if braced:
        # The common block, checked at less cost: each line ends with `}` (none is blank) and is shorter
        # than the block, so what follows would keep every line, pass them and decode the same text.
        plan = _joined_plan(scan, lines, layouts, clean)
        if plan is not None:
            yield from layouts.items(plan, row)
            return len(lines)
    lines = list(filter(str.strip, lines))
    if not lines:
        return 0
    # + 1: the reference counts a line with its line feed.
    if max(map(len, lines)) + 1 > config.max_record_bytes:
        return (yield from _reference_lines(io.StringIO(block, newline=""), config, row))
    plan = None
    # A braced block's joined text was decoded above, to no plan: the lines are scanned one by one.
    if not braced and (
        all(map(str.endswith, lines, repeat(("}", "}\r"))))
        or all(map(str.endswith, map(str.rstrip, lines, repeat(_JSON_SPACE)), repeat("}")))
    ):
        plan = _joined_plan(scan, lines, layouts, clean)
    if plan is None:
        try:
            scanned = list(map(scan, lines, repeat(0)))  # a StopIteration ends the list early
        except _PARSE_ERRORS:
            scanned = []
        ends = list(map(len, map(str.rstrip, lines, repeat(_JSON_SPACE))))
        if len(scanned) != len(lines) or [end for _, end in scanned] != ends:
            return (yield from _reference_lines(io.StringIO(block, newline=""), config, row))
        plan = layouts.plan([value for value, _ in scanned], clean)
    yield from layouts.items(plan, row)
    return len(lines)


def _joined_plan(
    scan: Any, lines: list[str], layouts: _Layouts, clean: bool
) -> list[tuple[list[Any], EncodedBlock | None]] | None:
    """The plan of `lines`, each ending with `}`, decoded joined as `[line\\n,line\\n,...]`; None when that
    does not prove each line one flat object (see the module's docstring)."""
    values = _decode(scan, "[" + "\n,".join(lines) + "\n]")
    if values is None or len(values) != len(lines):
        return None
    plan = layouts.plan(values, clean)
    # A block's values are flat objects (its kinds are checked); the others are checked here.
    if not all(block for _, block in plan) and not _flat_objects(values):
        return None
    return plan


def _clean(text: str) -> bool:
    """True when no JSON string in `text` can need escaping: ASCII, no backslash, no DEL.

    Strict JSON has no raw control character in a string, and a quote in one is escaped.
    """
    return text.isascii() and "\\" not in text and "\x7f" not in text


def _flat_objects(values: list[Any]) -> bool:
    """True when every value is an object whose members are neither objects nor arrays."""
    if set(map(type, values)) != {dict}:
        return False
    kinds = set(map(type, chain.from_iterable(map(dict.values, values))))
    return dict not in kinds and list not in kinds


def _decode(scan: Any, text: str) -> list[Any] | None:
    """The array `text` decoded, or None when it is not exactly one JSON array."""
    try:
        values, end = scan(text, 0)
    except _PARSE_ERRORS:
        return None
    if end != len(text) or type(values) is not list:
        return None
    return values


def _reference_lines(text: Any, config: Config, row: int) -> Generator[Item, None, int]:
    """`read_json_lines` over `text`, numbered after data record `row`; returns how many records."""
    count = 0
    for item in read_json_lines(text, config):
        count += 1
        if type(item) is RowError and item.row is not None:
            item = RowError(item.row + row, item.field, item.message)
        yield item
    return count


# --- JSON arrays -----------------------------------------------------------------------------


class _ArrayBlocks(_JsonArray):
    """The reference array reader, taking batches of whole elements from its buffer where it can."""

    def __init__(self, text: Any, limit: int, layouts: _Layouts) -> None:
        super().__init__(text, limit)
        self._layouts = layouts
        self._scan = _scanner()
        self._largest = min(BLOCK_CHARS, limit)

    def items(self) -> Iterator[Item | EncodedBlock]:
        """The elements, in order: blocks and items from batches, items from the reference reader."""
        if not self._begin():
            return
        row = 0
        window = self._largest
        while True:
            batch = self._batch(window)
            if batch is not None:
                values, clean = batch
                yield from self._layouts.items(self._layouts.plan(values, clean), row)
                row += len(values)
                window = min(window * 2, self._largest)
                continue
            window //= 2
            if window >= _MIN_WINDOW:
                continue
            window = _MIN_WINDOW
            row += 1
            yield self._element(row)
            if not self._after(row):
                return

    def _batch(self, window: int) -> tuple[list[Any], bool] | None:
        """The elements up to a top-level `,` at most `window` characters on, or None; moves past them.

        With them, whether their text is clean (`_clean`).
        """
        if len(self._buf) - self._pos < window and not self._eof:
            self._fill(window)
        buf, pos = self._buf, self._pos
        close = buf.rfind("}", pos, pos + window)
        for _ in range(_CANDIDATE_CUTS):
            if close < 0:
                return None
            after = _WHITESPACE.match(buf, close + 1).end()  # type: ignore[union-attr]
            if buf.startswith(",", after):
                break
            close = buf.rfind("}", pos, close)
        else:
            return None
        text = buf[pos : close + 1]
        values = _decode(self._scan, "[" + text + "]")
        if values is None:
            return None
        self._pos = after + 1
        return values, _clean(text)


__all__ = ["BLOCK_CHARS", "MIN_BLOCK_ROWS", "read_json_blocks"]
