"""Benchmarks (not tests): throughput and peak memory of validate+transform beside a naive baseline.

    python bench/run.py            # 100k and 1M rows (CSV, quoted CSV, JSON, JSON Lines); peak RSS at 10 and 100 MB
    python bench/run.py --full     # adds the 1 GB memory case (several minutes)
    python bench/run.py --rows 1000000 --before /tmp/before/handlers   # adds `before`: another copy of the handlers

Each case runs in its own process, so its peak RSS is its own; ours runs validate and transform
in two processes, as the pipeline runs them in two functions (time: their sum; memory: the larger
peak). Throughput is the median of `--repeat` runs, interleaved (a round runs every impl once, in turn).
Each pass of ours runs as the default function would, with its memory size in
`AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (`--outside-lambda`: without). Generated files go to bench/out/
(ignored by git).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path[:0] = [str(HERE), str(HERE.parent / "handlers")]


def worker(impl: str, case: str, path: Path) -> dict[str, float]:
    """Run one implementation over one file of a case (datagen.CASES); report seconds, rows and peak RSS."""
    import datagen

    fmt = datagen.CASES[case][0]
    sink = OUT / f"{path.name}.{impl}.jsonl"
    started = time.perf_counter()
    if impl == "naive":
        import naive

        baselines = {"csv": naive.naive_csv, "csv-quoted": naive.naive_quoted_csv, "json": naive.naive_json}
        rows = baselines.get(case, naive.naive_jsonl)(path, sink)
    elif impl == "validate":
        from etl_handlers.core import validate

        with path.open("rb") as source:
            checked = validate(source, fmt)
        assert checked.ok, checked.errors[:3]
        rows = checked.rows_valid
    else:
        from etl_handlers.core import transform

        # As the pipeline's transform step runs it: on the pinned version that validate passed.
        with path.open("rb") as source, sink.open("wb") as out:
            rows = transform(source, out, fmt, already_validated=impl == "transform").rows_written
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sink.unlink(missing_ok=True)
    return {"seconds": seconds, "rows": rows, "peak_mb": peak_mb, "mb": path.stat().st_size / 1e6}


def _worker_process(
    impl: str, case: str, path: Path, handlers: str | None = None, in_lambda: bool = True
) -> dict[str, float]:
    more = ["--handlers", handlers] if handlers else []
    import function_env

    env = function_env.environment(impl if in_lambda else None)
    done = subprocess.run(
        [sys.executable, __file__, "--worker", impl, case, str(path), *more],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout)
    return result


def run_case(impl: str, case: str, path: Path, before: str | None = None, in_lambda: bool = True) -> dict[str, float]:
    """One run of `naive`, or of ours: validate, then transform, each in its own process.

    `ours` transforms as the pipeline does (the validated, pinned version is not checked again);
    `ours-recheck` transforms with every rule checked a second time; `before` is `ours` with the
    handlers found in the folder `before`.
    """
    if impl == "naive":
        return _worker_process("naive", case, path)
    handlers = before if impl == "before" else None
    checked = _worker_process("validate", case, path, handlers, in_lambda)
    passes = "transform-recheck" if impl == "ours-recheck" else "transform"
    written = _worker_process(passes, case, path, handlers, in_lambda)
    return {
        "seconds": checked["seconds"] + written["seconds"],
        "rows": written["rows"],
        "peak_mb": max(checked["peak_mb"], written["peak_mb"]),
        "mb": written["mb"],
        "validate_s": checked["seconds"],
        "transform_s": written["seconds"],
    }


def dataset(case: str, rows: int) -> Path:
    import datagen

    OUT.mkdir(exist_ok=True)
    _, suffix, write = datagen.CASES[case]
    path = OUT / f"tx-{rows}.{suffix}"
    if not path.exists():
        write(path, rows)
    return path


def baseline_mb() -> float:
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path[:0]={[str(HERE.parent / 'handlers')]!r}; "
         "import etl_handlers.core, resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "FMT", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="add the 1 GB memory case")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="throughput cases' rows")
    parser.add_argument("--cases", nargs="+", default=["csv", "csv-quoted", "json", "jsonl"], help="datagen.CASES")
    parser.add_argument("--before", metavar="DIR", help="also measure the handlers in DIR (e.g. an earlier commit's)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak memory cases")
    parser.add_argument(
        "--outside-lambda",
        action="store_true",
        help="run each pass without a function's memory size, as the CLI does (ids spill past 32 MiB)",
    )
    parser.add_argument("--handlers", help=argparse.SUPPRESS)
    args = parser.parse_args()
    in_lambda = not args.outside_lambda
    if args.worker:
        if args.handlers:
            sys.path.insert(0, args.handlers)
        impl, case, path = args.worker
        print(json.dumps(worker(impl, case, Path(path))))
        return

    import datagen

    report: dict[str, list[dict[str, object]]] = {"throughput": [], "memory": []}
    print(f"interpreter with the core imported: {baseline_mb():.0f} MB peak RSS\n")
    print("throughput: validate+transform (ours, two streaming passes) vs naive (one in-memory pass)")
    print("(ours: transform as the pipeline runs it on the validated version; ours-recheck: every rule again)")
    if in_lambda:
        import function_env

        memory = function_env.memory_mb()
        print(f"(each pass with the default function's memory: validate {memory['validate']} MB, "
              f"transform {memory['transform']} MB)")  # fmt: skip
    else:
        print("(each pass outside Lambda: no function memory size)")
    print(f"{'case':<22}{'impl':<14}{'median s':>10}{'rows/s':>12}{'MB/s':>8}{'ratio':>8}{'peak MB':>9}")
    impls = ["naive", *(["before"] if args.before else []), "ours", "ours-recheck"]
    for case in args.cases:
        for rows in args.rows:
            path = dataset(case, rows)
            # Interleaved, a round of every impl at a time: a drift in the machine's speed hits them alike.
            rounds: dict[str, list[dict[str, float]]] = {impl: [] for impl in impls}
            for _ in range(args.repeat):
                for impl in impls:
                    rounds[impl].append(run_case(impl, case, path, args.before, in_lambda))
            medians = {impl: statistics.median(r["seconds"] for r in rounds[impl]) for impl in impls}
            for impl in impls:
                runs = rounds[impl]
                seconds = medians[impl]
                mb = runs[0]["mb"]
                ratio = medians["naive"] / seconds
                peak = max(r["peak_mb"] for r in runs)
                print(f"{case + ' ' + format(rows, ','):<22}{impl:<14}{seconds:>10.2f}{rows / seconds:>12,.0f}"
                      f"{mb / seconds:>8.1f}{ratio:>8.2f}{peak:>9.0f}", flush=True)  # fmt: skip
                report["throughput"].append(
                    {"case": case, "rows": rows, "impl": impl, "median_s": seconds, "rows_per_s": rows / seconds,
                     "mb_per_s": mb / seconds, "ratio_to_naive": ratio, "peak_mb": peak,
                     "runs": [r["seconds"] for r in runs]}
                )  # fmt: skip

    print("\npeak memory (RSS of the whole process), CSV input")
    print(f"{'input':<10}{'rows':>12}{'ours MB':>10}{'naive MB':>10}")
    sizes = [] if args.no_memory else [10_000_000, 100_000_000] + ([1_000_000_000] if args.full else [])
    for size in sizes:
        rows = datagen.rows_for_bytes(size)
        path = dataset("csv", rows)
        ours = run_case("ours", "csv", path, in_lambda=in_lambda)
        naive = run_case("naive", "csv", path)
        print(f"{format(size / 1e6, '.0f') + ' MB':<10}{rows:>12,}{ours['peak_mb']:>10.0f}{naive['peak_mb']:>10.0f}")
        report["memory"].append({"input_mb": ours["mb"], "rows": rows, "ours_peak_mb": ours["peak_mb"],
                                 "naive_peak_mb": naive["peak_mb"]})  # fmt: skip
    (OUT / "results.json").write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
