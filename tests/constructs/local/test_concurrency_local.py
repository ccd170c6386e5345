"""Executions run at once, and functions are throttled past their concurrency limit, as in Lambda."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from etl_constructs.local import LocalPipeline

FINAL = {"COMPLETED", "VALIDATION_FAILED", "TRANSFORMATION_FAILED"}


def csv_files(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"f{i:03d}.csv"
        path.write_bytes(b"transaction_id,amount,date,account_id\nt%d,%d.10,2024-01-01,a\n" % (i, i))
        files.append(path)
    return files


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["STANDARD", "EXPRESS"])
def test_a_burst_of_200_files_at_concurrency_5_is_throttled_retried_and_all_complete(
    mode, default_template_path, standard_template_path, tmp_path
):
    template = default_template_path if mode == "EXPRESS" else standard_template_path
    started = time.monotonic()
    with LocalPipeline(template, out=tmp_path / "out", concurrency=5, backoff=0.25) as local:
        result = local.run(csv_files(tmp_path / "in", 200))
        throttled = sum(local.lambda_service.seen.throttles.values())
        items = [local.ledger_item(f.file_id) or {} for f in result.files]
    wall = time.monotonic() - started
    statuses = Counter(f.status for f in result.files)
    # A burst waits its turn and never fails a file: throttling has its own budget, and a file throttled past
    # it (under EXPRESS's 5 minutes) is DEFERRED and begun again by the sweep.
    assert statuses == {"COMPLETED": 200}, (statuses, [f.errors for f in result.files if f.status != "COMPLETED"][:3])
    assert sum(f.throttles for f in result.files) == throttled > 0
    assert [f for f in result.files if f.throttles and f.attempts > 2], "throttled invocations succeeded on a retry"
    deferred = [i for i in items if i.get("deferrals")]
    assert [f.deferrals for f in result.files] == [int(i.get("deferrals", 0)) for i in items]
    if mode == "EXPRESS":
        assert deferred, "the burst outran EXPRESS's throttling budget: some files were deferred"
        for item in deferred:  # resumed at once on the STANDARD twin: the same attempt went on, no error kept
            assert (item["status"], item["attempt"]) == ("COMPLETED", 1)
            assert item["deferred_at"] < item["resumed_at"] and "error" not in item and "history" not in item
            assert "LargeFileStateMachine" in item["execution"]
    print(f"200 files at concurrency 5 ({mode}): {throttled} throttles, {len(deferred)} deferred, {wall:.1f} s")


def test_without_a_limit_nothing_is_throttled(default_template_path, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        result = local.run(csv_files(tmp_path / "in", 8))
    assert [(f.status, f.attempts, f.throttles) for f in result.files] == [("COMPLETED", 2, 0)] * 8


def _reserve_one(body: dict) -> None:
    for resource in body["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function" and "Handler" in resource["Properties"]:
            resource["Properties"]["ReservedConcurrentExecutions"] = 1


def test_reserved_concurrency_in_the_template_is_honoured(default_template_path, variant, tmp_path):
    template = variant(default_template_path, tmp_path, _reserve_one)
    with LocalPipeline(template, out=tmp_path / "out", backoff=0.01) as local:
        result = local.run(csv_files(tmp_path / "in", 10))
    assert sum(f.throttles for f in result.files) > 0
    assert {f.status for f in result.files} <= FINAL


@pytest.mark.parametrize("bad", [0, -1])
def test_a_concurrency_below_one_is_refused(bad):
    with pytest.raises(ValueError, match="concurrency must be 1 or more"):
        LocalPipeline(concurrency=bad)
