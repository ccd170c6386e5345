"""The `etl-constructs run-local` command as a user runs it: exit status, JSON report, stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "examples" / "data"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "etl_constructs.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)


def test_all_good_files_exit_zero_with_one_json_document(default_template_path, tmp_path):
    done = run(
        "run-local", "--template", str(default_template_path), "--out", str(tmp_path), "--quiet",
        str(DATA / "good-transactions.csv"), str(DATA / "good-transactions.jsonl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [f["status"] for f in report["files"]] == ["COMPLETED", "COMPLETED"]
    fields = "file key file_id status rows_total rows_valid rows_rejected output quarantine errors"
    assert set(report["files"][0]) == set(fields.split())
    assert done.stderr == ""


def test_a_rejected_file_exits_one(default_template_path, tmp_path):
    done = run(
        "run-local",
        "--template",
        str(default_template_path),
        "--out",
        str(tmp_path),
        str(DATA / "bad-transactions.csv"),
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["files"][0]["status"] == "VALIDATION_FAILED"
    assert "1/1 files" in done.stderr


def test_a_missing_file_is_a_usage_error(tmp_path):
    done = run("run-local", str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"etl-constructs: no such file: {tmp_path / 'nope.csv'}"
    assert done.stdout == ""


def test_a_template_without_the_pipeline_is_a_usage_error(tmp_path):
    template = tmp_path / "other.template.json"
    template.write_text('{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}')
    done = run("run-local", "--template", str(template), str(DATA / "good-transactions.csv"))
    assert done.returncode == 2
    assert "holds no EtlPipeline" in done.stderr


@pytest.mark.slow
def test_without_a_template_a_default_pipeline_is_synthesized(tmp_path):
    done = run("run-local", "--quiet", "--out", str(tmp_path), str(DATA / "good-transactions.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"][0]["status"] == "COMPLETED"
