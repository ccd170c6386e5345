"""`validate` and `transform`: the data contract applied to a stream, with no AWS in sight."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal
from itertools import repeat
from json.encoder import encode_basestring_ascii
from typing import IO, Any

from .blocks import EncodedBlock
from .config import DEFAULT_CONFIG, FORMATS, Config
from .control import ControlRecord, Totals
from .currencies import MINOR_UNITS
from .jsonblocks import read_json_blocks
from .jsonout import LineEncoder
from .plaincsv import Block, read_csv_blocks
from .results import ErrorLog, FileError, RowError, TransformResult, ValidationResult
from .rules import RecordChecker
from .streams import CountingReader, Readable, text_stream

#: The quantum of a fee in each currency: 10 ** -(its ISO 4217 minor unit).
_QUANTA = {code: Decimal(1).scaleb(-unit) for code, unit in MINOR_UNITS.items()}
#: The quantum of a code outside the table (accepted with `any_currency`): 2 places.
_OTHER_QUANTUM = Decimal("0.01")
# Plain decimals written as `format(Decimal(text), "f")` would write them (no `+`, no leading zero), a line each.
_CANONICAL_AMOUNTS = re.compile(r"(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?\n)*+").fullmatch
# `plus` at this precision changes no digit; it gives a zero the + sign (under any rounding but
# ROUND_FLOOR), so a fee that rounds to zero from below is written 0.00, not -0.00.
_UNSIGNED_ZERO = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, rounding=ROUND_HALF_EVEN).plus
_EXPONENT = re.compile("[eE]").search
# A zero fee with a sign (`str` of a Decimal -0, -0.0, ...), on a line of its own.
_NEGATIVE_ZERO = re.compile(r"^-0(?:\.0*)?$", re.MULTILINE).search
_WRITE_CHUNK = 256 * 1024
# What the readers raise for bytes that are bad data (never for a failing source or a bug of ours).
_DATA_ERRORS = (UnicodeError, csv.Error, RecursionError, ValueError)


def validate(
    source: Readable, fmt: str, config: Config | None = None, control: ControlRecord | None = None
) -> ValidationResult:
    """Check a file against the data contract without writing anything.

    `source` is a binary file object (read as a stream), `fmt` one of csv, json, jsonl, ndjson.
    Bad data never raises: every problem is in the result's errors, the first `max_errors` of them
    listed and all of them counted. Only a failing `source` (an I/O error) propagates.

    `control`: the file's control record; a file whose records are all valid then also needs its
    record count and amount totals to equal the control record's, or it gets a file error for each
    difference, stating expected and actual values.
    """
    result = _run(source, fmt, config or DEFAULT_CONFIG, None, control=control)
    return ValidationResult(
        result.rows_total,
        result.rows_valid,
        result.rows_rejected,
        result.errors,
        result.error_count,
        result.bytes_read,
    )


def transform(
    source: Readable,
    sink: IO[bytes],
    fmt: str,
    config: Config | None = None,
    processed_at: datetime | None = None,
    already_validated: bool = False,
) -> TransformResult:
    """Write each valid record of `source` to `sink` as one JSON Lines object, in input order.

    Each output object holds every input field (but those the schema drops), with the amount field
    the exact decimal read, `fee` the amount times the fee rate rounded to the minor unit of the
    record's currency, the currency (the default when absent or empty) and `processed_at` (the UTC
    time of the run). Invalid records are not written; they are counted
    and reported as by `validate`, so a caller that wants all or nothing checks `error_count`.

    `already_validated=True` says `validate` passed these exact bytes (the pipeline pins the object
    version): the rows the fast paths read a block at a time (plain and quoted CSV, JSON of a regular
    shape) are then not checked again, only transformed. The output of a file
    that validates is the same either way; never set it for bytes that were not validated.
    """
    config = config or DEFAULT_CONFIG
    # One timestamp form everywhere: UTC, milliseconds, `Z` (as Step Functions and the ledger write).
    stamp = (processed_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    return _run(source, fmt, config, _Writer(sink, config, stamp), already_validated)


def _run(
    source: Readable,
    fmt: str,
    config: Config,
    writer: _Writer | None,
    trusted: bool = False,
    control: ControlRecord | None = None,
) -> TransformResult:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {sorted(FORMATS)}")
    raw = CountingReader(source)
    log = ErrorLog(config.max_errors)
    checker = RecordChecker(config)
    check = checker.check
    totals = Totals() if control is not None else None
    sums = _BlockSums(config) if totals is not None else None
    total = valid = 0
    fields_known = fmt == "csv"  # the reader has checked the header for every required column
    try:
        text = text_stream(raw)
        if fmt == "csv":
            items = read_csv_blocks(text, config, checker, trusted)
        else:
            items = read_json_blocks(text, fmt, config, checker, trusted)
        for item in items:
            if type(item) is Block or type(item) is EncodedBlock:
                total += item.rows
                valid += item.rows
                if writer is not None:
                    writer.write_block(item)
                if sums is not None:
                    sums.add(totals, item)  # type: ignore[arg-type]
                continue
            total += 1
            if type(item) is RowError:
                log.add(item)
                continue
            amount, currency, errors = check(item, total, fields_known)  # type: ignore[arg-type]
            if errors:
                for error in errors:
                    log.add(error)
                continue
            valid += 1
            if totals is not None:
                totals.add(currency, amount)  # type: ignore[arg-type]
            if writer is not None:
                writer.write(item, amount, currency)  # type: ignore[arg-type]
        if total == 0:
            log.add(RowError(None, None, "the file has no data records"))
        elif totals is not None and log.count == 0:
            for difference in totals.differences(control, total):  # type: ignore[arg-type]
                log.add(RowError(None, None, difference))
    except FileError as exc:
        log.add(exc.error)
    except UnicodeError:
        log.add(RowError(None, None, f"the file is not valid UTF-8 (after data record {total})"))
    except _DATA_ERRORS as exc:
        log.add(RowError(None, None, f"unreadable after data record {total}: {exc}"))
    finally:
        checker.close()  # the duplicate-id check's spill file, however the reading ended
    written = writer.close() if writer is not None else (0, 0)
    return TransformResult(
        rows_total=total,
        rows_valid=valid,
        rows_rejected=total - valid,
        errors=tuple(log.errors),
        error_count=log.count,
        bytes_read=raw.bytes_read,
        rows_written=written[0],
        bytes_written=written[1],
    )


def _interleave(pieces: list[str], values: list[list[str]], rows: int) -> str:
    """The lines `pieces[0] + values[0][row] + pieces[1] + ... + pieces[-1]`, each row's in turn, as one text.

    The parts go into one list by slice assignment and are joined once: no per-row formatting.
    """
    width = len(pieces) + len(values)
    parts = [pieces[0]] * (rows * width)
    for index, column in enumerate(values):
        parts[2 * index + 1 :: width] = column
        parts[2 * index + 2 :: width] = [pieces[index + 1]] * rows
    return "".join(parts)


def _unsigned_zeros(fees: list[str]) -> list[str]:
    """`fees` (`str` of each quantized fee) with a zero that rounded from below written without its sign.

    As `_UNSIGNED_ZERO` does for one fee: a negative zero is rare, so the texts are searched at once.
    """
    if _NEGATIVE_ZERO("\n".join(fees)) is None:
        return fees
    return [fee[1:] if _NEGATIVE_ZERO(fee) else fee for fee in fees]


class _BlockSums:
    """Adds a block's amounts to the file's totals, with each row's currency."""

    def __init__(self, config: Config) -> None:
        rules = config.rules
        self._amount = rules.amount_field
        self._currency = rules.currency_field
        self._default = config.default_currency

    def add(self, totals: Totals, block: Block) -> None:
        amounts = map(Decimal, map(str.strip, block.columns[self._amount]))
        codes = block.columns.get(self._currency) if self._currency is not None else None
        currencies = repeat(self._default, block.rows) if codes is None else (c or self._default for c in codes)
        totals.add_many(currencies, amounts)


