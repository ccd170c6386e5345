"""The sweep handler against moto's DynamoDB, Step Functions and SQS: what it finds and what it starts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from etl_handlers import sweep_handler
from etl_handlers.sweep_handler import Sweep, SweepIncomplete, SweepSettings, run_time

from .conftest import ENV

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/sfn"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


class World:
    """The sweep's clients and resources in moto."""

    def __init__(self) -> None:
        self.clients = {n: boto3.client(n, region_name="us-east-1") for n in ("dynamodb", "stepfunctions", "sqs")}
        ddb = self.clients["dynamodb"]
        ddb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "file_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"} for n in ("file_id", "status", "updated_at")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "status-updated_at-index",
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "updated_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        sfn = self.clients["stepfunctions"]
        self.reconciler = sfn.create_state_machine(name="reconciler", definition=PASS, roleArn=ROLE)["stateMachineArn"]
        self.data_path = sfn.create_state_machine(name="data", definition=PASS, roleArn=ROLE)["stateMachineArn"]
        sqs = self.clients["sqs"]
        self.parked = sqs.create_queue(QueueName="parked")["QueueUrl"]
        self.ingest = sqs.create_queue(QueueName="ingest")["QueueUrl"]
        self.settings = SweepSettings(
            ledger_table="ledger",
            status_index="status-updated_at-index",
            unsettled_after=timedelta(minutes=70),
            reconciler_arn=self.reconciler,
            reconciler_queue_url=self.parked,
            data_path_arn=self.data_path,
            ingest_queue_url=self.ingest,
            receive_wait_seconds=0,  # moto's queue is one server: a short poll sees every message
        )

    def item(
        self,
        name: str,
        status: str,
        age: timedelta,
        execution: str = "arn:aws:states:us-east-1:123456789012:execution:data",
    ) -> str:
        file_id = f"s3://raw/{name}?versionId=v1"
        # The form the handlers' ledger.now() and Step Functions' $$.State.EnteredTime write.
        stamp = (NOW - age).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
        self.clients["dynamodb"].put_item(
            TableName="ledger",
            Item={
                "file_id": {"S": file_id},
                "status": {"S": status},
                "updated_at": {"S": stamp},
                "bucket": {"S": "raw"},
                "key": {"S": name},
                "version": {"S": "v1"},
                "execution": {"S": f"{execution}:{name}"},
            },
        )
        return file_id

    def sweep(self, settings: SweepSettings | None = None) -> Sweep:
        return Sweep(settings or self.settings, self.clients, NOW)

    def inputs(self, machine: str) -> list[dict[str, Any]]:
        sfn = self.clients["stepfunctions"]
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]

    def depth(self, url: str) -> int:
        attributes = self.clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield World()


def s3_event(key: str, version: str = "v1") -> str:
    return json.dumps({"detail": {"bucket": {"name": "raw"}, "object": {"key": key, "version-id": version}}})


def test_only_non_final_items_older_than_the_cutoff_go_to_the_reconciler(world):
    stale = [
        world.item(f"stale-{s}", s, timedelta(hours=2)) for s in ("RECEIVED", "VALIDATING", "VALIDATED", "TRANSFORMING")
    ]
    world.item("fresh", "VALIDATING", timedelta(minutes=69))
    world.item("done", "COMPLETED", timedelta(days=3))
    world.item("failed", "VALIDATION_FAILED", timedelta(days=3))
    result = world.sweep().run()
    assert sorted(result.unsettled) == sorted(stale)
    events = world.inputs(world.reconciler)
    assert len(events) == 4
    for event in events:
        assert event["detail"]["status"] == "UNSETTLED"
        assert event["detail"]["executionArn"].startswith("arn:aws:states:")
        assert json.loads(event["detail"]["input"])["bucket"] == "raw"


def test_the_express_machines_items_are_settled_once_its_functions_cannot_run(world):
    """Its executions end within 5 minutes, their functions within 15: not an hour and 10 minutes later."""
    express = "arn:aws:states:us-east-1:123456789012:express:entry"  # an EXPRESS execution's ARN: `express:`
    settled = [
        world.item("express-stuck", "TRANSFORMING", timedelta(minutes=26), express),
        world.item("twin-stuck", "VALIDATING", timedelta(minutes=71)),
    ]
    world.item("express-running", "TRANSFORMING", timedelta(minutes=24), express)
    world.item("twin-running", "VALIDATING", timedelta(minutes=26))
    settings = dataclasses.replace(
        world.settings, express_machine="entry", express_unsettled_after=timedelta(minutes=25)
    )
    assert sorted(world.sweep(settings).run().unsettled) == sorted(settled)


