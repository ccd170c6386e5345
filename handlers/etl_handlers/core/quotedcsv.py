"""A fast path for CSV with quotes; it gives exactly what the reference path gives.

From the first block that is not plain (`plaincsv.py`), the text is cut into blocks of whole
records: at a line feed before which the block holds an even number of quotes. `csv.reader` (in C,
`strict=True`, as the reference reads) parses the whole block at once. It parses only if the block
ends outside a quoted field (strict mode refuses a quoted field that the text ends in), so the
block's records are the reference's: the same lines (`newline=""`) through the same parser. The
block is at most `max_record_bytes` characters, so no record in it is over the limit. Its records
are then checked and written a column at a time, as plain blocks are.

A block whose records do not all have the header's width goes to `csv_records` (which reports
each), and rows from the first that breaks a rule are given as the reference gives them. A block
that does not parse (malformed CSV, a quote inside an unquoted field, a record longer than a
block) hands the rest of the file to the reference path. The differential tests in
tests/handlers/core/test_quotedcsv.py hold the two paths to the same output.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from itertools import chain
from typing import Any

from .blocks import EncodedBlock, string_texts, writer_filled
from .config import Config
from .readers import Item, csv_records
from .rules import RecordChecker

#: Characters read at a time, and the most a block holds.
BLOCK_CHARS = 1 << 16


def read_quoted_blocks(
    data: str, text: Any, header: list[str], config: Config, checker: RecordChecker, trusted: bool, row: int
) -> Iterator[Item | EncodedBlock]:
    """The data records from `data` (which starts a record) and the rest of `text`, after data record `row`.

    `trusted`: these bytes passed validation already, so blocks skip the column checks.
    """
    from .plaincsv import _Prefixed  # plaincsv routes to this module

    limit = config.max_record_bytes
    window = min(BLOCK_CHARS, limit)
    width = len(header)
    filled = writer_filled(config.rules)
    pending = data
    eof = False
    while True:
        while len(pending) < window and not eof:
            chunk = text.read(BLOCK_CHARS)
            eof = not chunk
            pending += chunk
        cut = _cut(pending, window)
        if not cut:
            rest = io.StringIO(pending, newline="") if eof else _Prefixed(pending, text)
            yield from csv_records(rest, header, limit, row + 1)
            return
        block = pending[:cut]
        try:
            parsed = list(csv.reader(io.StringIO(block, newline=""), strict=True))
        except csv.Error:
            yield from csv_records(_Prefixed(pending, text), header, limit, row + 1)
            return
        pending = pending[cut:]
        records = list(filter(None, parsed)) if [] in parsed else parsed  # an empty line is no record
        rows = len(records)
        if not rows:
            continue
        if set(map(len, records)) != {width}:
            yield from csv_records(io.StringIO(block, newline=""), header, limit, row + 1)
            row += rows
            continue
        block_rows = _encode(header, records, filled)
        good = rows if trusted else checker.check_columns(block_rows.columns, rows)
        if good:
            yield block_rows if good == rows else block_rows.head(good)
        for fields in records[good:]:
            yield dict(zip(header, fields, strict=True))
        row += rows


def _cut(text: str, window: int) -> int:
    """Where the first `window` characters of `text` end a line outside quotes (0 for nowhere)."""
    cut = text.rfind("\n", 0, window) + 1
    quotes = text.count('"', 0, cut)
    while cut and quotes % 2:
        before = text.rfind("\n", 0, cut - 1) + 1
        quotes -= text.count('"', before, cut)
        cut = before
    return cut


def _encode(header: list[str], records: list[list[str]], filled: frozenset[str]) -> EncodedBlock:
    """Records of the header's width as an EncodedBlock; `filled`: the columns the writer fills itself."""
    width = len(header)
    flat = list(chain.from_iterable(records))
    columns = {name: flat[index::width] for index, name in enumerate(header)}
    texts: dict[str, list[str]] = {}
    raw: set[str] = set()
    for name, values in columns.items():
        if name in filled:
            continue
        encoded = string_texts(values)
        if encoded is None:
            raw.add(name)
        else:
            texts[name] = encoded
    return EncodedBlock(columns, len(records), texts, frozenset(raw))


__all__ = ["BLOCK_CHARS", "read_quoted_blocks"]
