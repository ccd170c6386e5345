"""The operating commands of `etl-constructs`: `ledger list`, `ledger show`, `reprocess`, `backfill`.

They act on a deployed stack (`--stack NAME`, found through CloudFormation with your AWS
credentials) or, for `ledger`, on a run-local's state (`--out DIR`). boto3 is imported when a
command runs, so `etl-constructs --help` needs none of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import UsageError
from .statuses import ALL, DEFERRED, FINAL

Command = Callable[[argparse.Namespace], int]


def _target(parser: argparse.ArgumentParser, local: bool) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", metavar="NAME", help="a deployed stack holding the pipeline (CloudFormation)")
    if local:
        where.add_argument(
            "--out", type=Path, metavar="DIR", help="a run-local's --out folder: its ledger after the run"
        )
        where.add_argument("--table", metavar="NAME", help="the ledger table, named directly")
    parser.add_argument("--pipeline", metavar="NAME", help="the EtlPipeline of a stack holding several")
    parser.add_argument("--region", metavar="REGION", help="the stack's region; default: your AWS configuration's")
    parser.add_argument("--profile", metavar="PROFILE", help="the AWS profile to use; default: your configuration's")


def _since(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--since",
        metavar="TIME",
        help=f"only {what} at or after this UTC time (ISO 8601: 2024-03-01 or 2024-03-01T12:00:00Z)",
    )


def add_commands(commands: Any) -> dict[str, Command]:
    """Add the operating commands to the `etl-constructs` parser's subparsers; return their handlers."""
    ledger = commands.add_parser("ledger", help="inspect the ledger: list items, show one file's history")
    views = ledger.add_subparsers(dest="view", required=True)
    listing = views.add_parser("list", help="items by status and time, from the status index (newest first)")
    listing.add_argument(
        "--status", action="append", choices=ALL, help="this status (repeat for several); default: all"
    )
    _since(listing, "items updated")
    listing.add_argument("--prefix", metavar="P", help="only keys starting with P (the key as S3's events write it)")
    listing.add_argument("--json", action="store_true", help="print JSON (one array of items) instead of a table")
    _target(listing, local=True)
    show = views.add_parser("show", help="one file version's whole history: every attempt")
    show.add_argument("file_id", metavar="FILE_ID", help="the ledger key: s3://bucket/key?versionId=v")
    show.add_argument("--json", action="store_true", help="print the item as JSON, attempts in order")
    _target(show, local=True)

    again = commands.add_parser(
        "reprocess",
        help="run known file versions again, each as a new attempt (failed ones; COMPLETED with --force);"
        " a DEFERRED one (throttled past its budget) resumes the same attempt at once, without waiting for"
        " the sweep",
    )
    again.add_argument("file_ids", nargs="*", metavar="FILE_ID", help="ledger keys to run again")
    again.add_argument("--status", action="append", choices=(*FINAL, DEFERRED), help="also every item in this status")
    _since(again, "items (with --status) updated")
    again.add_argument("--force", action="store_true", help="run COMPLETED versions again too (new rules)")
    again.add_argument("--dry-run", action="store_true", help="say what would start; start nothing")
    again.add_argument("--json", action="store_true", help="print each file's outcome as JSON")
    _target(again, local=False)

    fill = commands.add_parser(
        "backfill", help="start one attempt for each object version of the raw bucket the ledger does not know"
    )
    fill.add_argument("--prefix", metavar="P", help="where to look; default: the pipeline's input prefix")
    _since(fill, "object versions last modified")
    fill.add_argument("--dry-run", action="store_true", help="count and list; start nothing")
    fill.add_argument("--rate", type=float, default=20.0, metavar="N", help="executions started per second at most")
    fill.add_argument("--checkpoint", type=Path, metavar="FILE", help="record progress here; a rerun resumes")
    fill.add_argument("--json", action="store_true", help="print the result as JSON")
    _target(fill, local=False)

    price = commands.add_parser("cost", help="price a synthesized pipeline for a month of files (no AWS call)")
    price.add_argument("--template", type=Path, required=True, metavar="PATH", help="a template file or cdk.out")
    price.add_argument("--stack", metavar="NAME", help="the stack of a cloud assembly holding several")
    price.add_argument("--pipeline", metavar="NAME", help="the EtlPipeline of a stack holding several")
    price.add_argument("--files-per-month", type=float, required=True, metavar="N", help="files a month")
    price.add_argument("--mean-size", type=float, required=True, metavar="MB", help="mean file size in MB")
    price.add_argument("--rejected-share", type=float, default=0.01, metavar="F", help="share rejected; default 0.01")
    price.add_argument("--region", default="us-east-1", help="the price list's region; default us-east-1")
    price.add_argument("--seed", action="store_true", help="price the seed's shape instead, on the same files")
    price.add_argument("--json", action="store_true", help="print the report as JSON")
    return {
        "ledger": _aws_errors(_ledger),
        "reprocess": _aws_errors(_reprocess),
        "backfill": _aws_errors(_backfill),
        "cost": _cost,
    }


