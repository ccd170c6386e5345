"""The integration test (run by users with an AWS account) synthesizes, and its committed snapshot is current."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INTEG = REPO / "tests" / "integ" / "integ_pipeline.py"
SNAPSHOT = INTEG.with_suffix(".py.snapshot")


def _logical_ids(folder: Path, name: str) -> list[str]:
    return sorted(json.loads((folder / name).read_text())["Resources"])


def test_integ_app_matches_its_committed_snapshot(tmp_path):
    spec = importlib.util.spec_from_file_location("integ_pipeline", INTEG)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(str(tmp_path)).synth()
    templates = sorted(p.name for p in tmp_path.glob("*.template.json"))
    assert templates == sorted(p.name for p in SNAPSHOT.glob("*.template.json")), "run `make integ-snapshot`"
    for name in templates:
        assert _logical_ids(tmp_path, name) == _logical_ids(SNAPSHOT, name), f"{name}: run `make integ-snapshot`"


def test_the_assertions_wait_for_a_completed_ledger_item():
    (assertions,) = [p for p in SNAPSHOT.glob("*.template.json") if "DeployAssert" in p.name]
    text = assertions.read_text()
    assert "putObject" in text and "getItem" in text and "COMPLETED" in text
