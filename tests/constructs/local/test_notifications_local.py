"""Bucket notifications: only a bucket that sends its events to EventBridge starts a workflow.

RawLanding turns EventBridge on through a bucket's own `NotificationConfiguration`; here that
property is taken away again, so the stack holds `Notified`, on a bucket whose events reach
EventBridge only through CDK's `Custom::S3BucketNotifications` (`event_bridge_enabled=True`), and
`Quiet`, on a bucket that sends none. Synthesized once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from etl_constructs import EtlPipeline, EtlPipelineProps
from etl_constructs.local import FileReport, LocalPipeline
from etl_constructs.local.template import Template

REPO = Path(__file__).resolve().parents[3]
GOOD = REPO / "examples" / "data" / "good-transactions.csv"


def _own_bucket(stack: cdk.Stack, construct_id: str, event_bridge: bool) -> s3.Bucket:
    return s3.Bucket(stack, construct_id, versioned=True, event_bridge_enabled=event_bridge, enforce_ssl=True)


@pytest.fixture(scope="module")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("notifications") / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Notifications")
    for construct_id, event_bridge in (("Notified", True), ("Quiet", False)):
        bucket = _own_bucket(stack, f"{construct_id}Bucket", event_bridge)
        EtlPipeline(stack, construct_id, EtlPipelineProps(existing_raw_bucket=bucket))
        # Undo RawLanding's own property: what is left is the custom resource, or nothing.
        bucket.node.default_child.add_property_deletion_override("NotificationConfiguration")  # type: ignore[union-attr]
    app.synth()
    return outdir / "Notifications.template.json"


def _run(template_path: Path, out: Path, pipeline: str) -> tuple[FileReport, list[dict[str, Any]]]:
    with LocalPipeline(template_path, out=out, pipeline=pipeline) as local:
        (report,) = local.run([GOOD]).files
        items: list[dict[str, Any]] = local.clients["dynamodb"].scan(TableName=local.pipeline.table)["Items"]
    return report, items


def test_the_buckets_carry_no_notification_property_and_one_has_the_custom_resource(template_path):
    template = Template.load(template_path)
    for logical_id, bucket in template.of_type("AWS::S3::Bucket").items():
        if logical_id.startswith(("NotifiedBucket", "QuietBucket")):
            assert "NotificationConfiguration" not in bucket.get("Properties", {})
    (custom,) = template.of_type("Custom::S3BucketNotifications").values()
    assert custom["Properties"]["BucketName"]["Ref"].startswith("NotifiedBucket")
    assert custom["Properties"]["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}


def test_a_bucket_notified_through_the_custom_resource_starts_the_workflow(template_path, tmp_path):
    report, items = _run(template_path, tmp_path, "Notified")
    assert report.status == "COMPLETED", report.errors
    assert [item["file_id"]["S"] for item in items] == [report.file_id]


def test_a_bucket_without_event_bridge_never_starts_a_workflow(template_path, tmp_path):
    report, items = _run(template_path, tmp_path, "Quiet")
    assert (report.status, report.file_id, report.output) == ("NOT_STARTED", None, None)
    assert "sends no events" in report.errors[0]["message"]
    assert items == []
