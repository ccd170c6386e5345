"""The sweep: a scheduled function that settles what the reconciler missed and restarts what never started.

Four sources, each safe to act on twice (the ledger's conditions make a repeat a no-op):

1. Ledger items still non-final longer after their last change than the execution timeout (plus a
   grace for the reconciler to act first). Their execution has ended for certain, and nothing
   settled them: the reconciler failed, its event was lost, or the data path is EXPRESS, which
   emits no status-change events. Each is handed to the reconciler as an `UNSETTLED` event, once
   per state of the item: the execution's name is made from the item's id and last change, and
   Step Functions refuses a STANDARD name used before.
2. The reconciler's dead-letter queue: status-change events EventBridge could not deliver, the
   reconciler's own failures (a rule puts their events there), and files whose execution could not
   record RECEIVED. Each is handed to the reconciler again, at most `MAX_REDRIVES` times; after
   that it stays in the queue for an operator (its alarm is on).
3. The ingest dead-letter queue: S3 events whose execution could not be started. Each starts the
   data path, as the rule would have: the file has no ledger item yet, so it is not lost.
4. DEFERRED items: files throttled past their budget (the functions had no room). Each one's attempt
   is resumed (`reprocess: deferred`), at most `MAX_RESUMED_PER_RUN` a run so a burst is spread over
   runs; a second request for the same deferral ends "Not begun".
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from . import statuses
from .ledger import stamp
from .runtime import aws_client, configure_powertools, logger, metrics

#: The `detail.status` of an event the sweep makes up for an unsettled item.
UNSETTLED = "UNSETTLED"
#: How often one dead-lettered reconciler event is handed to the reconciler before it is left for an operator.
MAX_REDRIVES = 3
#: Items and messages handled per run at most; the next run goes on where this one stopped.
MAX_PER_RUN = 1000
#: Stop taking new work when less than this much of the function's time is left.
_RESERVE_MS = 30_000
#: DEFERRED items begun again per run at most: a burst that found no room is spread over the runs.
MAX_RESUMED_PER_RUN = 200
#: Left to the reconciler and then settled: the statuses of an execution still running (or dead).
_NON_FINAL = statuses.IN_PROGRESS
_STARTED, _EXISTED, _FAILED = "started", "existed", "failed"
_PROJECTED = ("file_id", "bucket", "key", "version", "execution", "updated_at")


class SweepIncomplete(Exception):
    """Some of what the sweep found could not be handed on; the next run tries again (and the alarm fires)."""


@dataclass(frozen=True)
class SweepSettings:
    """What the constructs tell the sweep by its environment."""

    ledger_table: str
    status_index: str
    unsettled_after: timedelta
    reconciler_arn: str
    reconciler_queue_url: str
    data_path_arn: str
    ingest_queue_url: str = ""
    #: The EXPRESS data path's machine name, whose items are settled after `express_unsettled_after` instead:
    #: its executions end within 5 minutes, and their functions within their own timeouts.
    express_machine: str = ""
    express_unsettled_after: timedelta | None = None
    #: A wait of 1 s makes SQS ask all its servers (a short poll samples some: a message may be missed).
    #: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
    #: run-local sets 0 (`SWEEP_RECEIVE_WAIT_SECONDS`): its emulated queue is one server.
    receive_wait_seconds: int = 1

    @classmethod
    def from_env(cls) -> SweepSettings:
        """Read the settings from the process environment."""
        env = os.environ
        return cls(
            ledger_table=env["LEDGER_TABLE"],
            status_index=env["STATUS_INDEX"],
            unsettled_after=timedelta(seconds=int(env["UNSETTLED_AFTER_SECONDS"])),
            reconciler_arn=env["RECONCILER_ARN"],
            reconciler_queue_url=env["RECONCILER_QUEUE_URL"],
            data_path_arn=env["STATE_MACHINE_ARN"],
            ingest_queue_url=env.get("INGEST_QUEUE_URL", ""),
            express_machine=env.get("EXPRESS_MACHINE_NAME", ""),
            express_unsettled_after=(
                timedelta(seconds=int(env["UNSETTLED_AFTER_EXPRESS_SECONDS"]))
                if env.get("UNSETTLED_AFTER_EXPRESS_SECONDS")
                else None
            ),
            receive_wait_seconds=int(env.get("SWEEP_RECEIVE_WAIT_SECONDS", "1")),
        )


@dataclass
class SweepResult:
    """What one run did: the file ids handed to the reconciler, the events redriven, the executions started."""

    unsettled: list[str] = field(default_factory=list)
    redriven: int = 0
    restarted: int = 0
    resumed: list[str] = field(default_factory=list)
    left_for_operator: int = 0
    executions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    more: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The result as the function returns it."""
        return asdict(self)


