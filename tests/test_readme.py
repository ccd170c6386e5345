"""The README's first lines and its Python examples: every example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_readme_opens_with_the_two_commands():
    fence = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in fence] == ["make demo", "make test"]


def test_the_makefile_has_both_targets_and_ci_runs_make_test():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.M) and re.search(r"^test:", makefile, flags=re.M)
    assert "make test" in (REPO / ".ci" / "run").read_text()


@pytest.mark.parametrize("index", [i for i, b in enumerate(BLOCKS) if "def failed_since" not in b])
def test_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


def test_failed_since_finds_failures_through_the_status_index(monkeypatch):
    (block,) = [b for b in BLOCKS if "def failed_since" in b]
    namespace: dict = {}
    exec(compile(block, "README.md failed_since", "exec"), namespace)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "file_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "file_id", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
                {"AttributeName": "updated_at", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "status-updated_at-index",
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "updated_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for file_id, status, at in [
            ("old", "VALIDATION_FAILED", "2024-01-01T00:00:00.000Z"),
            ("new", "VALIDATION_FAILED", "2024-06-01T00:00:00.000Z"),
            ("ok", "COMPLETED", "2024-06-02T00:00:00.000Z"),
        ]:
            ddb.put_item(
                TableName="ledger",
                Item={"file_id": {"S": file_id}, "status": {"S": status}, "updated_at": {"S": at}},
            )
        found = namespace["failed_since"]("ledger", "2024-05-01T00:00:00.000Z")
    assert [i["file_id"]["S"] for i in found] == ["new"]


def _rendered(value: object) -> str:
    """A default as the README's table writes it, without backticks or quotes."""
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    if hasattr(value, "to_human_string"):  # a Duration
        return str(value.to_human_string())
    return str(value)


def test_the_data_settings_table_holds_every_field_with_its_default():
    from dataclasses import fields

    from etl_constructs import DataSettings

    section = README.split("| setting (`DataSettings`) | default | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in section.strip().splitlines()[1:]:
        name, default = (cell.strip().strip("`").replace('"', "") for cell in line.strip("|").split("|")[:2])
        rows[name] = default
    defaults = DataSettings()
    for spec in (f for f in fields(DataSettings) if f.init):
        assert spec.name in rows, f"README's data settings table has no row for {spec.name}"
        assert rows[spec.name] == _rendered(getattr(defaults, spec.name)), spec.name
