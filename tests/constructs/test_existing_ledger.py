"""ProcessingLedger and EtlPipeline with your own table: checked when it is of this app, warned when imported."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms

from etl_constructs import ConfigurationError, EtlPipeline, EtlPipelineProps, ProcessingLedger, ProcessingLedgerProps

S = dynamodb.AttributeType.STRING


def _table(stack: cdk.Stack, key: str = "file_id", index: tuple[str, str] | None = ("status", "updated_at")):
    table = dynamodb.Table(stack, "Own", partition_key=dynamodb.Attribute(name=key, type=S))
    if index is not None:
        table.add_global_secondary_index(
            index_name="status-updated_at-index",
            partition_key=dynamodb.Attribute(name=index[0], type=S),
            sort_key=dynamodb.Attribute(name=index[1], type=S),
        )
    return table


def test_a_pipeline_on_your_own_table_creates_none_and_records_to_it():
    stack = cdk.Stack(cdk.App(), "Own")
    table = _table(stack)
    pipeline = EtlPipeline(stack, "Pipeline", EtlPipelineProps(ledger=ProcessingLedgerProps(existing_table=table)))
    assert pipeline.table is table
    template = assertions.Template.from_stack(stack)
    assert len(template.find_resources("AWS::DynamoDB::Table")) == 1
    (sweep,) = [
        f for f in template.find_resources("AWS::Lambda::Function").values() if "sweep" in f["Properties"]["Handler"]
    ]
    assert sweep["Properties"]["Environment"]["Variables"]["LEDGER_TABLE"] == {
        "Ref": stack.get_logical_id(table.node.default_child)
    }


@pytest.mark.parametrize(
    ("key", "index", "message"),
    [
        ("id", ("status", "updated_at"), "partition key 'file_id' .* it has 'id'"),
        ("file_id", None, "no global index 'status-updated_at-index'"),
        ("file_id", ("state", "updated_at"), "must be on 'status' and 'updated_at'; it is on 'state'"),
    ],
)
def test_a_table_without_the_ledgers_keys_or_index_is_refused(key, index, message):
    stack = cdk.Stack(cdk.App(), "Wrong")
    with pytest.raises(ConfigurationError, match=message):
        ProcessingLedger(stack, "Ledger", ProcessingLedgerProps(existing_table=_table(stack, key, index)))


def test_an_imported_table_gets_a_warning_saying_what_it_must_have(find_warnings):
    stack = cdk.Stack(cdk.App(), "Imported")
    table = dynamodb.Table.from_table_name(stack, "Theirs", "ledger")
    ProcessingLedger(stack, "Ledger", ProcessingLedgerProps(existing_table=table))
    warnings = find_warnings(stack, "cannot be checked at synth")
    assert len(warnings) == 1 and "status-updated_at-index" in warnings[0]


def test_table_settings_beside_an_existing_table_are_refused():
    stack = cdk.Stack(cdk.App(), "Both")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    with pytest.raises(ConfigurationError, match="encryption_key, table_name would not apply"):
        ProcessingLedgerProps(existing_table=_table(stack), encryption_key=key, table_name="t")


def test_reading_an_imported_ledger_includes_its_status_index():
    stack = cdk.Stack(cdk.App(), "Read")
    ledger = ProcessingLedger(
        stack, "Ledger", ProcessingLedgerProps(existing_table=dynamodb.Table.from_table_name(stack, "T", "ledger"))
    )
    from aws_cdk import aws_iam as iam

    ledger.grant_read(iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal()))
    text = str(assertions.Template.from_stack(stack).find_resources("AWS::IAM::Policy"))
    assert "/index/status-updated_at-index" in text and "dynamodb:Query" in text
