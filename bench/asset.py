"""Benchmark (not a test): the handler asset's size, and the cold-start import cost of the vendored Powertools.

    .venv/bin/python bench/asset.py [--runs 15]

Sizes: the asset's files as CDK stages them (ASSET_EXCLUDES left out), unzipped and zipped (deflate, level 9,
as CDK zips an asset); before = `etl_handlers/` alone, after = the whole asset with the vendored packages.

Import times: each run is a fresh `python -I -S -B` whose sys.path is only the asset folder and a folder of
what Lambda's Python runtime provides (boto3 and its dependencies, linked from this venv), timed inside the
interpreter, so its own start-up is left out. The environment is Lambda's with active tracing (the Tracer
builds its X-Ray provider and patches botocore; the trace is unsampled, so nothing is sent, but the X-Ray
SDK touches /tmp/.aws-xray/initialized as it does in Lambda). The asset ships no bytecode and /var/task is
read-only, so every cold start compiles the vendored sources; the last case shows what bytecode would save.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from etl_constructs.assets import ASSET_EXCLUDES, handler_asset_dir  # noqa: E402

LAMBDA_RUNTIME = ("boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil", "six")
HANDLERS = "import etl_handlers.validate_handler, etl_handlers.transform_handler"
POWERTOOLS = (
    "import aws_lambda_powertools\n"
    "from aws_lambda_powertools import Logger, Metrics, Tracer\n"
    "Logger(); Metrics(); Tracer()"
)
BOTO3 = "import boto3"
TIMED = """
import sys, time
sys.path[:0] = sys.argv[1:]
{setup}
started = time.perf_counter()
{statement}
print(time.perf_counter() - started)
"""


def shipped(folder: Path) -> list[Path]:
    """The files of `folder` that CDK stages (a simplified reading of ASSET_EXCLUDES)."""
    skipped_dirs = {p.removeprefix("**/") for p in ASSET_EXCLUDES if "*." not in p}
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not skipped_dirs & set(p.relative_to(folder).parts) and p.suffix != ".pyc"
    ]


def sizes(folder: Path, files: list[Path]) -> tuple[int, int]:
    """Unzipped and zipped bytes of `files`, named relative to `folder`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            archive.write(path, path.relative_to(folder).as_posix())
    return sum(p.stat().st_size for p in files), len(buffer.getvalue())


def lambda_runtime(folder: Path) -> Path:
    """A folder holding links to this venv's copies of what Lambda's Python runtime provides."""
    for name in LAMBDA_RUNTIME:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        source = Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
        (folder / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return folder


def timed(statement: str, path: list[Path], runs: int, setup: str = "") -> list[float]:
    """Seconds `statement` takes, after an untimed `setup`, in `runs` fresh isolated interpreters on `path`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LAMBDA_TASK_ROOT": str(path[0]),
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "EtlPipeline",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
    }
    code = TIMED.format(setup=setup, statement=statement)
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", code, *map(str, path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        out.append(float(done.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    asset = handler_asset_dir()
    files = shipped(asset)
    handlers = [p for p in files if p.relative_to(asset).parts[0] == "etl_handlers"]
    print(f"asset: {asset}")
    print("| asset | files | unzipped bytes | zipped bytes |\n| --- | ---: | ---: | ---: |")
    for label, chosen in (("before: etl_handlers alone", handlers), ("after: with the vendored packages", files)):
        unzipped, zipped = sizes(asset, chosen)
        print(f"| {label} | {len(chosen)} | {unzipped:,} | {zipped:,} |")

    with tempfile.TemporaryDirectory() as tmp:
        runtime = Path(tmp) / "runtime"
        runtime.mkdir()
        lambda_runtime(runtime)
        compiled = Path(tmp) / "compiled"
        shutil.copytree(asset, compiled)
        compileall.compile_dir(compiled, quiet=1)
        # The handlers import boto3 anyway: what Powertools adds to a cold start is its cost once boto3 is in.
        rows = [
            ("both handler modules", HANDLERS, asset, ""),
            ("Powertools: import, Logger(), Metrics(), Tracer()", POWERTOOLS, asset, ""),
            ("the same, boto3 already imported", POWERTOOLS, asset, BOTO3),
            ("the same, boto3 already imported, from bytecode", POWERTOOLS, compiled, BOTO3),
            ("boto3 alone (the runtime's, for scale)", BOTO3, asset, ""),
        ]
        print(f"\n{sys.implementation.cache_tag}, {args.runs} fresh interpreters each, ms")
        print("| import | median | min | max |\n| --- | ---: | ---: | ---: |")
        for label, statement, folder, setup in rows:
            times = [t * 1000 for t in timed(statement, [folder, runtime], args.runs, setup)]
            print(f"| {label} | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} |")


if __name__ == "__main__":
    main()
