"""moto's S3 and DynamoDB with the pipeline's buckets and ledger, and the functions' environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from etl_handlers.core.keys import event_key

ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "LEDGER_TABLE": "ledger",
    "PROCESSED_BUCKET": "processed",
    "QUARANTINE_BUCKET": "quarantine",
    "OUTPUT_PREFIX": "processed/",
    "STAGING_PREFIX": "_staging/",
    "QUARANTINE_PREFIX": "quarantine/",
    "ETL_CONFIG": json.dumps({"fee_rate": "0.01"}),
    "POWERTOOLS_SERVICE_NAME": "etl-test",
    "POWERTOOLS_METRICS_NAMESPACE": "EtlPipeline",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


class Context:
    function_name = "test-fn"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-fn"
    aws_request_id = "req-1"


@dataclass
class Aws:
    """Clients and helpers for one test."""

    s3: Any
    dynamodb: Any

    def put(self, key: str, body: bytes) -> dict[str, str]:
        """Upload to the raw bucket, record RECEIVED as the state machine would, return the task input.

        The task input holds the key as S3's event gives it (URL-encoded), as in AWS.
        """
        version = self.s3.put_object(Bucket="raw", Key=key, Body=body)["VersionId"]
        encoded = event_key(key)
        event = {
            "file_id": f"s3://raw/{encoded}?versionId={version}",
            "bucket": "raw",
            "key": encoded,
            "version": version,
            "execution": "arn:aws:states:us-east-1:123456789012:execution:sm:one",
        }
        self.dynamodb.put_item(
            TableName="ledger",
            Item={
                "file_id": {"S": event["file_id"]},
                "status": {"S": "RECEIVED"},
                "execution": {"S": event["execution"]},
            },
        )
        return event

    def item(self, file_id: str) -> dict[str, Any]:
        raw = self.dynamodb.get_item(TableName="ledger", Key={"file_id": {"S": file_id}})["Item"]
        return {k: next(iter(v.values())) for k, v in raw.items()}

    def keys(self, bucket: str) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", []))

    def body(self, bucket: str, key: str) -> bytes:
        data: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("raw", "processed", "quarantine"):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket="raw", VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "file_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "file_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        from etl_handlers import runtime

        runtime.runtime.cache_clear()
        yield Aws(s3=s3, dynamodb=dynamodb)
        runtime.runtime.cache_clear()


@pytest.fixture
def context() -> Context:
    return Context()