class _Writer:
    """Turns valid records into output lines and writes them to the sink in large chunks."""

    def __init__(self, sink: IO[bytes], config: Config, stamp: str) -> None:
        self._sink = sink
        self._rate = config.fee_rate
        # Exact arithmetic at any size: the only rounding is the one the contract names.
        self._context = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, rounding=config.rounding_mode)
        self._stamp = stamp
        self._default_currency = config.default_currency
        rules = config.rules
        self._amount = rules.amount_field
        self._currency = rules.currency_field or "currency"
        # The column the currency is read from: none when the schema has no currency field (every record
        # takes the default, written as `currency` over any input field of that name).
        self._currency_column = rules.currency_field
        # Fields the output leaves out: those the schema does not declare, when it drops them.
        self._kept = frozenset(rules.names) if rules.other_fields == "drop" else None
        self._templates: dict[tuple[tuple[str, ...], frozenset[str]], tuple[list[str], list[str]]] = {}
        self._lines: list[str] = []
        self._pending = 0
        self.rows = 0
        self.size = 0
        self._encode: Callable[[dict[str, Any]], str] = LineEncoder()

    def _fee(self, amount: Decimal, currency: str) -> Decimal:
        quantum = _QUANTA.get(currency, _OTHER_QUANTUM)
        return _UNSIGNED_ZERO(self._context.multiply(amount, self._rate).quantize(quantum, context=self._context))

    def write(self, record: dict[str, Any], amount: Decimal, currency: str) -> None:
        if self._kept is not None:
            record = {k: v for k, v in record.items() if k in self._kept}
        record[self._amount] = amount
        record[self._currency] = currency
        record["fee"] = self._fee(amount, currency)
        record["processed_at"] = self._stamp
        line = self._encode(record)
        self._lines.append(line)
        self._pending += len(line) + 1
        self.rows += 1
        if self._pending >= _WRITE_CHUNK:
            self._flush()

    def write_block(self, block: Block | EncodedBlock) -> None:
        """Write a block of checked rows: the same lines `write` would, a column at a time."""
        self._flush()
        columns = block.columns
        texts: dict[str, list[str]] | None = None
        if type(block) is Block:
            raw = frozenset(columns) if block.ascii_clean else frozenset()
        else:
            raw, texts = block.raw, block.texts  # type: ignore[union-attr]
        pieces, slots = self._block_template(tuple(columns), raw)
        context = self._context
        default = self._default_currency
        amount_cells = columns[self._amount]
        # A JSON number's text has no white space around it.
        numeric = type(block) is EncodedBlock and self._amount in block.numbers
        read = amount_cells if numeric else list(map(str.strip, amount_cells))
        amounts = list(map(Decimal, read))
        products = map(context.multiply, amounts, repeat(self._rate))
        codes = columns.get(self._currency_column) if self._currency_column is not None else None
        quanta: Iterable[Decimal] = repeat(_QUANTA.get(default, _OTHER_QUANTUM))
        distinct_codes: set[str] = set()
        if codes is not None:
            # Most blocks hold currencies of one minor unit: one quantum for all, not a look-up a row.
            distinct_codes = set(codes)
            used = {_QUANTA.get(c or default, _OTHER_QUANTUM) for c in distinct_codes}
            many = len(used) > 1
            quanta = [_QUANTA.get(c or default, _OTHER_QUANTUM) for c in codes] if many else repeat(used.pop())
        fees = map(Decimal.quantize, products, quanta, repeat(None), repeat(context))
        values: list[list[str]] = []
        for slot in slots:
            if slot == self._amount:
                # Amounts already in the form `format(amount, "f")` gives are written as read. JSON numbers
                # with no exponent are: their grammar has no `+`, no leading zero, digits after a point.
                canonical = (numeric and _EXPONENT("".join(read)) is None) or _CANONICAL_AMOUNTS(
                    "\n".join(read) + "\n"
                ) is not None
                values.append(read if canonical else list(map(format, amounts, repeat("f"))))
            elif slot == "fee":
                # A fee's exponent is its currency's (0 to -4): `str` writes it in plain notation, as "f" does.
                values.append(_unsigned_zeros(list(map(str, fees))))
            elif slot == self._currency:
                # Only from the currency field; an empty one is the default.
                values.append([c or default for c in columns[slot]] if "" in distinct_codes else columns[slot])
            elif slot in raw:
                values.append(columns[slot])
            elif texts is not None:
                values.append(texts[slot])
            else:
                values.append(list(map(encode_basestring_ascii, columns[slot])))
        data = _interleave(pieces, values, block.rows).encode("ascii")
        self._sink.write(data)
        self.size += len(data)
        self.rows += block.rows

    def _block_template(self, header: tuple[str, ...], raw: frozenset[str]) -> tuple[list[str], list[str]]:
        """The constant text of an output line for a header, and which value goes between each two pieces.

        A line is `pieces[0] + value(slots[0]) + pieces[1] + ... + pieces[-1]`, its line feed included.
        """
        cached = self._templates.get((header, raw))
        if cached is not None:
            return cached
        kept = [k for k in header if self._kept is None or k in self._kept]
        keys = kept + [k for k in (self._currency, "fee", "processed_at") if k not in kept]
        pieces = ["{"]
        slots: list[str] = []
        for index, key in enumerate(keys):
            name = ("," if index else "") + encode_basestring_ascii(key) + ":"
            if key == "processed_at":
                pieces[-1] += name + encode_basestring_ascii(self._stamp)
            elif key == self._currency and (key not in header or self._currency_column is None):
                pieces[-1] += name + encode_basestring_ascii(self._default_currency)
            else:
                quoted = key not in (self._amount, "fee") and (key == self._currency or key in raw)
                pieces[-1] += name + ('"' if quoted else "")
                pieces.append('"' if quoted else "")
                slots.append(key)
        pieces[-1] += "}\n"
        result = (pieces, slots)
        self._templates[(header, raw)] = result
        return result

    def _flush(self) -> None:
        if self._lines:
            data = ("\n".join(self._lines) + "\n").encode("ascii")
            self._sink.write(data)
            self.size += len(data)
            self._lines.clear()
            self._pending = 0

    def close(self) -> tuple[int, int]:
        self._flush()
        return self.rows, self.size
