"""A stack pinned to an account and region (even another partition's) runs locally as it would deploy."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms

from etl_constructs import EtlPipeline, EtlPipelineProps
from etl_constructs.local import run_local

pytestmark = pytest.mark.slow

ENVIRONMENTS = {
    "Ireland": cdk.Environment(account="111111111111", region="eu-west-1"),
    "Beijing": cdk.Environment(account="222222222222", region="cn-north-1"),
}


@pytest.fixture(scope="module")
def assembly(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pinned") / "cdk.out"
    app = cdk.App(outdir=str(out))
    for name, env in ENVIRONMENTS.items():
        stack = cdk.Stack(app, name, env=env)
        EtlPipeline(stack, "Pipeline", EtlPipelineProps(encryption_key=kms.Key(stack, "Key", enable_key_rotation=True)))
    app.synth()
    return out


@pytest.mark.parametrize("stack", sorted(ENVIRONMENTS))
def test_a_pinned_stack_completes_a_valid_file(assembly, stack, tmp_path):
    sample = tmp_path / "march.csv"
    sample.write_text("transaction_id,amount,date,account_id\nT-1,10.00,2024-03-01,ACC-1\n")
    with (tmp_path / "logs.jsonl").open("w") as log:
        result = run_local([sample], template=assembly, stack=stack, out=tmp_path / "out", log=log)
    assert result.ok, result.to_dict()
