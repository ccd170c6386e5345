"""The operating commands answer AWS's refusals and bad input with exit 2 and one line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from etl_constructs.cli import main


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize(
    "argv",
    [
        ["ledger", "list", "--table", "ledger", "--region", "eu-west-1"],
        ["ledger", "show", "--stack", "Payments", "--region", "eu-west-1", "s3://b/k?versionId=v"],
        ["reprocess", "--stack", "Payments", "--region", "eu-west-1", "s3://b/k?versionId=v"],
        ["reprocess", "--stack", "Payments", "--region", "eu-west-1", "--status", "DEFERRED"],
        ["backfill", "--stack", "Payments", "--region", "eu-west-1", "--dry-run"],
    ],
)
def test_without_credentials_the_command_exits_2_saying_so(no_credentials, capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Unable to locate credentials" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ledger", "list", "--out", "nowhere"], "no ledger.json in nowhere: run `etl-constructs run-local"),
        (["ledger", "list", "--out", ".", "--since", "March"], "--since 'March' is not an ISO 8601 time"),
        (["cost", "--template", "nowhere", "--files-per-month", "1", "--mean-size", "1"], "nowhere"),
        (["cost", "--template", "x", "--files-per-month", "-1", "--mean-size", "1"], "must be 0 or more"),
    ],
)
def test_bad_input_exits_2_naming_it(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_reader_that_goes_away_is_not_an_internal_error(tmp_path):
    """`ledger list --json | head`: the pipe closes early, and the command ends quietly, exit 0."""
    items = [
        {"file_id": f"s3://b/f{i}.csv?versionId=v", "status": "COMPLETED", "updated_at": "2026-11-26T10:00:00.000Z",
         "attempt": 1, "bucket": "b", "key": f"f{i}.csv", "version": "v"}
        for i in range(3000)
    ]  # fmt: skip
    (tmp_path / "ledger.json").write_text(json.dumps({"table": "t", "items": items}))
    cli = Path(sys.executable).parent / "etl-constructs"
    run = subprocess.Popen(
        [cli, "ledger", "list", "--out", tmp_path, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert run.stdout is not None and run.stderr is not None
    run.stdout.close()  # the reader went away before reading anything
    err = run.stderr.read().decode()
    assert run.wait() == 0 and "internal error" not in err, err
