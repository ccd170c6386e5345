"""Benchmark (not a test): peak memory, time and /tmp use of the handler core's validate and transform.

    python bench/handler_memory.py                         # 1,000,000 and 14,285,714 rows (1 GB), 3 runs each
    python bench/handler_memory.py --rows 1000000 --repeat 5
    python bench/handler_memory.py --handlers /tmp/old/handlers   # another version of the handlers

For each row count a valid CSV (bench/datagen.py: distinct ids, the default schema) is written,
streaming, into a fresh folder under the temporary directory (/tmp), and deleted afterwards. Each
case then runs in its own child process over that local file, with no AWS and no moto:

- `validate`: `etl_handlers.core.validate`, as the validate function runs it;
- `transform`: `transform(..., already_validated=True)`, as the transform function runs it on the
  pinned version that validate passed (plain CSV blocks are not checked again);
- `transform-recheck`: `transform` checking every rule again (the duplicate-id check included);
- `validate+recheck`: `validate` then the re-checking `transform`, in one process.

Peak is the child's maximum resident set size as the kernel reports it when it is reaped (`wait4`):
the whole interpreter, the core and its buffers. Wall seconds are the core calls' own time, measured
in the child (interpreter start-up and imports left out); CPU seconds are the child's user plus
system time, start-up included: on a busy machine they move less than wall time, and Lambda gives a
function CPU in proportion to its memory. /tmp is the largest size the duplicate-id check's spill
file reached (`DigestSet.disk_bytes`). Medians of `--repeat` runs are printed, with every run.
Results also go to bench/out/handler-memory.json (ignored by git). Each child runs with the memory
size of the default function that runs its case in `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, as Lambda sets
it (`--outside-lambda`: without, as the CLI runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
HANDLERS = HERE.parent / "handlers"
sys.path.insert(0, str(HERE))

CASES = ("validate", "transform", "transform-recheck", "validate+recheck")


def worker(case: str, path: Path, handlers: Path) -> dict[str, Any]:
    """Run one case over `path` in this process; the seconds of its core calls and the /tmp they used."""
    sys.path.insert(0, str(handlers))
    from etl_handlers.core import rules, transform, validate
    from etl_handlers.core.digests import DigestSet

    created: list[DigestSet] = []

    class Tracked(DigestSet):  # records the spill size; behaves exactly as the class it replaces
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    rules.DigestSet = Tracked  # type: ignore[misc]

    def spilled() -> int:
        size = max((getattr(s, "disk_bytes", 0) for s in created), default=0)
        created.clear()  # let the set (and its spill file) go before the next call
        return size

    result: dict[str, Any] = {"seconds": {}, "tmp_bytes": 0}
    sink = path.with_suffix(f".{os.getpid()}.jsonl")
    try:
        if case in ("validate", "validate+recheck"):
            started = time.perf_counter()
            with path.open("rb") as source:
                checked = validate(source, "csv")
            result["seconds"]["validate"] = time.perf_counter() - started
            result["tmp_bytes"] = max(result["tmp_bytes"], spilled())
            assert checked.ok, checked.errors[:3]
            result["rows"] = checked.rows_valid
            del checked
        if case != "validate":
            started = time.perf_counter()
            with path.open("rb") as source, sink.open("wb") as out:
                written = transform(source, out, "csv", already_validated=case == "transform")
            result["seconds"]["transform"] = time.perf_counter() - started
            result["tmp_bytes"] = max(result["tmp_bytes"], spilled())
            assert written.error_count == 0, written.errors[:3]
            result["rows"] = written.rows_written
    finally:
        sink.unlink(missing_ok=True)
    return result


def run_once(case: str, path: Path, handlers: Path, in_lambda: bool = True) -> dict[str, Any]:
    """One case in a child process: its peak RSS (MB), the core's seconds, its CPU seconds, /tmp used (MB)."""
    command = [sys.executable, __file__, "--handlers", str(handlers), "--worker", case, str(path)]
    import function_env

    env = function_env.environment(case if in_lambda else None)
    with tempfile.TemporaryFile() as report, tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, stdout=report, stderr=errors, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        report.seek(0)
        errors.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{case} failed: {errors.read().decode()[-2000:]}")
        done = json.loads(report.read())
    return {
        "peak_mb": usage.ru_maxrss / 1024,
        "seconds": sum(done["seconds"].values()),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "tmp_mb": done["tmp_bytes"] / 1e6,
        "rows": done["rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 14_285_714])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (medians are reported)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--handlers", type=Path, default=HANDLERS, help="the handlers folder to measure")
    parser.add_argument(
        "--outside-lambda",
        action="store_true",
        help="run each case without a function's memory size, as the CLI does (ids spill past 32 MiB)",
    )
    args = parser.parse_args()
    if args.worker:
        case, path = args.worker
        print(json.dumps(worker(case, Path(path), args.handlers.resolve())))
        return

    import datagen

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"handler core: peak RSS, seconds and /tmp per case; {os.cpu_count()} cores, load average {load}")
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(f"each run: {sys.executable} {__file__} --handlers {args.handlers.resolve()} --worker CASE FILE")
    if args.outside_lambda:
        print("outside Lambda: no function memory size\n")
    else:
        import function_env

        print(f"AWS_LAMBDA_FUNCTION_MEMORY_SIZE per case (the default functions'): {function_env.memory_mb()}\n")
    print(
        f"{'rows':>12}{'input MB':>10}  {'case':<20}{'peak MB':>9}{'wall s':>8}{'CPU s':>8}{'/tmp MB':>9}"
        "   runs (peak MB / wall s / CPU s)"
    )
    results = []
    for rows in args.rows:
        folder = Path(tempfile.mkdtemp(prefix="handler-memory-"))
        try:
            csv = datagen.write_csv(folder / f"tx-{rows}.csv", rows)
            size_mb = csv.stat().st_size / 1e6
            for case in args.cases:
                in_lambda = not args.outside_lambda
                runs = [run_once(case, csv, args.handlers.resolve(), in_lambda) for _ in range(args.repeat)]
                if any(r["rows"] != rows for r in runs):
                    raise RuntimeError(f"{case}: expected {rows} rows, got {[r['rows'] for r in runs]}")
                peak = statistics.median(r["peak_mb"] for r in runs)
                seconds = statistics.median(r["seconds"] for r in runs)
                cpu = statistics.median(r["cpu_seconds"] for r in runs)
                tmp = statistics.median(r["tmp_mb"] for r in runs)
                detail = ", ".join(f"{r['peak_mb']:.0f} / {r['seconds']:.1f} / {r['cpu_seconds']:.1f}" for r in runs)
                figures = f"{peak:>9.0f}{seconds:>8.1f}{cpu:>8.1f}{tmp:>9.0f}"
                print(f"{rows:>12,}{size_mb:>10.0f}  {case:<20}{figures}   {detail}")
                results.append(
                    {"rows": rows, "input_mb": size_mb, "case": case, "peak_mb": peak, "seconds": seconds,
                     "cpu_seconds": cpu, "tmp_mb": tmp, "runs": runs}
                )  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "handler-memory.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {OUT / 'handler-memory.json'}")


if __name__ == "__main__":
    main()
