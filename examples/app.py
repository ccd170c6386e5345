"""Example app: the whole pipeline in one stack, for an ephemeral environment.

    python app.py            # writes the cloud assembly to examples/cdk.out
    cdk synth / cdk deploy   # the same app through the CDK CLI (cdk.json)

The stack name carries the environment suffix (context `environmentSuffix`, default `dev`).
Everything is destroyed with the stack, objects included: do not use these settings for data you keep.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import RemovalPolicy

from etl_constructs import EtlPipeline, EtlPipelineProps

HERE = Path(__file__).resolve().parent


class EtlPipelineStack(cdk.Stack):
    """One EtlPipeline, destroyable, with its main names as outputs."""

    def __init__(self, scope: cdk.App, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        pipeline = EtlPipeline(
            self,
            "Pipeline",
            EtlPipelineProps(removal_policy=RemovalPolicy.DESTROY, auto_delete_objects=True),
        )
        cdk.CfnOutput(self, "RawBucketName", value=pipeline.raw_bucket.bucket_name)
        cdk.CfnOutput(self, "ProcessedBucketName", value=pipeline.processed_bucket.bucket_name)
        cdk.CfnOutput(self, "QuarantineBucketName", value=pipeline.quarantine_bucket.bucket_name)
        cdk.CfnOutput(self, "LedgerTableName", value=pipeline.table.table_name)
        cdk.CfnOutput(self, "StateMachineArn", value=pipeline.state_machine.state_machine_arn)


def build_app(outdir: str | None = None) -> cdk.App:
    """The example app; `outdir` defaults to examples/cdk.out (the CDK CLI passes its own)."""
    app = cdk.App(outdir=outdir) if outdir else cdk.App()
    suffix = app.node.try_get_context("environmentSuffix") or "dev"
    EtlPipelineStack(app, f"EtlPipelineExample-{suffix}", description="etl-constructs example pipeline")
    return app


if __name__ == "__main__":
    import os

    # The CDK CLI sets CDK_OUTDIR; run directly, the assembly goes beside this file.
    build_app(None if os.environ.get("CDK_OUTDIR") else str(HERE / "cdk.out")).synth()
