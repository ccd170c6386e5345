"""The example app synthesizes with `python app.py` (into examples/cdk.out) and with the CDK CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

EXAMPLES = REPO / "examples"


def _stack_names(outdir) -> list[str]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return sorted(k for k, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack")


@pytest.fixture(scope="module")
def example_out() -> Path:
    """`python app.py` run once for the module: the assembly it writes to examples/cdk.out."""
    subprocess.run([sys.executable, "app.py"], cwd=EXAMPLES, check=True, capture_output=True)
    return EXAMPLES / "cdk.out"


def test_python_app_writes_examples_cdk_out(example_out):
    template = example_out / "EtlPipelineExample-dev.template.json"
    assert template.is_file()
    assert _stack_names(example_out) == ["EtlPipelineExample-dev"]


def test_cdk_cli_synthesizes_with_an_environment_suffix(tmp_path):
    cdk = shutil.which("cdk", path=str(REPO / ".venv" / "cdk" / "node_modules" / ".bin"))
    if cdk is None:
        pytest.skip("the CDK CLI is installed by `make setup`")
    env = dict(os.environ, PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        [cdk, "synth", "--quiet", "--context", "environmentSuffix=qa", "--output", str(tmp_path)],
        cwd=EXAMPLES,
        check=True,
        capture_output=True,
        env=env,
    )
    assert _stack_names(tmp_path) == ["EtlPipelineExample-qa"]


def test_example_resources_are_destroyable(example_out):
    template = json.loads((example_out / "EtlPipelineExample-dev.template.json").read_text())
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::S3::Bucket", "AWS::DynamoDB::Table"):
            assert resource["DeletionPolicy"] == "Delete"
