"""`etl-constructs schema check` and `schema default`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from etl_constructs.cli import main
from etl_handlers.core.schema import DEFAULT_SCHEMA, Schema

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "schemas" / "settlements.json"


def test_the_example_schema_checks_out(capsys):
    assert main(["schema", "check", str(EXAMPLE), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome == {"file": str(EXAMPLE), "ok": True, "fields": 7, "schema_hash": Schema.from_file(EXAMPLE).hash}


def test_a_bad_schema_exits_1_naming_the_setting_s_path(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fields": {"amount": {"type": "decimal", "required": True, "minimum": "1e3"}}}))
    assert main(["schema", "check", str(bad)]) == 1
    assert capsys.readouterr().err.startswith(f"{bad}: fields.amount.minimum: a plain decimal")
    assert main(["schema", "check", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["path"] == "fields.amount.minimum"


def test_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["schema", "check", str(tmp_path / "none.json")]) == 2
    assert "no schema file at" in capsys.readouterr().err


def test_the_default_schema_is_printed_as_a_schema_file(capsys):
    assert main(["schema", "default"]) == 0
    assert Schema.from_json(capsys.readouterr().out) == DEFAULT_SCHEMA
