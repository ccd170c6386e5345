"""The emulation's conditional writes are atomic, as DynamoDB's are; without the patch moto's are not."""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import table as moto_table

from etl_constructs.local.fidelity import atomic_dynamodb_writes


def _racing_puts(monkeypatch: pytest.MonkeyPatch, atomic: bool) -> int:
    """Two conditional puts of one key at once; moto made slow between its check and its write."""
    original = moto_table.get_filter_expression

    def slow(*args, **kwargs):
        time.sleep(0.05)  # widen the gap between reading the item and writing it
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