def _aws_errors(command: Command) -> Command:
    """`command` with AWS's refusals (no credentials, access denied, no such table) as usage errors, exit 2:
    they are the account's answer, not a bug of ours."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except Exception as exc:
            from botocore.exceptions import BotoCoreError, ClientError

            if isinstance(exc, ClientError | BotoCoreError):
                raise UsageError(f"AWS refused the call: {exc}") from exc
            raise

    return run


def _time(text: str | None) -> str | None:
    """An ISO 8601 time as the ledger writes its stamps (`2024-03-01T12:00:00.000Z`), for comparisons."""
    if text is None:
        return None
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r} is not an ISO 8601 time (2024-03-01 or 2024-03-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def _clients(args: argparse.Namespace, *names: str) -> list[Any]:
    try:
        import boto3
    except ModuleNotFoundError:
        raise UsageError("this command needs boto3: pip install 'etl-constructs[ops]'") from None
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    return [session.client(name) for name in names]


def _resources(args: argparse.Namespace) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    from .local.template import TemplateError
    from .ops.locate import PipelineResources

    (cloudformation,) = _clients(args, "cloudformation")
    try:
        return PipelineResources.from_stack(cloudformation, args.stack, args.pipeline)
    except (ClientError, BotoCoreError, TemplateError) as exc:
        raise UsageError(f"cannot find the pipeline of the stack {args.stack!r}: {exc}") from exc


def _local_items(out: Path) -> list[dict[str, Any]]:
    from .ops.ledger_view import LEDGER_SNAPSHOT

    path = out / LEDGER_SNAPSHOT
    try:
        items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["items"]
    except FileNotFoundError:
        raise UsageError(
            f"no {LEDGER_SNAPSHOT} in {out}: run `etl-constructs run-local --out {out} ...` first"
        ) from None
    return items


def _ledger(args: argparse.Namespace) -> int:
    from .ops import ledger_view

    since = _time(getattr(args, "since", None))
    if args.out is not None:
        items = _local_items(args.out)
        if args.view == "list":
            items = [
                i
                for i in items
                if (not args.status or i.get("status") in args.status)
                and (since is None or str(i.get("updated_at", "")) >= since)
                and (not args.prefix or str(i.get("key", "")).startswith(args.prefix))
            ]
    else:
        (dynamodb,) = _clients(args, "dynamodb")
        table = args.table or _resources(args).table
        if args.view == "list":
            items = ledger_view.list_items(dynamodb, table, args.status or (), since, args.prefix)
        else:
            found = ledger_view.get_item(dynamodb, table, args.file_id)
            items = [found] if found is not None else []
    if args.view == "show":
        matching = [i for i in items if i.get("file_id") == args.file_id]
        if not matching:
            raise UsageError(f"no ledger item {args.file_id!r}")
        (item,) = matching
        if args.json:
            print(json.dumps({**item, "attempts": ledger_view.attempts(item)}, indent=2))
        else:
            sys.stdout.write(ledger_view.show_text(item))
        return 0
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        sys.stdout.write(ledger_view.table_text(items))
        print(f"{len(items)} item(s)", file=sys.stderr)
    return 0


def _reprocess(args: argparse.Namespace) -> int:
    from .cli import _Progress
    from .ops import ledger_view, reprocess

    resources = _resources(args)
    dynamodb, stepfunctions = _clients(args, "dynamodb", "stepfunctions")
    file_ids = list(args.file_ids)
    if args.status:
        found = ledger_view.list_items(dynamodb, resources.table, args.status, _time(args.since))
        file_ids += [i["file_id"] for i in found]
    elif args.since:
        raise UsageError("--since selects with --status: give --status too")
    if not file_ids:
        raise UsageError("give FILE_IDs, or --status (and --since) to select them")
    file_ids = list(dict.fromkeys(file_ids))
    progress = _Progress(len(file_ids), enabled=not args.json, stream=sys.stderr)
    results = reprocess(dynamodb, stepfunctions, resources, file_ids, args.force, args.dry_run, progress)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            detail = r.reason or f"attempt {r.attempt}: {r.execution}"
            print(f"{r.outcome:<16} {r.file_id}  {detail}")
    return 0 if all(r.outcome != "skipped" for r in results) else 1


def _backfill(args: argparse.Namespace) -> int:
    from .ops import backfill

    resources = _resources(args)
    s3, dynamodb, stepfunctions = _clients(args, "s3", "dynamodb", "stepfunctions")

    def progress(result: Any) -> None:
        if not args.json:
            print(
                f"etl-constructs: {result.listed} listed, {result.eligible} eligible, {result.known} known,"
                f" {result.started + result.would_start} to run",
                file=sys.stderr,
            )

    try:
        result = backfill(
            s3,
            dynamodb,
            stepfunctions,
            resources,
            prefix=args.prefix,
            since=_time(args.since),
            dry_run=args.dry_run,
            rate=args.rate,
            checkpoint=args.checkpoint,
            progress=progress,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(result.to_dict(), indent=2) if args.json else _summary(result, args.dry_run))
    return 0


def _summary(result: Any, dry_run: bool) -> str:
    verb = "would start" if dry_run else "started"
    count = result.would_start if dry_run else result.started
    return (
        f"{result.listed} object version(s) listed, {result.eligible} eligible, {result.known} already in the"
        f" ledger; {verb} {count}, {result.already_started} already started"
    )


def _cost(args: argparse.Namespace) -> int:
    from .cost import SEED, estimate, shape_of
    from .local.template import TemplateError

    if args.files_per_month < 0 or args.mean_size < 0 or not 0 <= args.rejected_share <= 1:
        raise UsageError("--files-per-month and --mean-size must be 0 or more, --rejected-share between 0 and 1")
    try:
        shape = SEED if args.seed else shape_of(args.template, args.stack, args.pipeline)
        report = estimate(shape, args.files_per_month, args.mean_size, args.rejected_share, args.region, args.seed)
    except (TemplateError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        sys.stdout.write(report.text())
    return 0
