"""The naive baseline: read everything, split on commas, floats, one json.dumps per row, write at the end."""

from __future__ import annotations

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
