"""Run files through the synthesized pipeline in moto: upload, match the rule, execute, report."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError

from .. import statuses
from ..ops.backfill import BackfillResult
from ..ops.ledger_view import LEDGER_SNAPSHOT
from ..ops.locate import DEFAULT_SUFFIXES, PipelineResources
from ..ops.reprocess import ReprocessResult
from . import principals
from .assembly import resolve_template
from .authorization import Denied, authorized_calls
from .calls import Principal, acting_as, calls_in_context, shared_task_clients
from .emulator import Pipeline, RuleTarget, build
from .environment import variables
from .faults import Fault, FaultPlan, injected
from .fidelity import aws_fidelity, event_key
from .invoke import FaultHook, LambdaService, forget_container, in_process_lambda
from .key_check import check_key_policies
from .parse_cache import parsed_once
from .streaming import put_file, streaming_s3
from .template import REGION, Template, TemplateError

#: How long run-local waits for the reconciler's executions.
_RECONCILE_TIMEOUT_S = 60.0


class SweepFailed(RuntimeError):
    """The sweep function failed (its SweepFailed alarm's case); the message is its error."""


#: How long `wait` waits when the state machine states no timeout of its own (Step Functions' default is a year).
_EXECUTION_TIMEOUT_S = 3600.0
#: Sweeps a run makes at most while some of its files are DEFERRED (each sweep begins up to 200 of them).
_RESUME_ROUNDS = 50
#: The status of a file that started no workflow: it has no ledger item and no file id.
NOT_STARTED = "NOT_STARTED"
#: What the quarantine report adds to the quarantine copy's key.
REPORT_SUFFIX = ".errors.json"
#: Most file systems allow 255 bytes a name; a report's name must fit beside its copy's.
_MAX_NAME_BYTES = 255 - len(REPORT_SUFFIX)


@dataclass
class FileReport:
    """What happened to one file, as `run-local` reports it.

    Attributes:
        file: the local file uploaded.
        key: the raw bucket key it was uploaded under.
        file_id: its ledger item's key; None when no workflow started.
        status: the ledger's final status, or NOT_STARTED / EXECUTION_FAILED (see the README).
        rows_total: rows read. Default: none (not validated).
        rows_valid: rows that passed validation. Default: none.
        rows_rejected: rows that broke the contract. Default: none.
        output: the local copy of its JSON Lines output. Default: none.
        quarantine: the local copy of its quarantined original. Default: none.
        errors: the error report's entries, or why it did not start. Default: none.
        attempts: function invocations tried for it, throttled ones included. Default: 0.
        throttles: invocations refused for want of concurrency. Default: 0.
        deferrals: times it was throttled past its budget and waited DEFERRED for the sweep. Default: 0.
    """

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
    #: Invocations of the functions tried for this file, throttled ones included.
    attempts: int = 0
    #: Invocations refused with `Lambda.TooManyRequestsException` (a concurrency limit).
    throttles: int = 0
    #: Times it was throttled past its budget and left DEFERRED for the sweep (the ledger's `deferrals`).
    deferrals: int = 0

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


def _fake_credentials() -> dict[str, str | None]:
    """The emulation's environment: no profile or config file of the user's is read (None unsets)."""
    return {
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": None,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        # Set for each invocation, as Lambda sets them; put back as they were when the run ends.
        "LAMBDA_TASK_ROOT": None,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": None,
    }


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


class _OnlyFrom:
    """A stdout that passes on what the main thread and one other write, and drops what other threads write."""

    def __init__(self, stream: TextIO, thread: threading.Thread) -> None:
        self._stream = stream
        self._threads = (threading.main_thread(), thread)

    def write(self, text: str) -> int:
        """Write `text` if one of the threads writes it; drop it otherwise."""
        return self._stream.write(text) if threading.current_thread() in self._threads else len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _handler_output(log: TextIO) -> Iterator[None]:
    """Point stdout at `log` while the pipeline runs.

    An interrupt (Ctrl-C) ends the run while executions' threads still run handlers, which print their
    logs and metrics on the way out: after the run, what a thread other than the caller's (or the main
    thread) prints is dropped, not mixed into the caller's stdout.
    """
    original, caller = sys.stdout, threading.current_thread()
    sys.stdout = log
    try:
        yield
    finally:
        others = [t for t in threading.enumerate() if t not in (caller, threading.main_thread()) and t.is_alive()]
        sys.stdout = _OnlyFrom(original, caller) if others else original


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
    twice. `inject(Fault...)` (or `faults=`) fails a call, loses a reply after the call was
    applied, or kills a function, on purpose.

    Every call is authorized as AWS would authorize it: a function signs as its execution role,
    a state machine's integrations as its role, the rule's target as the rule's role. Key
    policies are checked before anything runs.

    Args:
        template: a synthesized template (its assets beside it) or a cloud assembly folder.
            Default: a default EtlPipeline, synthesized now.
        out: the folder outputs, quarantine copies and reports are downloaded to. Default: `local-out`.
        before_invoke: called with a function's name and payload before each invocation.
        log: where the functions' logs go. Default: this process's stdout.
        stack: the stack of a cloud assembly holding several. Default: the only one.
        pipeline: the EtlPipeline of a stack holding several (construct id or path). Default: the only one.
        concurrency: each function's concurrency limit; invocations past it are throttled.
            Default: none but the reserved concurrency the template gives a function.
        faults: faults to inject from the start (more with `inject`). Default: none.
        backoff: the scale of the state machine's retry waits and Wait states: 1.0 waits as long as AWS would,
            0 does not wait. Default: 0 (retries still happen), or 1.0 when a concurrency limit
            is in effect, since only time relieves throttling.
    """

    def __init__(
        self,
        template: Path | str | None = None,
        out: Path | str | None = None,
        before_invoke: FaultHook | None = None,
        log: TextIO | None = None,
        *,
        stack: str | None = None,
        pipeline: str | None = None,
        concurrency: int | None = None,
        faults: Sequence[Fault] = (),
        backoff: float | None = None,
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be 1 or more")
        if backoff is not None and backoff < 0:
            raise ValueError("backoff must be 0 or more")
        self._template_path = Path(template) if template else None
        self._stack_name = stack
        self._pipeline_name = pipeline
        self._concurrency = concurrency
        self._backoff = backoff
        self.faults = FaultPlan(faults)
        self.out = Path(out) if out else Path("local-out")
        self._before_invoke = before_invoke
        self._log = log
        self._stack = ExitStack()
        self.clients: dict[str, Any] = {}
        self.pipeline: Pipeline
        self.lambda_service: LambdaService
        #: Every call refused for want of a permission, in order.
        self.refusals: list[Denied] = []
        self._executions: dict[Upload, str] = {}
        self._not_started: dict[Upload, str] = {}
        #: The events the rule delivered to the state machine so far, in order (what an archive keeps).
        self.delivered: list[dict[str, Any]] = []
        self._machine_types: dict[str, str] = {}
        #: The twin's executions already waited for (hand-overs are found by listing the twin's executions).
        self._twin_waited: set[str] = set()

    def __enter__(self) -> LocalPipeline:
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def inject(self, fault: Fault) -> Fault:
        """Inject `fault` from now on; return it (its `hits` count the requests it struck)."""
        return self.faults.add(fault)

    def _open(self) -> None:
        import boto3
        from moto import mock_aws
        from moto.core import enable_iam_authentication
        from moto.core.config import DefaultConfig

        stack = self._stack
        path = self._template_path
        if path is None:
            path = synthesize_default(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="etl-local-"))))
        if not path.exists():
            raise TemplateError(f"no template at {path}")
        template = Template.load(resolve_template(path, self._stack_name))
        check_key_policies(template)  # before anything runs, as AWS would refuse at deploy or first use
        stack.enter_context(variables(_fake_credentials()))
        if self._log is not None:
            stack.enter_context(_handler_output(self._log))  # the handlers' logs and metrics
        stack.enter_context(_quiet_moto())
        stack.enter_context(warnings.catch_warnings())
        # Powertools warns when a failed invocation flushes no metric: expected, and not the user's concern.
        warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
        # Our own fake credentials are set above, in Python's view only; moto's would write the C environment.
        config: DefaultConfig = {"core": {"mock_credentials": False}, "stepfunctions": {"execute_state_machine": True}}
        stack.enter_context(mock_aws(config=config))
        names = ("s3", "dynamodb", "lambda", "stepfunctions", "events", "sqs", "iam", "sts")
        self.clients = {n: boto3.client(n, region_name=REGION) for n in names}
        operator = principals.operator(self.clients["iam"])
        # The pipeline first: what it imports is refused by name before any policy is read.
        self.pipeline = build(template, self.clients, pipeline=self._pipeline_name)
        principals.attach_policies(template, self.clients["iam"])
        functions = self.pipeline.functions
        sts = self.clients["sts"]
        by_function = {
            f.name: principals.assume(sts, f.role_arn, f.name, f.name) for f in functions.values() if f.role_arn
        }
        by_role = {
            arn: principals.assume(sts, arn, "states", name) for arn, name in _state_machine_roles(template).items()
        }
        self._rule_roles = {r.rule_name: _rule_role(r, sts) for r in (self.pipeline.rule, *self.pipeline.other_rules)}
        self._rule_role = self._rule_roles[self.pipeline.rule.rule_name]
        limited = self._concurrency is not None or any(f.reserved_concurrency is not None for f in functions.values())
        backoff = self._backoff if self._backoff is not None else (1.0 if limited else 0.0)
        self.lambda_service = LambdaService(
            functions, by_function, self._concurrency, self.faults, self._before_invoke, backoff
        )
        forget_container()
        stack.callback(forget_container)
        stack.enter_context(calls_in_context(default=operator))
        stack.enter_context(shared_task_clients())
        stack.enter_context(principals.executions_as_their_roles(by_role))
        stack.enter_context(injected(self.faults))
        stack.enter_context(in_process_lambda(self.lambda_service))
        stack.enter_context(aws_fidelity())
        stack.enter_context(parsed_once())  # moto parses a definition per execution: once is enough
        stack.enter_context(streaming_s3())  # moto's S3 streams objects on disk instead of reading them whole
        self.refusals = stack.enter_context(authorized_calls(_kms_keys(template), _key_policies(template)))
        stack.enter_context(enable_iam_authentication())

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)

    def upload(self, file: Path | str, key: str) -> Upload:
        """Put a local file into the raw bucket under `key`, streamed as `aws s3 cp` sends it (`put_file`)."""
        return Upload(str(file), key, put_file(self.clients["s3"], self.pipeline.raw_bucket, key, Path(file)))

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
        """Start an execution for a matched event, as the rule's target does (with the rule's role); return its ARN.

        Raises botocore's ClientError (`AccessDeniedException`) when the rule's role may not start it.
        """
        with acting_as(self._rule_role):
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
        timeout_s: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, str]:
        """Wait until each execution has ended (telling `progress` how many have); return ARN -> status.

        `timeout_s` defaults to the state machine's own `TimeoutSeconds` (an hour if it states none).
        """
        sfn = self.clients["stepfunctions"]
        if timeout_s is None:
            timeout_s = self._execution_timeout()
        deadline = time.monotonic() + timeout_s
        ended: dict[str, str] = {}
        pending = set(executions)
        while pending:
            running = self._running(pending)
            for arn in sorted(pending - running):
                ended[arn] = sfn.describe_execution(executionArn=arn)["status"]
                pending.discard(arn)
                if progress is not None:
                    progress(len(ended))
            if pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(pending)} executions still running after {timeout_s}s")
                time.sleep(0.1)
        return ended

    def _execution_timeout(self) -> float:
        """The longest `TimeoutSeconds` of the data path's machines (an hour where one states none)."""
        sfn = self.clients["stepfunctions"]
        return max(
            float(
                json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]).get("TimeoutSeconds")
                or _EXECUTION_TIMEOUT_S
            )
            for arn in self.pipeline.data_machine_arns
        )

    def _wait_data_path(
        self, executions: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> dict[str, str]:
        """`wait`, then wait too for the executions the EXPRESS machine handed to its STANDARD twin meanwhile."""
        ended = self.wait(executions, progress=progress)
        twin = self.pipeline.large_file_state_machine_arn
        if twin:
            handed = self._executions_of({twin}) - self._twin_waited - set(ended)
            if handed:
                ended.update(self.wait(sorted(handed)))
            self._twin_waited |= ended.keys()  # restarts passed in, and hand-overs found
        return ended

    def _running(self, executions: set[str]) -> set[str]:
        """Those of `executions` still running: one listing per data-path machine, a look at each of the others."""
        sfn = self.clients["stepfunctions"]
        running: set[str] = set()
        rest = set(executions)
        for machine in sorted(self.pipeline.data_machine_arns):
            own = {arn for arn in rest if _state_machine_of(arn) == machine}
            rest -= own
            if not own:
                continue
            try:
                pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING")
                running |= {e["executionArn"] for page in pages for e in page["executions"]} & own
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidToken":
                    raise
                # moto's page token names the last execution listed; once that one ended, the token is
                # gone. Ask again next time round: until then, count them all as running.
                running |= own
        running |= {arn for arn in rest if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"}
        return running

    def ledger_item(self, file_id: str) -> dict[str, Any] | None:
        """The ledger's item as plain values (numbers as int), or None."""
        from ..ops.ledger_view import get_item

        return get_item(self.clients["dynamodb"], self.pipeline.table, file_id)

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
            if upload is not None and upload not in started and upload not in self._not_started:
                try:
                    started[upload] = self.start(event)
                    self.delivered.append(event)
                except ClientError as exc:  # EventBridge could not start it: the event goes to the rule's DLQ
                    self._not_started[upload] = f"not started: the rule could not start the workflow: {_message(exc)}"
                    self._dead_letter(self.pipeline.rule, event, exc)
        self._executions.update(started)
        unmatched = len(uploads) - len(started)
        if progress is not None and unmatched:
            progress(unmatched)  # files no rule matched are done at once
        if started:
            ended = self._wait_data_path(
                list(started.values()), progress=None if progress is None else lambda n: progress(unmatched + n)
            )
            self.reconcile(ended)
            self._resume_deferred(list(started))
            self._settle_as_the_sweep_would(started, ended)
        return LocalRun([self.report(upload, matched=upload in started) for upload in uploads])

    def _resume_deferred(self, uploads: Sequence[Upload]) -> None:
        """Run the sweep, as its schedule would, while some of `uploads` are DEFERRED (throttled past their
        budget) and each run completes some; when one completes none (a function refusing every call, its
        concurrency 0 say), they are left DEFERRED, as they would wait in AWS until there is room."""
        if not self.pipeline.sweep_function:
            return
        waiting = self._deferred(uploads)
        for _ in range(_RESUME_ROUNDS):
            if not waiting:
                return
            self.sweep()
            now = self._deferred(uploads)
            if now >= waiting:
                return
            waiting = now

    def _settle_as_the_sweep_would(self, started: dict[Upload, str], ended: dict[str, str]) -> None:
        """Run the sweep once, at the time it would find them, when some of `started` ended without a final
        status and no status-change event will come (the data path is EXPRESS): left in progress (a failure
        path that failed, a step that timed out) or, its execution failed, never recorded (RECEIVED or the
        hand-over refused: the input parked). In AWS the sweep settles them after the longest function timeout
        and its grace (parked inputs at its next run); the report gives the status they then have, as it does
        for what STANDARD's reconciler settles."""
        sweep = self.pipeline.functions.get(self.pipeline.sweep_function)
        if sweep is None or not self._express(self.pipeline.state_machine_arn):
            return
        for upload, execution in started.items():
            item = self.ledger_item(self.file_id(upload))
            if item is None and ended.get(execution) != "SUCCEEDED":
                break
            if item is not None and item.get("status") in statuses.IN_PROGRESS:
                break
        else:
            return
        # The EXPRESS machine's items have a cutoff of their own, when it has a twin.
        environment = sweep.environment
        after = int(environment.get("UNSETTLED_AFTER_EXPRESS_SECONDS") or environment["UNSETTLED_AFTER_SECONDS"]) + 60
        try:
            self.sweep(at=datetime.now(UTC) + timedelta(seconds=after))
        except SweepFailed as exc:  # its alarm's case in AWS: the items stay as they are, for the next run
            logging.getLogger(__name__).warning("the sweep failed; unsettled items are left as they are: %s", exc)

    def _deferred(self, uploads: Sequence[Upload]) -> int:
        items = (self.ledger_item(self.file_id(u)) for u in uploads)
        return sum(1 for item in items if item is not None and item.get("status") == statuses.DEFERRED)

    def _dead_letter(self, rule: RuleTarget, event: dict[str, Any], exc: ClientError) -> None:
        """Put an event its target could not take into the target's dead-letter queue, as EventBridge does.

        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
        """
        arn = str(rule.target.get("DeadLetterConfig", {}).get("Arn", ""))
        if not arn:
            return
        sqs = self.clients["sqs"]
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
        code = exc.response.get("Error", {}).get("Code", "")
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(event),
            MessageAttributes={"ERROR_CODE": {"DataType": "String", "StringValue": code or "Unknown"}},
        )

    def sweep(self, at: datetime | None = None) -> dict[str, Any]:
        """Run the pipeline's sweep once, as its schedule would at `at` (default: now); wait for what it started.

        `at` stands in for the clock, so a test can sweep "an hour later" at once. Returns what the
        sweep function returned; raises SweepFailed with its error when it failed (its alarm's case).
        """
        name = self.pipeline.sweep_function
        if not name:
            raise TemplateError("the pipeline has no sweep function (synthesized by an older etl-constructs?)")
        when = (at or datetime.now(UTC)).astimezone(UTC)
        event = {
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "detail": {},
        }
        machines = {*self.pipeline.data_machine_arns, *(r.state_machine_arn for r in self.pipeline.other_rules)}
        before = self._executions_of(machines)
        reply = self.clients["lambda"].invoke(FunctionName=name, Payload=json.dumps(event).encode())
        payload = json.loads(reply["Payload"].read() or b"null")
        self._settle_started(sorted(self._executions_of(machines) - before))
        if reply.get("FunctionError"):
            raise SweepFailed(str(payload.get("errorMessage") if isinstance(payload, dict) else payload))
        result: dict[str, Any] = payload
        return result

    @property
    def resources(self) -> PipelineResources:
        """The pipeline's parts by their names in the emulation, for the operations (`etl_constructs.ops`)."""
        suffixes = next(
            (
                tuple(json.loads(f.environment["ETL_CONFIG"])["suffixes"])
                for f in self.pipeline.functions.values()
                if "ETL_CONFIG" in f.environment
            ),
            DEFAULT_SUFFIXES,
        )
        return PipelineResources(
            table=self.pipeline.table,
            state_machine=self.pipeline.restart_machine_arn,
            raw_bucket=self.pipeline.raw_bucket,
            input_prefix=self.pipeline.input_prefix,
            suffixes=suffixes,
        )

    def reprocess(self, file_ids: Sequence[str], force: bool = False) -> list[ReprocessResult]:
        """Ask for a new attempt of each version, as `etl-constructs reprocess` does; wait for the attempts
        and settle what did not succeed. `force` runs COMPLETED versions again too."""
        from ..ops import reprocess

        results = reprocess(self.clients["dynamodb"], self.clients["stepfunctions"], self.resources, file_ids, force)
        self._settle_started([r.execution for r in results if r.outcome == "started" and r.execution])
        return results

    def backfill(
        self,
        prefix: str | None = None,
        since: str | None = None,
        dry_run: bool = False,
        checkpoint: Path | None = None,
        progress: Callable[[BackfillResult], None] | None = None,
        page_size: int = 1000,
    ) -> BackfillResult:
        """Start the data path for each object version of the raw bucket the ledger does not know, as
        `etl-constructs backfill` does (see `etl_constructs.ops.backfill`); wait for what it started and
        settle what did not succeed, also when `progress` interrupts it."""
        from ..ops import backfill

        machine = {self.pipeline.restart_machine_arn}
        before = self._executions_of(machine)
        try:
            return backfill(
                self.clients["s3"],
                self.clients["dynamodb"],
                self.clients["stepfunctions"],
                self.resources,
                prefix=prefix,
                since=since,
                dry_run=dry_run,
                rate=None,  # the emulation has no StartExecution quota to spare
                checkpoint=checkpoint,
                progress=progress,
                page_size=page_size,
            )
        finally:
            self._settle_started(sorted(self._executions_of(machine) - before))

    def replay(self, events: Sequence[dict[str, Any]] | None = None, name: str = "local-replay") -> list[str]:
        """Deliver events again as an EventBridge archive's replay does (each marked with `replay-name`):
        by default every event the rule has delivered so far. Waits for the executions, settles what did not
        succeed, and returns them. A version already final is left as it is."""
        replayed = [dict(event, **{"replay-name": name}) for event in (self.delivered if events is None else events)]
        started = [self.start(event) for event in replayed]
        self._settle_started(started)
        return started

    def ledger_items(self) -> list[dict[str, Any]]:
        """Every item of the ledger as plain JSON values (history included), newest first."""
        from ..ops import list_items

        return list_items(self.clients["dynamodb"], self.pipeline.table)

    def save_ledger(self) -> Path:
        """Write the ledger's items to `<out>/ledger.json` (LEDGER_SNAPSHOT), for `etl-constructs ledger --out`."""
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / LEDGER_SNAPSHOT
        path.write_text(json.dumps({"table": self.pipeline.table, "items": self.ledger_items()}, indent=1) + "\n")
        return path

    def clear_faults(self) -> None:
        """Inject none of the faults added so far (those given to `inject` or `faults=`)."""
        self.faults.clear()

    def _executions_of(self, machines: set[str]) -> set[str]:
        sfn = self.clients["stepfunctions"]
        return {
            e["executionArn"]
            for arn in sorted(machines)
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
            for e in page["executions"]
        }

    def _settle_started(self, started: list[str]) -> None:
        """Wait for executions something started; deliver their status-change events, as EventBridge would."""
        main = [a for a in started if _state_machine_of(a) in self.pipeline.data_machine_arns]
        others = [a for a in started if a not in main]
        if main:
            self.reconcile(self._wait_data_path(main))
        if others:
            self._deliver_status_changes(self._wait_capped(others))

    def reconcile(self, ended: dict[str, str]) -> list[str]:
        """Deliver each unsuccessful execution's status-change event to the rules that match it; wait for them.

        moto emits no Step Functions status-change events; this sends the event EventBridge would
        (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html) to the pipeline's rules
        on them: the reconciler's, started as the rule's role, and, for a reconciler that failed in
        turn, the rule parking its event in a queue. Returns the executions started.
        """
        started = self._deliver_status_changes(ended)
        if started:
            self._deliver_status_changes(self._wait_capped(started))
        return started

    def send_status_change(self, detail: dict[str, Any]) -> list[str]:
        """Send one Step Functions status-change event (its `detail`) to the rules matching it, as
        EventBridge would; wait for the executions it starts (and settle theirs in turn); return them."""
        started = self._route(detail)
        if started:
            self._deliver_status_changes(self._wait_capped(started))
        return started

    def _deliver_status_changes(self, ended: dict[str, str]) -> list[str]:
        sfn = self.clients["stepfunctions"]
        started: list[str] = []
        for arn, status in ended.items():
            if status in ("SUCCEEDED", "RUNNING"):
                continue
            described = sfn.describe_execution(executionArn=arn)
            if self._express(described["stateMachineArn"]):
                # EXPRESS sends no status-change events: the sweep finds what such an execution left.
                # https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
                continue
            detail = {
                "executionArn": arn,
                "stateMachineArn": described["stateMachineArn"],
                "status": status,
                "input": described.get("input", "{}"),
                # As AWS sends them: the execution's error and cause, null when it has none.
                "error": described.get("error"),
                "cause": described.get("cause"),
            }
            started += self._route(detail)
        return started

    def _express(self, machine: str) -> bool:
        """True for an EXPRESS state machine (asked once per machine)."""
        if machine not in self._machine_types:
            described = self.clients["stepfunctions"].describe_state_machine(stateMachineArn=machine)
            self._machine_types[machine] = described.get("type", "STANDARD")
        return self._machine_types[machine] == "EXPRESS"

    def _route(self, detail: dict[str, Any]) -> list[str]:
        """Start the targets of the state-machine rules matching a status change; queue it for the queue rules."""
        sfn = self.clients["stepfunctions"]
        event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change", "detail": detail}
        started: list[str] = []
        for rule in self.pipeline.other_rules:
            if _matches_status_change(rule.pattern, detail):
                with acting_as(self._rule_roles[rule.rule_name]):
                    started.append(
                        sfn.start_execution(
                            stateMachineArn=rule.state_machine_arn,
                            name=uuid.uuid4().hex,
                            input=execution_input(rule, event),
                        )["executionArn"]
                    )
        for queue_rule in self.pipeline.queue_rules:
            if _matches_status_change(queue_rule.pattern, detail):
                self.clients["sqs"].send_message(QueueUrl=queue_rule.queue_url, MessageBody=json.dumps(event))
        return started

    def _wait_capped(self, executions: list[str]) -> dict[str, str]:
        """Wait for the reconciler's executions, a minute at most (moto may leave a broken one RUNNING)."""
        try:
            return self.wait(executions, timeout_s=_RECONCILE_TIMEOUT_S)
        except TimeoutError:
            logging.getLogger(__name__).warning("a reconciler execution did not end; its item is left as it is")
            sfn = self.clients["stepfunctions"]
            return {arn: sfn.describe_execution(executionArn=arn)["status"] for arn in executions}

    def report(self, upload: Upload, matched: bool) -> FileReport:
        """Read the ledger, the output and the quarantine for one upload."""
        file_id = self.file_id(upload)
        item = self.ledger_item(file_id) if matched else None
        seen = self.lambda_service.seen
        failure = self._execution_failure(upload) if item is None and matched else None
        if failure is not None:
            # The workflow started and failed before it could record anything (a fault, a refusal).
            status, message = failure
            return FileReport(
                file=upload.file,
                key=upload.key,
                file_id=file_id,
                status=status,
                errors=[*self._refused(upload), {"row": None, "field": None, "message": message}],
                attempts=seen.attempts[file_id],
                throttles=seen.throttles[file_id],
            )
        if item is None:
            # No workflow recorded it: the rule did not match, or the first state turned the suffix away.
            return FileReport(
                file=upload.file,
                key=upload.key,
                file_id=None,
                status=NOT_STARTED,
                errors=[{"row": None, "field": None, "message": self._not_started_reason(upload)}],
            )
        report = FileReport(
            file=upload.file,
            key=upload.key,
            file_id=file_id,
            status=item.get("status", "UNKNOWN"),
            rows_total=item.get("rows_total"),
            rows_valid=item.get("rows_valid"),
            rows_rejected=item.get("rows_rejected"),
            attempts=seen.attempts[file_id],
            throttles=seen.throttles[file_id],
            deferrals=int(item.get("deferrals", 0)),
        )
        if item.get("output_key"):
            report.output = self._download(item["output_bucket"], item["output_key"])
        if item.get("quarantine_key"):
            report.quarantine = self._download(item["quarantine_bucket"], item["quarantine_key"])
            self._download(item["quarantine_bucket"], item["quarantine_key"] + REPORT_SUFFIX)
            report.errors = self._errors(item)
        elif item.get("status") != "COMPLETED":
            report.errors = [{"row": None, "field": None, "message": _fault_message(item)}]
        if report.status != "COMPLETED":
            report.errors = [*self._refused(upload), *report.errors]
        return report

    def _refused(self, upload: Upload) -> list[dict[str, Any]]:
        """The calls refused for want of a permission while the upload's execution ran, as report errors."""
        execution = self._executions.get(upload)
        messages = dict.fromkeys(f"AccessDenied: {d}" for d in self.refusals if execution and d.execution == execution)
        return [{"row": None, "field": None, "message": m} for m in messages]

    def _execution_failure(self, upload: Upload) -> tuple[str, str] | None:
        """The status and error of an upload's execution when it did not succeed, or None."""
        arn = self._executions.get(upload)
        if arn is None:
            return None
        described = self.clients["stepfunctions"].describe_execution(executionArn=arn)
        if described["status"] in ("SUCCEEDED", "RUNNING"):
            return None
        cause = ": ".join(str(p) for p in (described.get("error"), described.get("cause")) if p)
        return f"EXECUTION_{described['status']}", cause or f"the execution ended {described['status']}"

    def _not_started_reason(self, upload: Upload) -> str:
        """Why no workflow started for an upload: refused, outside the prefix, a suffix not accepted, no events."""
        if upload in self._not_started:
            return self._not_started[upload]
        key = upload.key
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


def _state_machine_of(execution: str) -> str:
    """`arn:...:execution:NAME:ID` -> `arn:...:stateMachine:NAME`."""
    head, _, rest = execution.partition(":execution:")
    return f"{head}:stateMachine:{rest.rsplit(':', 1)[0]}"


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"


def _state_machine_roles(template: Template) -> dict[str, str]:
    """Role ARN -> the name of a state machine that runs as it."""
    roles: dict[str, str] = {}
    for logical_id, resource in template.of_type("AWS::StepFunctions::StateMachine").items():
        role = template.resolve(resource.get("Properties", {}).get("RoleArn"))
        if isinstance(role, str) and role.startswith("arn:"):
            roles.setdefault(role, template.names[logical_id])
    return roles


def _rule_role(rule: RuleTarget, sts: Any) -> Principal | None:
    """The principal EventBridge starts the rule's target as: the target's role."""
    role = rule.target.get("RoleArn")
    return principals.assume(sts, role, "events", rule.rule_name) if isinstance(role, str) else None


def _kms_keys(template: Template) -> dict[str, str]:
    """Bucket name -> its customer KMS key's ARN, for the buckets encrypted with one (SSE-KMS)."""
    keys: dict[str, str] = {}
    for logical_id, resource in template.of_type("AWS::S3::Bucket").items():
        encryption = template.resolve(resource.get("Properties", {}).get("BucketEncryption", {}))
        for rule in encryption.get("ServerSideEncryptionConfiguration", []):
            key = rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
            if isinstance(key, str) and key:
                keys[template.names[logical_id]] = key
    return keys


def _matches_status_change(pattern: dict[str, Any], detail: dict[str, Any]) -> bool:
    """Whether a rule's pattern matches a Step Functions status-change event with `detail`."""
    if "aws.states" not in pattern.get("source", []):
        return False
    wanted = pattern.get("detail", {})
    return all(detail.get(name) in values for name, values in wanted.items() if isinstance(values, list))


def _key_policies(template: Template) -> dict[str, dict[str, Any]]:
    """KMS key ARN -> its key policy, for the keys the template defines."""
    return {
        template.get_att(logical_id, "Arn"): template.resolve(resource.get("Properties", {}).get("KeyPolicy") or {})
        for logical_id, resource in template.of_type("AWS::KMS::Key").items()
    }


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
    error, cause = item.get("error"), _readable(item.get("cause"))
    return ": ".join(str(p) for p in (error, cause) if p) or f"ended in {item.get('status')}"


def _readable(cause: Any) -> Any:
    """A function's error as Lambda reports it (JSON with a stack trace) cut to its message."""
    try:
        reported = json.loads(cause) if isinstance(cause, str) and cause.startswith("{") else None
    except ValueError:
        return cause
    if isinstance(reported, dict) and "errorMessage" in reported:
        return reported["errorMessage"]
    return cause


def run_local(
    files: Sequence[Path | str],
    template: Path | str | None = None,
    prefix: str | None = None,
    out: Path | str | None = None,
    log: TextIO | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    stack: str | None = None,
    pipeline: str | None = None,
    concurrency: int | None = None,
) -> LocalRun:
    """Run `files` through the pipeline of `template` (default: a default EtlPipeline) locally.

    `template` is a template file or a cloud assembly folder (`cdk.out`); `stack` picks a stack of
    the assembly and `pipeline` an EtlPipeline of the stack (construct id or path) when there are
    several. `concurrency` caps each function's concurrent invocations, as a Lambda concurrency
    limit does: invocations past it fail with `Lambda.TooManyRequestsException`.

    The ledger's items are kept in `<out>/ledger.json` (see `LEDGER_SNAPSHOT`), which
    `etl-constructs ledger list --out` and `ledger show --out` read after the run.
    """
    with LocalPipeline(
        template=template, out=out, log=log, stack=stack, pipeline=pipeline, concurrency=concurrency
    ) as local:
        result = local.run(files, prefix=prefix, progress=progress)
        local.save_ledger()
        return result
