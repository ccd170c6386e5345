"""Generated transaction files for the benchmarks: valid records, CSV, quoted CSV, JSON or JSON Lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

_CURRENCIES = ("USD", "EUR", "GBP", "")


def _record(i: int) -> tuple[str, str, str, str, str, str]:
    return (
        f"TX{i:09d}",
        f"{(i * 7919) % 1_000_000 / 100:.2f}" if i % 5 else f"-{(i * 31) % 99_999 / 100:.2f}",
        f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
        f"ACC-{i % 50_000:05d}",
        _CURRENCIES[i % 4],
        f"payment ref {i % 977}",
    )


def write_csv(path: Path, rows: int) -> Path:
    """A CSV file of `rows` valid records (about 70 bytes each)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("transaction_id,amount,date,account_id,currency,memo\r\n")
        batch = []
        for i in range(rows):
            batch.append(",".join(_record(i)))
            if len(batch) == 10_000:
                out.write("\r\n".join(batch) + "\r\n")
                batch.clear()
        if batch:
            out.write("\r\n".join(batch) + "\r\n")
    return path


def write_json(path: Path, rows: int) -> Path:
    """A JSON array of `rows` valid records, amounts as JSON numbers."""
    keys = ("transaction_id", "amount", "date", "account_id", "currency", "memo")
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        batch = []
        for i in range(rows):
            values = dict(zip(keys, _record(i), strict=True))
            text = json.dumps(values)
            batch.append(text.replace(f'"amount": "{values["amount"]}"', f'"amount": {values["amount"]}'))
            if len(batch) == 10_000:
                out.write(",\n".join(batch) + ("," if i + 1 < rows else "") + "\n")
                batch.clear()
        if batch:
            out.write(",\n".join(batch) + "\n")
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
    keys = ("transaction_id", "amount", "date", "account_id", "currency", "memo")
    with path.open("w", encoding="utf-8") as out:
        batch = []
        for i in range(rows):
            values = dict(zip(keys, _record(i), strict=True))
            text = json.dumps(values)
            batch.append(text.replace(f'"amount": "{values["amount"]}"', f'"amount": {values["amount"]}'))
            if len(batch) == 10_000:
                out.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            out.write("\n".join(batch) + "\n")
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
