"""Each fidelity patch closes a gap between moto and AWS: without it moto differs, with it moto agrees."""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import nullcontext, suppress

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import table as moto_table

from etl_constructs.local import fidelity
from etl_constructs.local.fidelity import atomic_dynamodb_writes, aws_entered_time, aws_time, encoded_s3_event_keys


def _racing_puts(monkeypatch: pytest.MonkeyPatch, atomic: bool) -> int:
    """Two conditional puts of one key at once; moto held between its check and its write until both are there.

    A barrier, not a sleep: on a loaded machine a sleep may not keep the two inside the gap together. With
    the patch, the second put waits for the first to finish, so the first waits at the barrier in vain and
    goes on when it times out.
    """
    original = moto_table.get_filter_expression
    both_inside = threading.Barrier(2, timeout=1)

    def slow(*args, **kwargs):
        with suppress(threading.BrokenBarrierError):
            both_inside.wait()  # between reading the item and writing it
        return original(*args, **kwargs)

    monkeypatch.setattr(moto_table, "get_filter_expression", slow)
    with mock_aws(), atomic_dynamodb_writes() if atomic else nullcontext():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        wins: list[str] = []

        def put(owner: str) -> None:
            try:
                client.put_item(
                    TableName="t",
                    Item={"k": {"S": "file"}, "owner": {"S": owner}},
                    ConditionExpression="attribute_not_exists(k)",
                )
                wins.append(owner)
            except client.exceptions.ConditionalCheckFailedException:
                pass

        threads = [threading.Thread(target=put, args=(name,)) for name in ("first", "second")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(wins)


def test_moto_alone_lets_two_conditional_puts_both_win(monkeypatch):
    assert _racing_puts(monkeypatch, atomic=False) == 2


def test_with_the_patch_exactly_one_conditional_put_wins(monkeypatch):
    assert _racing_puts(monkeypatch, atomic=True) == 1


def _event_key_of_upload(key: str, encoded: bool) -> str:
    """Put `key` in a bucket that sends EventBridge events; return `detail.object.key` of the event."""
    with mock_aws(), encoded_s3_event_keys() if encoded else nullcontext():
        s3 = boto3.client("s3", region_name="us-east-1")
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket="raw")
        s3.put_bucket_notification_configuration(
            Bucket="raw", NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        queue = sqs.create_queue(QueueName="capture")["QueueUrl"]
        events.put_rule(Name="all", EventPattern=json.dumps({"source": ["aws.s3"]}), State="ENABLED")
        events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:capture"}])
        s3.put_object(Bucket="raw", Key=key, Body=b"x")
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        (event,) = [e for e in map(json.loads, (m["Body"] for m in messages)) if e["detail-type"] == "Object Created"]
        found: str = event["detail"]["object"]["key"]
        return found


AWKWARD = "in/100% a+b c?#=é数.csv"


def test_moto_alone_puts_the_raw_key_in_s3_events():
    assert _event_key_of_upload(AWKWARD, encoded=False) == AWKWARD


def test_with_the_patch_s3_events_carry_the_key_url_encoded_as_s3_writes_it():
    assert _event_key_of_upload(AWKWARD, encoded=True) == "in/100%25+a%2Bb+c%3F%23%3D%C3%A9%E6%95%B0.csv"


def _entered_time(aws_form: bool) -> str:
    """`$$.State.EnteredTime` as a state machine run by moto sees it."""
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}, "End": True}},
    }
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        aws_entered_time() if aws_form else nullcontext(),
    ):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="t", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            time.sleep(0.01)
        entered: str = json.loads(described["output"])["t"]
        return entered


AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_moto_alone_gives_entered_time_in_another_form_than_step_functions():
    entered = _entered_time(aws_form=False)
    assert entered.endswith("+00:00")
    assert not AWS_TIME.match(entered)


def test_with_the_patch_entered_time_has_step_functions_form():
    assert AWS_TIME.match(_entered_time(aws_form=True))


@pytest.mark.parametrize(
    ("moto", "aws"),
    [
        ("2024-03-01T12:00:00.123456+00:00", "2024-03-01T12:00:00.123Z"),
        ("2024-03-01T12:00:00+00:00", "2024-03-01T12:00:00.000Z"),
        ("2024-03-01T13:00:00.5+01:00", "2024-03-01T12:00:00.500Z"),
        ("2024-03-01T12:00:00.123Z", "2024-03-01T12:00:00.123Z"),
    ],
)
def test_a_time_is_written_as_step_functions_writes_it(moto, aws):
    assert aws_time(moto) == aws


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
def test_run_locals_key_encoding_is_the_handlers(key):
    from etl_handlers.core import keys

    assert fidelity.event_key(key) == keys.event_key(key)
    assert fidelity.object_key(keys.event_key(key)) == keys.object_key(keys.event_key(key)) == key
