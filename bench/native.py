"""The ceiling of a native engine: DuckDB and Polars transform the same CSV, beside ours and the naive baseline.

Not adopted; the figures decide a later change. Each engine does only the transform (amount, fee rounded
half away from zero to cents, currency defaulted, JSON Lines out), without our validation, in a child
process of its own; the import is timed apart (a cold start pays it). Each engine's fees are compared
with ours, value by value, as exact decimals.

    uv venv /tmp/native && uv pip install --python /tmp/native/bin/python duckdb polars
    /tmp/native/bin/python bench/native.py --rows 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
IMPLS = ("naive", "ours", "duckdb", "polars")


def _ours(source: Path, sink: Path) -> None:
    sys.path.insert(0, str(HERE.parent / "handlers"))
    from etl_handlers.core import transform

    with source.open("rb") as raw, sink.open("wb") as out:
        transform(raw, out, "csv", already_validated=True)


def _duckdb(source: Path, sink: Path) -> None:
    import duckdb

    duckdb.sql(
        f"""
        COPY (
            SELECT transaction_id, CAST(amount AS DECIMAL(18, 2)) AS amount, date, account_id,
                   COALESCE(NULLIF(currency, ''), 'USD') AS currency, memo,
                   ROUND(CAST(amount AS DECIMAL(18, 2)) * CAST('0.01' AS DECIMAL(4, 2)), 2) AS fee
            FROM read_csv('{source}', all_varchar = true)
        ) TO '{sink}' (FORMAT json)
        """
    )


def _polars(source: Path, sink: Path) -> None:
    import polars as pl

    frame = pl.scan_csv(source, infer_schema=False).with_columns(
        pl.col("amount").cast(pl.Decimal(18, 2)),
        pl.when(pl.col("currency").is_null() | (pl.col("currency") == ""))
        .then(pl.lit("USD"))
        .otherwise(pl.col("currency"))
        .alias("currency"),
    )
    # Multiply at a fixed scale, then round: Polars' own decimal rounding decides the cent.
    frame = frame.with_columns((pl.col("amount") * pl.lit(Decimal("0.01"))).round(2).alias("fee"))
    frame.sink_ndjson(sink)


def worker(impl: str, source: Path) -> dict[str, float]:
    """One engine on one file: import seconds, transform seconds, and the output's path."""
    started = time.perf_counter()
    if impl == "duckdb":
        import duckdb  # noqa: F401
    elif impl == "polars":
        import polars  # noqa: F401
    imported = time.perf_counter() - started
    sink = OUT / f"{source.stem}.{impl}.jsonl"
    began = time.perf_counter()
    if impl == "naive":
        sys.path.insert(0, str(HERE))
        import naive

        naive.naive_csv(source, sink)
    else:
        {"ours": _ours, "duckdb": _duckdb, "polars": _polars}[impl](source, sink)
    return {"import_s": imported, "seconds": time.perf_counter() - began}


def fees(path: Path) -> list[Decimal]:
    """The fee of each output line, as an exact decimal, in order."""
    found = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            found.append(Decimal(str(json.loads(line, parse_float=Decimal)["fee"])))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return
    sys.path.insert(0, str(HERE))
    from datagen import write_csv

    OUT.mkdir(exist_ok=True)
    source = OUT / f"native-{args.rows}.csv"
    if not source.exists():
        write_csv(source, args.rows)
    runs: dict[str, list[dict[str, float]]] = {impl: [] for impl in IMPLS}
    for _ in range(args.repeat):
        for impl in IMPLS:
            done = subprocess.run(
                [sys.executable, __file__, "--worker", impl, str(source)], capture_output=True, text=True, check=True
            )
            runs[impl].append(json.loads(done.stdout))
    ours = fees(OUT / f"{source.stem}.ours.jsonl")
    naive_s = statistics.median(r["seconds"] for r in runs["naive"])
    print(f"CSV {args.rows:,} rows, {source.stat().st_size / 1e6:.0f} MB, medians of {args.repeat} runs")
    print("| engine | import s | transform s | / naive | fees that differ from ours |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for impl in IMPLS:
        seconds = statistics.median(r["seconds"] for r in runs[impl])
        imported = statistics.median(r["import_s"] for r in runs[impl])
        theirs = fees(OUT / f"{source.stem}.{impl}.jsonl") if impl != "ours" else ours
        differ = sum(a != b for a, b in zip(ours, theirs, strict=True))
        print(f"| {impl} | {imported:.2f} | {seconds:.2f} | {naive_s / seconds:.2f} | {differ:,} |")


if __name__ == "__main__":
    main()
