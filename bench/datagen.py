"""Generated transaction files for the benchmarks: valid records, CSV, quoted CSV, JSON or JSON Lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import TextIO

_CURRENCIES = ("USD", "EUR", "GBP", "")
_KEYS = ("transaction_id", "amount", "date", "account_id", "currency", "memo")


def _record(i: int) -> tuple[str, str, str, str, str, str]:
    return (
        f"TX{i:09d}",
        f"{(i * 7919) % 1_000_000 / 100:.2f}" if i % 5 else f"-{(i * 31) % 99_999 / 100:.2f}",
        f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
        f"ACC-{i % 50_000:05d}",
        _CURRENCIES[i % 4],
        f"payment ref {i % 977}",
    )


def write_batched(out: TextIO, lines: Iterable[str], separator: str, end: str) -> None:
    """Write `lines` joined by `separator`, then `end` (none when there is no line), 10,000 at a time."""
    lines = iter(lines)
    written = False
    while batch := list(islice(lines, 10_000)):
        out.write((separator if written else "") + separator.join(batch))
        written = True
    if written:
        out.write(end)


def write_csv(path: Path, rows: int) -> Path:
    """A CSV file of `rows` valid records (about 70 bytes each)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("transaction_id,amount,date,account_id,currency,memo\r\n")
        write_batched(out, (",".join(_record(i)) for i in range(rows)), "\r\n", "\r\n")
    return path


def _json_text(i: int) -> str:
    """Record `i` as a JSON object, its amount a JSON number."""
    values = dict(zip(_KEYS, _record(i), strict=True))
    return json.dumps(values).replace(f'"amount": "{values["amount"]}"', f'"amount": {values["amount"]}')


def write_json(path: Path, rows: int) -> Path:
    """A JSON array of `rows` valid records, amounts as JSON numbers."""
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        write_batched(out, map(_json_text, range(rows)), ",\n", "\n")
        out.write("]\n")
    return path


def write_quoted_csv(path: Path, rows: int) -> Path:
    """A CSV file of `rows` valid records whose memo is quoted: it holds a comma, and every 10th a quote."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(("transaction_id", "amount", "date", "account_id", "currency", "memo"))
        for start in range(0, rows, 10_000):
            batch = []
            for i in range(start, min(rows, start + 10_000)):
                record = _record(i)
                memo = f"payment, ref {i % 977}" + (' "urgent"' if i % 10 == 0 else "")
                batch.append((*record[:5], memo))
            writer.writerows(batch)
    return path


def write_jsonl(path: Path, rows: int) -> Path:
    """A JSON Lines file of `rows` valid records, amounts as JSON numbers."""
    with path.open("w", encoding="utf-8") as out:
        write_batched(out, map(_json_text, range(rows)), "\n", "\n")
    return path


#: Each benchmark case: the core's format, the file suffix and the writer.
CASES = {
    "csv": ("csv", "csv", write_csv),
    "csv-quoted": ("csv", "quoted.csv", write_quoted_csv),
    "json": ("json", "json", write_json),
    "jsonl": ("jsonl", "jsonl", write_jsonl),
}


def rows_for_bytes(size: int) -> int:
    """About how many CSV rows make `size` bytes."""
    return max(1, size // 70)
