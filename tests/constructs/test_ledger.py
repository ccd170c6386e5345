"""ProcessingLedger alone: on-demand table, recovery, encryption, the status index, the vocabulary."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from etl_constructs import ConfigurationError, ProcessingLedger, ProcessingLedgerProps, statuses


def _build(stack):
    ledger = ProcessingLedger(stack, "Ledger")
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    ledger.grant_status_writes(reader)
    return ledger


@pytest.fixture(scope="module")
def table(synthesize) -> dict:
    template, _ = synthesize(_build)
    (resource,) = template.find_resources("AWS::DynamoDB::Table").values()
    return resource


@pytest.fixture(scope="module")
def template(synthesize):
    return synthesize(_build)[0]


def test_billing_is_pay_per_request(table):
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"


def test_on_demand_billing_mode_does_not_exist_in_cdk():
    # The earlier design used BillingMode.ON_DEMAND, which crashes synthesis.
    assert not hasattr(dynamodb.BillingMode, "ON_DEMAND")


def test_point_in_time_recovery_is_on(table):
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_encryption_uses_an_aws_owned_key_by_default(table):
    # DynamoDB always encrypts at rest; SSEEnabled false selects the AWS-owned key (no KMS charges).
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": False}


def test_partition_key_is_file_id(table):
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "file_id", "KeyType": "HASH"}]


def test_status_index_answers_failed_since(table):
    (index,) = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == ProcessingLedger.STATUS_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "updated_at", "KeyType": "RANGE"},
    ]


def test_table_is_retained_by_default(table):
    assert table["DeletionPolicy"] == "Retain"


def test_status_writes_grant_only_item_actions(template):
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


def test_status_vocabulary_is_the_contracts():
    # The contract's lifecycle, then DEFERRED: a file the functions had no room for waits, neither in
    # progress nor final, until the sweep resumes it.
    assert statuses.ALL == (
        "RECEIVED",
        "VALIDATING",
        "VALIDATED",
        "TRANSFORMING",
        "COMPLETED",
        "VALIDATION_FAILED",
        "TRANSFORMATION_FAILED",
        "DEFERRED",
    )
    assert statuses.DEFERRED not in (*statuses.IN_PROGRESS, *statuses.FINAL)
    assert set(ProcessingLedger.FINAL_STATUSES) == {"COMPLETED", "VALIDATION_FAILED", "TRANSFORMATION_FAILED"}


def test_customer_key_and_deletion_protection(synthesize):
    def build(stack):
        key = kms.Key(stack, "Key", enable_key_rotation=True)
        ProcessingLedger(stack, "Ledger", ProcessingLedgerProps(encryption_key=key, deletion_protection=True))

    template, _ = synthesize(build)
    (table,) = template.find_resources("AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"]["SSEType"] == "KMS"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_deletion_protection_with_destroy_fails():
    with pytest.raises(ConfigurationError, match="deletion_protection"):
        ProcessingLedgerProps(deletion_protection=True, removal_policy=cdk.RemovalPolicy.DESTROY)