def test_deferred_items_are_begun_again_at_once_and_never_settled(world):
    old = world.item("old", "DEFERRED", timedelta(days=2))  # however long it waited: it is not a dead execution
    new = world.item("new", "DEFERRED", timedelta(seconds=1))
    # Deferred within the run's second, after its whole-second time: resumed by this run all the same.
    newest = world.item("newest", "DEFERRED", -timedelta(milliseconds=500))
    result = world.sweep().run()
    assert result.unsettled == [] and result.resumed == [old, new, newest]  # the longest waiting first
    requests = world.inputs(world.data_path)
    assert sorted(r["key"] for r in requests) == ["new", "newest", "old"]
    assert {r["reprocess"] for r in requests} == {"deferred"}
    assert world.inputs(world.reconciler) == []


def test_a_deferral_is_begun_once_and_a_run_begins_a_bounded_number(world, monkeypatch):
    monkeypatch.setattr(sweep_handler, "MAX_RESUMED_PER_RUN", 2)
    for n in range(3):
        world.item(f"d{n}", "DEFERRED", timedelta(minutes=n + 1))
    first = world.sweep().run()
    assert len(first.resumed) == 2 and first.more
    # The first two began their attempts (RECEIVED now); the next run begins the third.
    for file_id in first.resumed:
        world.item(file_id.split("/")[-1].split("?")[0], "RECEIVED", timedelta(seconds=1))
    second = world.sweep().run()
    assert [r.split("/")[-1] for r in second.resumed] == ["d0?versionId=v1"] and not second.more
    # The same deferral again (a run that died before the attempt began): the same name starts nothing new.
    world.item("d0", "DEFERRED", timedelta(minutes=1))
    world.sweep().run()
    assert sorted(r["key"] for r in world.inputs(world.data_path)) == ["d0", "d1", "d2"]


def test_the_cutoff_is_exact_to_the_millisecond_in_the_ledgers_time_format(world):
    world.item("just-past", "RECEIVED", timedelta(minutes=70, milliseconds=1))
    world.item("just-not", "RECEIVED", timedelta(minutes=70))
    assert [i.rsplit("/", 1)[1] for i in world.sweep().run().unsettled] == ["just-past?versionId=v1"]


def test_an_item_is_handed_over_once_per_state(world):
    file_id = world.item("stale", "VALIDATING", timedelta(hours=2))
    assert world.sweep().run().unsettled == [file_id]
    sfn = world.clients["stepfunctions"]
    for execution in sfn.list_executions(stateMachineArn=world.reconciler)["executions"]:
        sfn.stop_execution(executionArn=execution["executionArn"])  # it ended (and left the item as it was)
    assert world.sweep().run().unsettled == []  # same item, same last change: the same execution name
    world.item("stale", "VALIDATING", timedelta(hours=1, minutes=30))  # it changed since
    assert world.sweep().run().unsettled == [file_id]
    assert len(world.inputs(world.reconciler)) == 2


def test_a_failed_reconcilers_event_is_unwrapped_and_redriven_with_its_count(world):
    inner = {"source": "aws.states", "detail": {"executionArn": "x", "status": "FAILED", "input": "{}"}, "redrives": 1}
    failure = {
        "source": "aws.states",
        "detail": {"stateMachineArn": world.reconciler, "status": "TIMED_OUT", "input": json.dumps(inner)},
    }
    world.clients["sqs"].send_message(QueueUrl=world.parked, MessageBody=json.dumps(failure))
    assert world.sweep().run().redriven == 1
    assert world.inputs(world.reconciler) == [{**inner, "redrives": 2}]
    assert world.depth(world.parked) == 0


def test_a_run_stops_at_its_bound_and_says_there_is_more(world, monkeypatch):
    monkeypatch.setattr(sweep_handler, "MAX_PER_RUN", 2)
    for n in range(3):
        world.item(f"s{n}", "RECEIVED", timedelta(hours=2))
    result = world.sweep().run()
    assert len(result.unsettled) == 2 and result.more


