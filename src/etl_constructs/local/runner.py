"""Run files through the synthesized pipeline in moto: upload, match the rule, execute, report."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .emulator import Pipeline, RuleTarget, build
from .fidelity import aws_fidelity, event_key
from .invoke import FaultHook, in_process_lambda
from .template import REGION, Template, TemplateError

_EXECUTION_TIMEOUT_S = 300.0
#: The status of a file that started no workflow: it has no ledger item and no file id.
NOT_STARTED = "NOT_STARTED"
#: What the quarantine report adds to the quarantine copy's key.
REPORT_SUFFIX = ".errors.json"
#: Most file systems allow 255 bytes a name; a report's name must fit beside its copy's.
_MAX_NAME_BYTES = 255 - len(REPORT_SUFFIX)


@dataclass
class FileReport:
    """What happened to one file, as `run-local` reports it."""

    file: str
    key: str
    file_id: str | None
    status: str
    rows_total: int | None = None
    rows_valid: int | None = None
    rows_rejected: int | None = None
    output: str | None = None
    quarantine: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON object."""
        return asdict(self)


@dataclass
class LocalRun:
    """The reports of one run, in the order the files were given."""

    files: list[FileReport]

    @property
    def ok(self) -> bool:
        """True when every file ended COMPLETED."""
        return all(f.status == "COMPLETED" for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """`{"files": [...]}`."""
        return {"files": [f.to_dict() for f in self.files]}


@dataclass(frozen=True)
class Upload:
    """An object version put into the raw bucket."""

    file: str
    key: str
    version: str


def synthesize_default(outdir: Path) -> Path:
    """Synthesize a stack holding a default EtlPipeline into `outdir`; return the template's path."""
    import aws_cdk as cdk

    from ..pipeline import EtlPipeline

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "EtlConstructsLocal")
    EtlPipeline(stack, "Pipeline")
    app.synth()
    return outdir / "EtlConstructsLocal.template.json"


def _fake_credentials() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _quiet_moto() -> Iterator[None]:
    """moto logs a Fail state (a rejected file) as an ERROR with its internals; the report says it better."""
    emulator = logging.getLogger("moto")
    level = emulator.level
    emulator.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        emulator.setLevel(level)


def _forget_cached_clients() -> None:
    runtime = sys.modules.get("etl_handlers.runtime")
    if runtime is not None:
        runtime.runtime.cache_clear()


def execution_input(rule: RuleTarget, event: dict[str, Any]) -> str:
    """The input EventBridge gives the target: its InputTransformer, Input, InputPath, or the event."""
    target = rule.target
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.dumps(event)
    text = str(transformer["InputTemplate"])
    for name, path in transformer.get("InputPathsMap", {}).items():
        text = text.replace(f"<{name}>", json.dumps(_path(event, path)))
    return text


