"""The cost of rules as data: a 10-field schema against the fixed rules of 0.1, on the same 1M-row CSV.

    python bench/schema_rules.py [--rows N] [--repeat 3] [--before DIR]

`--before DIR` is a copy of the handlers before the schema engine (default: made with
`git archive 32936ce handlers` into a temporary folder). Each case runs in its own process:
validate, then transform as the pipeline runs it (the validated version is not checked again).
The file has ten columns; the fixed rules check four of them (and pass six through), the
10-field schema checks every one: patterns, allowed values, bounds, dates, uniqueness.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from datagen import write_batched  # bench/, this script's folder, is on the path

HERE = Path(__file__).resolve().parent
HANDLERS = HERE.parent / "handlers"
BEFORE_COMMIT = "32936ce"
HEADER = "transaction_id,amount,date,account_id,currency,merchant_code,status,channel,posted_at,reference"
STATUSES = ("SETTLED", "PENDING", "REVERSED")
CHANNELS = ("CARD", "WIRE", "ACH", "CASH")
CURRENCIES = ("USD", "EUR", "JPY", "")

#: A realistic 10-field schema: what a card processor's settlement file might declare.
TEN_FIELDS = {
    "fields": {
        "transaction_id": {"type": "string", "required": True, "unique": True, "max_length": 32},
        "amount": {"type": "decimal", "required": True, "minimum": "-1000000", "maximum": "1000000"},
        "date": {"type": "date", "required": True, "minimum": "2020-01-01"},
        "account_id": {"type": "string", "required": True, "pattern": "ACC-\\d{5}"},
        "currency": {"type": "string", "empty": True},
        "merchant_code": {"type": "string", "required": True, "pattern": "MC\\d{6}"},
        "status": {"type": "string", "required": True, "enum": list(STATUSES)},
        "channel": {"type": "string", "required": True, "enum": list(CHANNELS)},
        "posted_at": {"type": "date-time", "required": True},
        "reference": {"type": "string", "empty": True, "max_length": 64},
    },
    "other_fields": "reject",
}


def _line(i: int) -> str:
    """Record `i` of the ten columns (about 130 bytes)."""
    return (
        f"TX{i:09d},{(i * 7919) % 1_000_000 / 100:.2f},2024-{1 + i % 12:02d}-{1 + i % 28:02d},"
        f"ACC-{i % 50_000:05d},{CURRENCIES[i % 4]},MC{i % 1_000_000:06d},{STATUSES[i % 3]},"
        f"{CHANNELS[i % 4]},2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z,ref {i % 977}"
    )


def write_file(path: Path, rows: int) -> Path:
    """`rows` valid records of the ten columns."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        write_batched(out, map(_line, range(rows)), "\r\n", "\r\n")
    return path


def worker(handlers: Path, path: Path, schema: str | None) -> dict[str, float]:
    """Validate then transform `path` with the handlers in `handlers`; the seconds of each pass."""
    sys.path.insert(0, str(handlers))
    from etl_handlers.core import Config, transform, validate

    config = Config()
    if schema is not None:
        from etl_handlers.core.schema import Schema

        config = Config(schema=Schema.from_dict(json.loads(schema)))
    started = time.perf_counter()
    with path.open("rb") as source:
        checked = validate(source, "csv", config)
    middle = time.perf_counter()
    assert checked.ok, checked.errors[:3]
    with path.open("rb") as source, open("/dev/null", "wb") as sink:
        transform(source, sink, "csv", config, already_validated=True)
    ended = time.perf_counter()
    return {"validate": middle - started, "transform": ended - middle, "rows": checked.rows_total}


def measure(handlers: Path, path: Path, schema: str | None) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", str(handlers), str(path), schema or ""]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", type=Path, help="the handlers folder before the schema engine")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        before = args.before
        if before is None:
            archive = subprocess.run(
                ["git", "-C", str(HERE.parent), "archive", BEFORE_COMMIT, "handlers"], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
            before = folder / "handlers"
        path = write_file(folder / f"ten-{args.rows}.csv", args.rows)
        cases = {
            f"fixed rules before ({BEFORE_COMMIT})": (before, None),
            "default schema": (HANDLERS, None),
            "10-field schema": (HANDLERS, json.dumps(TEN_FIELDS)),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):  # interleaved: a slow moment of the machine hits every case alike
            for name, (handlers, schema) in cases.items():
                result = measure(handlers, path, schema)
                times[name].append(result["validate"] + result["transform"])
        base = statistics.median(times[next(iter(cases))])
        print(f"{args.rows:,} CSV rows, 10 columns, {path.stat().st_size / 1e6:.0f} MB; medians of {args.repeat}")
        print("| rules | validate+transform s | rows/s | time / before |")
        print("| --- | ---: | ---: | ---: |")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.2f} | {args.rows / median:,.0f} | {median / base:.2f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] or None)))
    else:
        main()
