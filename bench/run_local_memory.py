"""Benchmark (not a test): peak memory and wall time of `etl-constructs run-local` on one large file.

    python bench/run_local_memory.py                          # 200,000 and 1,000,000 rows
    python bench/run_local_memory.py --rows 50000 --repeat 3  # medians of three runs

For each row count, a valid transaction CSV (the data contract's default schema, see
bench/datagen.py) is written to a temporary folder and run through a default EtlPipeline by
`etl-constructs run-local --template ...`, in a child process. The template is synthesized once
per invocation into a temporary folder, unless `--template` names one. The child's
peak is its maximum resident set size as the kernel reports it when it is reaped (`wait4`): the
whole run-local process, moto and the functions' code included. Results also go to
bench/out/run-local-memory.json (ignored by git).
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

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))


def default_template(outdir: Path) -> Path:
    """The template of a default EtlPipeline (of the constructs as they are now), synthesized into `outdir`."""
    from etl_constructs.local import synthesize_default

    return synthesize_default(outdir)


def _command() -> list[str]:
    script = Path(sys.executable).parent / "etl-constructs"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "etl_constructs.cli"]


def run_once(template: Path, csv: Path, out: Path, rows: int) -> dict[str, float]:
    """Run one file through run-local in a child process; its peak RSS (MB) and wall time (s)."""
    command = [*_command(), "run-local", "--template", str(template), "--out", str(out), "--quiet", str(csv)]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as report, tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, stdout=report, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        report.seek(0)
        errors.seek(0)
        text = report.read().decode()
        if child.returncode != 0:
            raise RuntimeError(f"run-local exited {child.returncode}: {errors.read().decode()[-2000:]}{text[-2000:]}")
    (file,) = json.loads(text)["files"]
    if file["status"] != "COMPLETED" or file["rows_total"] != rows:
        raise RuntimeError(f"run-local reported {file['status']} with {file['rows_total']} rows: {file['errors'][:3]}")
    return {"peak_mb": usage.ru_maxrss / 1024, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per row count (medians are reported)")
    parser.add_argument("--template", type=Path, help="a synthesized template; default: a default EtlPipeline")
    args = parser.parse_args()

    import datagen

    synthesized = tempfile.TemporaryDirectory(prefix="run-local-memory-template-")
    template = args.template or default_template(Path(synthesized.name))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"run-local peak RSS and wall time; {os.cpu_count()} cores, load average {load}")
    print(f"command: {' '.join(_command())} run-local --template {template} --out OUT --quiet FILE\n")
    print(f"{'rows':>10}{'input MB':>10}{'peak MB':>10}{'wall s':>9}   runs (peak MB / s)")
    results = []
    for rows in args.rows:
        folder = Path(tempfile.mkdtemp(prefix="run-local-memory-"))
        try:
            csv = datagen.write_csv(folder / f"tx-{rows}.csv", rows)
            runs = [run_once(template, csv, folder / f"out-{i}", rows) for i in range(args.repeat)]
            size_mb = csv.stat().st_size / 1e6
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        peak = statistics.median(r["peak_mb"] for r in runs)
        seconds = statistics.median(r["seconds"] for r in runs)
        detail = ", ".join(f"{r['peak_mb']:.0f} / {r['seconds']:.1f}" for r in runs)
        print(f"{rows:>10,}{size_mb:>10.1f}{peak:>10.0f}{seconds:>9.1f}   {detail}")
        results.append({"rows": rows, "input_mb": size_mb, "peak_mb": peak, "seconds": seconds, "runs": runs})
    synthesized.cleanup()
    OUT.mkdir(exist_ok=True)
    (OUT / "run-local-memory.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {OUT / 'run-local-memory.json'}")


if __name__ == "__main__":
    main()