def test_parked_reconciler_events_are_redriven_with_a_count_and_then_left_for_an_operator(world):
    sqs = world.clients["sqs"]
    event = {"source": "aws.states", "detail": {"executionArn": "x", "status": "FAILED", "input": "{}"}}
    sqs.send_message(QueueUrl=world.parked, MessageBody=json.dumps(event))
    sqs.send_message(QueueUrl=world.parked, MessageBody=json.dumps({**event, "redrives": 3}))
    sqs.send_message(QueueUrl=world.parked, MessageBody="not json")
    result = world.sweep().run()
    assert result.redriven == 1 and result.left_for_operator == 2
    (started,) = world.inputs(world.reconciler)
    assert started == {**event, "redrives": 1}
    assert world.depth(world.parked) == 2


def test_undelivered_s3_events_start_the_data_path_once_each(world):
    sqs = world.clients["sqs"]
    sqs.send_message(QueueUrl=world.ingest, MessageBody=s3_event("a+b.csv"))
    sqs.send_message(QueueUrl=world.ingest, MessageBody=json.dumps({"detail": {}}))
    result = world.sweep().run()
    assert result.restarted == 1 and result.left_for_operator == 1
    assert world.inputs(world.data_path) == [{"bucket": "raw", "key": "a+b.csv", "version": "v1"}]
    # The same event again (a run that died before deleting it): no second execution.
    sqs.send_message(QueueUrl=world.ingest, MessageBody=s3_event("a+b.csv"))
    world.sweep().run()
    assert len(world.inputs(world.data_path)) == 1


def test_what_cannot_be_started_stays_and_the_run_fails_for_the_alarm(world):
    world.clients["sqs"].send_message(QueueUrl=world.ingest, MessageBody=s3_event("a.csv"))
    world.item("stale", "RECEIVED", timedelta(hours=2))
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:gone"
    settings = SweepSettings(**{**vars(world.settings), "reconciler_arn": missing, "data_path_arn": missing})
    with pytest.raises(SweepIncomplete, match="2 could not be handed on"):
        world.sweep(settings).run()
    assert world.depth(world.ingest) == 1


def test_without_an_ingest_queue_only_the_ledger_and_the_parked_events_are_swept(world):
    settings = SweepSettings(**{**vars(world.settings), "ingest_queue_url": ""})
    world.clients["sqs"].send_message(QueueUrl=world.ingest, MessageBody=s3_event("a.csv"))
    assert world.sweep(settings).run().restarted == 0


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"time": "2026-11-26T12:00:00Z"}, NOW),
        ({"time": "2026-11-26T13:00:00+01:00"}, NOW),
    ],
)
def test_now_is_the_scheduled_events_time(event, expected):
    assert run_time(event) == expected


@pytest.mark.parametrize("event", [{}, {"time": "yesterday"}, {"time": 5}, None])
def test_without_a_readable_time_now_is_the_clock(event):
    assert abs(run_time(event) - datetime.now(UTC)) < timedelta(seconds=5)


def test_settings_come_from_the_environment(monkeypatch):
    values = {
        "LEDGER_TABLE": "t",
        "STATUS_INDEX": "i",
        "UNSETTLED_AFTER_SECONDS": "4200",
        "RECONCILER_ARN": "r",
        "RECONCILER_QUEUE_URL": "q",
        "STATE_MACHINE_ARN": "m",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for absent in ("INGEST_QUEUE_URL", "EXPRESS_MACHINE_NAME", "UNSETTLED_AFTER_EXPRESS_SECONDS"):
        monkeypatch.delenv(absent, raising=False)
    settings = SweepSettings.from_env()
    assert settings.unsettled_after == timedelta(minutes=70) and settings.ingest_queue_url == ""
    assert (settings.express_machine, settings.express_unsettled_after) == ("", None)
    monkeypatch.setenv("EXPRESS_MACHINE_NAME", "entry")
    monkeypatch.setenv("UNSETTLED_AFTER_EXPRESS_SECONDS", "1500")
    settings = SweepSettings.from_env()
    assert (settings.express_machine, settings.express_unsettled_after) == ("entry", timedelta(minutes=25))
