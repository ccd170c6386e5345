"""The naive baseline: read everything, split on commas, floats, one json.dumps per row, write at the end.

Quoted CSV cannot be split on commas: its naive baseline reads the whole text with `csv.reader`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path


def naive_csv(source: Path, sink: Path) -> int:
    """Transform a CSV the naive way; return the rows written."""
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines[0].split(",")
    out = []
    for line in lines[1:]:
        if not line:
            continue
        record = dict(zip(header, line.split(","), strict=False))
        amount = float(record["amount"])
        record["amount"] = amount
        record["fee"] = round(amount * 0.01, 2)
        record["currency"] = record.get("currency") or "USD"
        out.append(json.dumps(record))
    sink.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(out)


def naive_json(source: Path, sink: Path) -> int:
    """Transform a JSON array the naive way (json.loads of the whole file, floats)."""
    records = json.loads(source.read_text(encoding="utf-8"))
    out = []
    for record in records:
        amount = float(record["amount"])
        record["fee"] = round(amount * 0.01, 2)
        record["currency"] = record.get("currency") or "USD"
        out.append(json.dumps(record))
    sink.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(out)


def naive_quoted_csv(source: Path, sink: Path) -> int:
    """Transform a CSV with quoted fields the naive way (`csv.reader` over the whole text)."""
    text = source.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    out = []
    for row in rows[1:]:
        if not row:
            continue
        record = dict(zip(header, row, strict=False))
        amount = float(record["amount"])
        record["amount"] = amount
        record["fee"] = round(amount * 0.01, 2)
        record["currency"] = record.get("currency") or "USD"
        out.append(json.dumps(record))
    sink.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(out)


def naive_jsonl(source: Path, sink: Path) -> int:
    """Transform JSON Lines the naive way (all lines read, one json.loads each, floats)."""
    out = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        amount = float(record["amount"])
        record["fee"] = round(amount * 0.01, 2)
        record["currency"] = record.get("currency") or "USD"
        out.append(json.dumps(record))
    sink.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(out)