def _path(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        value = value.get(part) if isinstance(value, dict) else None
    return value


class LocalPipeline:
    """The synthesized pipeline emulated in-process: moto for AWS, the real definition and handlers.

    Use it as a context manager; `run(files)` does what `etl-constructs run-local` does, and the
    lower-level steps (`upload`, `matched_events`, `start`, `wait`) let a test deliver an event
    twice or fail a dependency on purpose (`before_invoke`).
    """

    def __init__(
        self,
        template: Path | str | None = None,
        out: Path | str | None = None,
        before_invoke: FaultHook | None = None,
        log: TextIO | None = None,
    ) -> None:
        self._template_path = Path(template) if template else None
        self.out = Path(out) if out else Path("local-out")
        self._before_invoke = before_invoke
        self._log = log
        self._stack = ExitStack()
        self.clients: dict[str, Any] = {}
        self.pipeline: Pipeline

    def __enter__(self) -> LocalPipeline:
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _open(self) -> None:
        import boto3
        from moto import mock_aws

        stack = self._stack
        path = self._template_path
        if path is None:
            path = synthesize_default(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="etl-local-"))))
        if not path.is_file():
            raise TemplateError(f"no template at {path}")
        template = Template.load(path)
        stack.enter_context(_environment(_fake_credentials()))
        if self._log is not None:
            stack.enter_context(redirect_stdout(self._log))  # the handlers' logs and metrics
        stack.enter_context(_quiet_moto())
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        names = ("s3", "dynamodb", "lambda", "stepfunctions", "events", "sqs", "iam")
        self.clients = {n: boto3.client(n, region_name=REGION) for n in names}
        self.pipeline = build(template, self.clients)
        _forget_cached_clients()
        stack.callback(_forget_cached_clients)
        stack.enter_context(in_process_lambda(self.pipeline.functions, self._before_invoke))
        stack.enter_context(aws_fidelity())

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def upload(self, file: Path | str, key: str) -> Upload:
        """Put a local file into the raw bucket under `key`."""
        body = Path(file).read_bytes()
        put = self.clients["s3"].put_object(Bucket=self.pipeline.raw_bucket, Key=key, Body=body)
        return Upload(str(file), key, put.get("VersionId") or "null")

    def matched_events(self) -> list[dict[str, Any]]:
        """The events the pipeline's rule matched since the last call (EventBridge's real pattern)."""
        sqs = self.clients["sqs"]
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.pipeline.rule.capture_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return [e for e in found if e.get("source") == "aws.s3"]
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.pipeline.rule.capture_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def start(self, event: dict[str, Any]) -> str:
        """Start an execution for a matched event with the rule target's input; return its ARN."""
        started = self.clients["stepfunctions"].start_execution(
            stateMachineArn=self.pipeline.state_machine_arn,
            name=uuid.uuid4().hex,  # EventBridge names executions itself; moto needs one given
            input=execution_input(self.pipeline.rule, event),
        )
        arn: str = started["executionArn"]
        return arn

    def wait(
        self,
        executions: Sequence[str],
        timeout_s: float = _EXECUTION_TIMEOUT_S,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, str]:
        """Wait until each execution has ended (telling `progress` how many have); return ARN -> status."""
        sfn = self.clients["stepfunctions"]
        deadline = time.monotonic() + timeout_s
        ended: dict[str, str] = {}
        while len(ended) < len(executions):
            for arn in executions:
                if arn not in ended:
                    status = sfn.describe_execution(executionArn=arn)["status"]
                    if status != "RUNNING":
                        ended[arn] = status
                        if progress is not None:
                            progress(len(ended))
            if len(ended) < len(executions):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(executions) - len(ended)} executions still running after {timeout_s}s")
                time.sleep(0.01)
        return ended

    def ledger_item(self, file_id: str) -> dict[str, Any] | None:
        """The ledger's item as plain values (numbers as int), or None."""
        item = (
            self.clients["dynamodb"]
            .get_item(TableName=self.pipeline.table, Key={"file_id": {"S": file_id}}, ConsistentRead=True)
            .get("Item")
        )
        if item is None:
            return None
        plain: dict[str, Any] = {}
        for name, value in item.items():
            ((kind, inner),) = value.items()
            plain[name] = int(inner) if kind == "N" else None if kind == "NULL" else inner
        return plain

    def file_id(self, upload: Upload) -> str:
        """The ledger key of an upload, as the state machine derives it (from the key as S3's event writes it)."""
        return f"s3://{self.pipeline.raw_bucket}/{event_key(upload.key)}?versionId={upload.version}"

    def run(
        self,
        files: Sequence[Path | str],
        prefix: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> LocalRun:
        """Upload each file under `prefix` (default: the pipeline's input prefix), run, and report."""
        head = self.pipeline.input_prefix if prefix is None else prefix
        return self.process([self.upload(f, head + Path(f).name) for f in files], progress=progress)

    def process(self, uploads: Sequence[Upload], progress: Callable[[int], None] | None = None) -> LocalRun:
        """Start an execution for each upload the rule matched, wait for them all, and report."""
        by_version = {(event_key(u.key), u.version): u for u in uploads}
        started: dict[Upload, str] = {}
        for event in self.matched_events():
            obj = event.get("detail", {}).get("object", {})
            upload = by_version.get((obj.get("key"), obj.get("version-id") or "null"))
            if upload is not None and upload not in started:
                started[upload] = self.start(event)
        unmatched = len(uploads) - len(started)
        if progress is not None and unmatched:
            progress(unmatched)  # files no rule matched are done at once
        if started:
            self.wait(list(started.values()), progress=None if progress is None else lambda n: progress(unmatched + n))
        return LocalRun([self.report(upload, matched=upload in started) for upload in uploads])

    def report(self, upload: Upload, matched: bool) -> FileReport:
        """Read the ledger, the output and the quarantine for one upload."""
        file_id = self.file_id(upload)
        item = self.ledger_item(file_id) if matched else None
        if item is None:
            # No workflow recorded it: the rule did not match, or the first state turned the suffix away.
            return FileReport(
                file=upload.file,
                key=upload.key,
                file_id=None,
                status=NOT_STARTED,
                errors=[{"row": None, "field": None, "message": self._not_started_reason(upload.key)}],
            )
        report = FileReport(
            file=upload.file,
            key=upload.key,
            file_id=file_id,
            status=item.get("status", "UNKNOWN"),
            rows_total=item.get("rows_total"),
            rows_valid=item.get("rows_valid"),
            rows_rejected=item.get("rows_rejected"),
        )
        if item.get("output_key"):
            report.output = self._download(item["output_bucket"], item["output_key"])
        if item.get("quarantine_key"):
            report.quarantine = self._download(item["quarantine_bucket"], item["quarantine_key"])
            self._download(item["quarantine_bucket"], item["quarantine_key"] + REPORT_SUFFIX)
            report.errors = self._errors(item)
        elif item.get("status") != "COMPLETED":
            report.errors = [{"row": None, "field": None, "message": _fault_message(item)}]
        return report

    def _not_started_reason(self, key: str) -> str:
        """Why no workflow started for `key`: outside the prefix, a suffix not accepted, or no events."""
        prefix = self.pipeline.input_prefix
        if not key.startswith(prefix):
            return f"not started: outside the input prefix {prefix!r}"
        config = json.loads(next(iter(self.pipeline.functions.values())).environment.get("ETL_CONFIG") or "{}")
        suffixes = config.get("suffixes") or []
        if suffixes and not key.lower().endswith(tuple(suffixes)):
            return f"not started: suffix not accepted (accepted: {', '.join(suffixes)})"
        return "not started: the raw bucket sends no events to EventBridge, or no rule matched"

    def local_path(self, bucket: str, key: str) -> Path:
        """Where an object is downloaded: `out/bucket/key`, each part of the key made a safe file name.

        A key may hold parts a file system refuses or reads otherwise (`..`, an empty part, a part
        longer than a file name may be); those are renamed, so every object lands inside `out`,
        and a quarantine report lands beside its copy, named as the copy with `.errors.json` added.
        """
        if key.endswith(REPORT_SUFFIX):
            copy = self.local_path(bucket, key.removesuffix(REPORT_SUFFIX))
            return copy.with_name(copy.name + REPORT_SUFFIX)
        return self.out.joinpath(_file_name(bucket), *(_file_name(part) for part in key.split("/")))

    def _download(self, bucket: str, key: str) -> str | None:
        try:
            body = self.clients["s3"].get_object(Bucket=bucket, Key=key)["Body"]
        except self.clients["s3"].exceptions.NoSuchKey:
            return None
        target = self.local_path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as sink:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                sink.write(chunk)
        return str(target)

    def _errors(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            raw = self.clients["s3"].get_object(
                Bucket=item["quarantine_bucket"], Key=item["quarantine_key"] + REPORT_SUFFIX
            )
        except self.clients["s3"].exceptions.NoSuchKey:
            return [{"row": None, "field": None, "message": _fault_message(item)}]
        errors: list[dict[str, Any]] = json.loads(raw["Body"].read())["errors"]
        return errors


def _file_name(part: str) -> str:
    if part in ("", ".", ".."):
        return part.replace(".", "%2E") or "%"
    part = part.replace("\0", "%00")
    if len(part.encode("utf-8")) <= _MAX_NAME_BYTES:
        return part
    # A long part keeps its head and a digest of the whole, so two long parts stay apart.
    digest = "~sha256-" + hashlib.sha256(part.encode("utf-8")).hexdigest()[:32]
    head = part.encode("utf-8")[: _MAX_NAME_BYTES - len(digest)].decode("utf-8", "ignore")
    return head + digest


def _fault_message(item: dict[str, Any]) -> str:
    if not item:
        return "no ledger item was recorded"
    error, cause = item.get("error"), item.get("cause")
    return ": ".join(str(p) for p in (error, cause) if p) or f"ended in {item.get('status')}"


def run_local(
    files: Sequence[Path | str],
    template: Path | str | None = None,
    prefix: str | None = None,
    out: Path | str | None = None,
    log: TextIO | None = None,
    progress: Callable[[int], None] | None = None,
) -> LocalRun:
    """Run `files` through the pipeline of `template` (default: a default EtlPipeline) locally."""
    with LocalPipeline(template=template, out=out, log=log) as local:
        return local.run(files, prefix=prefix, progress=progress)