class Sweep:
    """One run of the sweep over the ledger and the two dead-letter queues."""

    def __init__(self, settings: SweepSettings, clients: dict[str, Any], now: datetime, context: Any = None) -> None:
        self.settings = settings
        self.dynamodb = clients["dynamodb"]
        self.sfn = clients["stepfunctions"]
        self.sqs = clients["sqs"]
        self.now = now
        self.context = context
        self.result = SweepResult()

    def run(self) -> SweepResult:
        """Settle, redrive, restart; raise SweepIncomplete at the end if anything could not be handed on."""
        self.settle_unsettled()
        self.redrive_reconciler_events()
        if self.settings.ingest_queue_url:
            self.restart_ingest_events()
        self.resume_deferred()
        if self.result.failures:
            raise SweepIncomplete(
                f"{len(self.result.failures)} could not be handed on (next run tries again): "
                + "; ".join(self.result.failures[:5])
            )
        return self.result

    def _room(self) -> bool:
        result = self.result
        handled = (
            len(result.unsettled) + result.redriven + result.restarted + len(result.resumed) + result.left_for_operator
        )
        if handled >= MAX_PER_RUN or (
            self.context is not None and self.context.get_remaining_time_in_millis() < _RESERVE_MS
        ):
            self.result.more = True
            return False
        return True

    def unsettled_items(self) -> Iterator[dict[str, Any]]:
        """In-progress items whose last change is older than the cutoff, from the status index: the EXPRESS
        machine's cutoff for an item its execution owns, the other one for the rest."""
        settings = self.settings
        cutoff = stamp(self.now - settings.unsettled_after)  # the ledger's form: strings compare as times
        if not settings.express_machine or settings.express_unsettled_after is None:
            yield from self._items(_NON_FINAL, cutoff)
            return
        express_cutoff = stamp(self.now - settings.express_unsettled_after)
        for item in self._items(_NON_FINAL, max(cutoff, express_cutoff)):  # the later: whatever either admits
            owned = _machine_name(item.get("execution", "")) == settings.express_machine
            if item.get("updated_at", "") < (express_cutoff if owned else cutoff):
                yield item

    def deferred_items(self) -> Iterator[dict[str, Any]]:
        """Every DEFERRED item, the longest waiting first, from the status index (one deferred this very
        second too: the run's time has whole seconds)."""
        return self._items((statuses.DEFERRED,), None)

    def _items(self, of: tuple[str, ...], cutoff: str | None) -> Iterator[dict[str, Any]]:
        paginator = self.dynamodb.get_paginator("query")
        values = {} if cutoff is None else {":cutoff": {"S": cutoff}}
        for status in of:
            pages = paginator.paginate(
                TableName=self.settings.ledger_table,
                IndexName=self.settings.status_index,
                KeyConditionExpression="#status = :status" + ("" if cutoff is None else " AND updated_at < :cutoff"),
                # Every name through a placeholder: `bucket`, `key` and others are DynamoDB reserved words.
                ExpressionAttributeNames={"#status": "status", **{f"#{n}": n for n in _PROJECTED}},
                ExpressionAttributeValues={":status": {"S": status}, **values},
                ProjectionExpression=", ".join(f"#{n}" for n in _PROJECTED),
            )
            for page in pages:
                for item in page.get("Items", []):
                    yield {name: value.get("S", "") for name, value in item.items()}

    def settle_unsettled(self) -> None:
        """Hand each unsettled item to the reconciler, as the status-change event its execution never got."""
        for item in self.unsettled_items():
            if not self._room():
                return
            event = {
                "source": "etl-constructs.sweep",
                "detail-type": "Unsettled ledger item",
                "detail": {
                    "executionArn": item.get("execution", ""),
                    "status": UNSETTLED,
                    "input": json.dumps(
                        {"bucket": item.get("bucket"), "key": item.get("key"), "version": item.get("version")}
                    ),
                },
            }
            file_id = item.get("file_id", "")
            once = hashlib.sha256(f"{file_id}\n{item.get('updated_at', '')}".encode()).hexdigest()[:40]
            if self._start(self.settings.reconciler_arn, event, file_id, name=f"sweep-{once}") == _STARTED:
                self.result.unsettled.append(file_id)
        if self.result.unsettled:
            logger.warning("unsettled items handed to the reconciler", extra={"file_ids": self.result.unsettled})
            metrics.add_metric(name="UnsettledFiles", unit=MetricUnit.Count, value=len(self.result.unsettled))

    def resume_deferred(self) -> None:
        """Resume the attempt of each DEFERRED version, as `reprocess` does, the longest waiting first."""
        for item in self.deferred_items():
            if len(self.result.resumed) >= MAX_RESUMED_PER_RUN or not self._room():
                self.result.more = True
                break
            request = {
                "bucket": item.get("bucket"),
                "key": item.get("key"),
                "version": item.get("version"),
                statuses.REPROCESS: statuses.REPROCESS_DEFERRED,
            }
            file_id = item.get("file_id", "")
            # One name per deferral and run: two runs at one scheduled time start it once, and a resume that
            # ended without taking the item over (aborted, the ledger out of reach) is started again by the
            # next run, not refused for its name for Step Functions' 90 days. Two resumes that do both start
            # are safe: the ledger's condition lets one take the item over; the other ends "Not begun".
            stamp_ = f"{file_id}\n{item.get('updated_at', '')}\n{self.now.isoformat()}"
            once = hashlib.sha256(stamp_.encode()).hexdigest()[:40]
            if self._start(self.settings.data_path_arn, request, file_id, name=f"resume-{once}") == _STARTED:
                self.result.resumed.append(file_id)
        if self.result.resumed:
            logger.info("deferred files resumed", extra={"file_ids": self.result.resumed})
            metrics.add_metric(name="DeferredFilesResumed", unit=MetricUnit.Count, value=len(self.result.resumed))

    def redrive_reconciler_events(self) -> None:
        """Hand each dead-lettered reconciler event to the reconciler again (at most MAX_REDRIVES times)."""
        for message in self._messages(self.settings.reconciler_queue_url):
            event = self._settling_event(_json(message["Body"]))
            redrives = event.get("redrives", 0) if event is not None else MAX_REDRIVES
            if event is None or not isinstance(redrives, int) or redrives >= MAX_REDRIVES:
                self.result.left_for_operator += 1
                continue  # it stays, for an operator; the queue's alarm is on
            # One name per message: a run that dies before deleting it hands it over once all the same.
            name = "redrive-" + hashlib.sha256(message["MessageId"].encode()).hexdigest()[:40]
            handed = self._start(
                self.settings.reconciler_arn, {**event, "redrives": redrives + 1}, message["MessageId"], name=name
            )
            if handed != _FAILED:
                self._delete(self.settings.reconciler_queue_url, message)
                self.result.redriven += 1
        if self.result.redriven:
            metrics.add_metric(name="ReconcilerEventsRedriven", unit=MetricUnit.Count, value=self.result.redriven)

    def restart_ingest_events(self) -> None:
        """Start the data path for each S3 event the rule could not deliver, with the input the rule gives."""
        for message in self._messages(self.settings.ingest_queue_url):
            event = _json(message["Body"])
            detail = event.get("detail", {}) if isinstance(event, dict) else {}
            bucket = detail.get("bucket", {}).get("name")
            obj = detail.get("object", {})
            if not bucket or not obj.get("key"):
                self.result.left_for_operator += 1
                continue
            source = {"bucket": bucket, "key": obj["key"], "version": obj.get("version-id")}
            # One name per object version: StartExecution with a name already used returns the running
            # execution, or ExecutionAlreadyExists once it has ended (STANDARD), so a run that dies before
            # deleting the message starts nothing twice. EXPRESS names are not unique: the ledger's RECEIVED
            # condition stops a second execution there.
            # https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
            name = "redrive-" + hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:40]
            if self._start(self.settings.data_path_arn, source, message["MessageId"], name=name) != _FAILED:
                self._delete(self.settings.ingest_queue_url, message)
                self.result.restarted += 1
        if self.result.restarted:
            metrics.add_metric(name="IngestEventsRestarted", unit=MetricUnit.Count, value=self.result.restarted)

    def _settling_event(self, body: Any) -> dict[str, Any] | None:
        """The event to give the reconciler for a message: the message itself, or, when the message is a
        reconciler execution's own failure, the event that execution was given (with its redrive count)."""
        if not isinstance(body, dict) or not isinstance(body.get("detail"), dict):
            return None
        detail = body["detail"]
        if detail.get("stateMachineArn") == self.settings.reconciler_arn:
            inner = _json(detail.get("input") or "")
            return inner if isinstance(inner, dict) and isinstance(inner.get("detail"), dict) else None
        return body if isinstance(detail.get("input"), str) else None

    def _messages(self, queue_url: str) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        while self._room():
            try:
                batch = self.sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self.settings.receive_wait_seconds,
                    VisibilityTimeout=120,
                ).get("Messages", [])
            except (ClientError, BotoCoreError) as exc:
                self.result.failures.append(f"reading {queue_url}: {exc}")
                return
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh:
                seen.add(message["MessageId"])
                yield message

    def _start(self, machine: str, execution_input: dict[str, Any], what: str, name: str) -> str:
        """Start an execution: _STARTED; _EXISTED when its name was used before (handed over already); or _FAILED."""
        try:
            started = self.sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input), name=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return _EXISTED
            self.result.failures.append(f"{what}: {exc}")
            return _FAILED
        except BotoCoreError as exc:
            self.result.failures.append(f"{what}: {exc}")
            return _FAILED
        self.result.executions.append(started["executionArn"])
        return _STARTED

    def _delete(self, queue_url: str, message: dict[str, Any]) -> None:
        try:
            self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        except (ClientError, BotoCoreError) as exc:  # redelivered next run: the ledger makes that a no-op
            self.result.failures.append(f"deleting {message['MessageId']}: {exc}")


def _machine_name(execution_arn: str) -> str:
    """The state machine name in an execution's ARN: `arn:aws:states:<region>:<account>:execution:<machine>:<name>`,
    or `...:express:<machine>:<name>:<id>` for an EXPRESS execution."""
    parts = execution_arn.split(":")
    return parts[6] if len(parts) > 6 else ""


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def run_time(event: dict[str, Any]) -> datetime:
    """The run's "now": the scheduled event's `time`, or the clock when it has none.

    A late delivery only makes the sweep more careful: the cutoff moves back with it.
    """
    stamp = event.get("time") if isinstance(event, dict) else None
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run the sweep once (from its schedule); return what it did."""
    configure_powertools()
    clients = {name: aws_client(name) for name in ("dynamodb", "stepfunctions", "sqs")}
    result = Sweep(SweepSettings.from_env(), clients, run_time(event), context).run()
    logger.info("sweep done", extra=result.to_dict())
    return result.to_dict()
