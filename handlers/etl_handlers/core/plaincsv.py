"""A fast path for plain CSV, the common shape of machine-written files; it gives the same results.

A block of complete lines is *plain* when it has no quote, no NUL and no lone carriage return:
its records are then exactly its non-empty lines split at commas, so it can be split and
checked a column at a time in C (`str.split`, slicing, `map`) instead of a record at a time.
Any block that is not plain, or whose columns break a rule, goes through the reference path
(`csv_records` and `RecordChecker.check`) record by record, which reports each error exactly;
after the first block that is not plain, the rest of the file goes through `quotedcsv.py`. The differential tests in
tests/handlers/core/test_plaincsv.py hold the two paths to the same output.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from .blocks import EncodedBlock
from .config import Config
from .quotedcsv import read_quoted_blocks
from .readers import Item, csv_records, read_csv_header
from .rules import RecordChecker

#: Characters read at a time; a block is what they hold up to the last line end. 64 K measured
#: faster than 16 K or 1 M on 1M rows (cache locality, fewer objects for the GC) and keeps memory low.
BLOCK_CHARS = 1 << 16
# Needs JSON escaping (as `encode_basestring_ascii` escapes: controls, DEL, backslash; quotes and
# non-ASCII are checked apart): then a block's strings are encoded one by one, not written as they are.
_NEEDS_ESCAPE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\\]").search


@dataclass(frozen=True)
class Block:
    """Plain CSV rows that passed every rule: `columns` maps each header name to its values."""

    columns: dict[str, list[str]]
    rows: int
    text: str

    @property
    def ascii_clean(self) -> bool:
        """True when no value needs JSON escaping, so strings can be written as they are (asked by writers only)."""
        return self.text.isascii() and not _NEEDS_ESCAPE(self.text)


class _Prefixed:
    """A text stream that first serves `prefix`, then goes on with `text` (for the reference path).

    Its lines are the ones `text` alone would give, even where `prefix` ends inside a line or
    between the CR and the LF of a CR LF: the reference path counts a record's characters by them.
    """

    def __init__(self, prefix: str, text: Any) -> None:
        self._prefix: io.StringIO | None = io.StringIO(prefix, newline="")
        self._left = len(prefix)
        self._text = text

    def readline(self, size: int = -1) -> str:
        if self._prefix is None:
            rest: str = self._text.readline(size)
            return rest
        line = self._prefix.readline(size)
        self._left -= len(line)
        if self._left:  # the prefix holds more: this line is whole, or cut at `size`
            return line
        self._prefix = None
        if len(line) == size or line.endswith("\n"):
            return line
        if line.endswith("\r"):  # a lone CR, or the CR of a CR LF whose LF is in the stream
            after: str = self._text.readline(1)
            if after == "\n":
                return line + after
            if after:
                self._prefix, self._left = io.StringIO(after, newline=""), len(after)
            return line
        more: str = self._text.readline(size - len(line) if size >= 0 else -1)
        return line + more


def read_csv_blocks(
    text: Any, config: Config, checker: RecordChecker, trusted: bool = False
) -> Iterator[Item | Block | EncodedBlock]:
    """The data records of a CSV file: Blocks of checked plain rows, and items for the reference path.

    From the first block that is not plain, the rest goes through `quotedcsv.read_quoted_blocks`.

    `trusted`: these bytes passed validation already, so plain blocks skip the column checks.
    """
    header = read_csv_header(text, config)
    if header is None:
        return
    limit = config.max_record_bytes
    width = len(header)
    commas = width - 1
    row = 0
    pending = ""
    while True:
        chunk = text.read(BLOCK_CHARS)
        data = pending + chunk
        if not chunk:
            if data:
                yield from csv_records(io.StringIO(data, newline=""), header, limit, row + 1)
            return
        cut = data.rfind("\n") + 1
        if cut == 0:  # no complete line yet: read on, unless the line is already too long
            if len(data) > limit:
                yield from csv_records(_Prefixed(data, text), header, limit, row + 1)
                return
            pending = data
            continue
        block, pending = data[:cut], data[cut:]
        # Only complete lines are judged: a \r at the very end of a read may be half of a \r\n.
        if '"' in block or "\x00" in block or block.count("\r") != block.count("\r\n"):
            yield from read_quoted_blocks(data, text, header, config, checker, trusted, row)
            return
        normal = block.replace("\r\n", "\n")
        lines = list(filter(None, normal.split("\n")))
        rows = len(lines)
        if not rows:
            continue
        # + 2: the reference path counts a record with its line end, CR LF at most.
        if max(map(len, lines)) + 2 > limit or set(map(str.count, lines, repeat(","))) != {commas}:
            yield from csv_records(io.StringIO(block, newline=""), header, limit, row + 1)
            row += rows
            continue
        flat = ",".join(lines).split(",") if width > 1 else lines
        columns = {name: flat[index::width] for index, name in enumerate(header)}
        good = rows if trusted else checker.check_columns(columns, rows)
        if good:
            if good < rows:
                columns = {name: values[:good] for name, values in columns.items()}
            yield Block(columns, good, normal)
        if good < rows:
            rest = io.StringIO("\n".join(lines[good:]) + "\n", newline="")
            yield from csv_records(rest, header, limit, row + good + 1)
        row += rows
        if len(pending) > limit:  # a line too long, or records ended by lone CRs: the reference path knows
            yield from csv_records(_Prefixed(pending, text), header, limit, row + 1)
            return


__all__ = ["BLOCK_CHARS", "Block", "read_csv_blocks"]
