"""Integration test for an AWS account (not run in CI): deploy, upload a sample file, wait for COMPLETED.

    npx integ-runner --directory tests/integ --language python --update-on-failed

or deploy `python tests/integ/integ_pipeline.py`'s assembly yourself. The snapshot beside this file
(`integ_pipeline.py.snapshot/`) is regenerated with `make integ-snapshot`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest

from etl_constructs import EtlPipeline, EtlPipelineProps

SAMPLE = "transaction_id,amount,date,account_id\nINTEG-1,125.50,2024-03-01,ACC-1\nINTEG-2,-12.50,2024-03-02,ACC-2\n"


def build(outdir: str | None = None) -> cdk.App:
    """The integ app: a destroyable pipeline, and assertions that a sample file completes."""
    app = cdk.App(outdir=outdir) if outdir else cdk.App()
    stack = cdk.Stack(app, "EtlConstructsInteg")
    pipeline = EtlPipeline(
        stack, "Pipeline", EtlPipelineProps(removal_policy=RemovalPolicy.DESTROY, auto_delete_objects=True)
    )
    integ = IntegTest(app, "EtlPipelineInteg", test_cases=[stack])
    put = integ.assertions.aws_api_call(
        "S3", "putObject", {"Bucket": pipeline.raw_bucket.bucket_name, "Key": "integ/sample.csv", "Body": SAMPLE}
    )
    version = put.get_att_string("VersionId")
    file_id = cdk.Fn.join("", ["s3://", pipeline.raw_bucket.bucket_name, "/integ/sample.csv?versionId=", version])
    ledger = integ.assertions.aws_api_call(
        "DynamoDB",
        "getItem",
        {"TableName": pipeline.table.table_name, "Key": {"file_id": {"S": file_id}}, "ConsistentRead": True},
    )
    ledger.expect(ExpectedResult.object_like({"Item": {"status": {"S": "COMPLETED"}, "rows_written": {"N": "2"}}}))
    ledger.wait_for_assertions(total_timeout=cdk.Duration.minutes(10), interval=cdk.Duration.seconds(20))
    put.next(ledger)
    return app


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_suffix(".py.snapshot"))).synth()
