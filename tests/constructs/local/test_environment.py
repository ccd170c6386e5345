"""The emulation changes environment variables in Python's view only: the C environment is never written."""

from __future__ import annotations

import ctypes
import os

from etl_constructs.local.environment import set_variables, variables

_libc = ctypes.CDLL(None)
_libc.getenv.restype = ctypes.c_char_p


def _c_getenv(name: str) -> bytes | None:
    value: bytes | None = _libc.getenv(name.encode())
    return value


def test_a_variable_is_set_and_removed_in_python_only():
    set_variables({"ETL_LOCAL_PROBE": "one"})
    try:
        assert os.environ["ETL_LOCAL_PROBE"] == "one"
        assert _c_getenv("ETL_LOCAL_PROBE") is None
    finally:
        set_variables({"ETL_LOCAL_PROBE": None})
    assert "ETL_LOCAL_PROBE" not in os.environ


def test_the_block_restores_earlier_values_and_absences(monkeypatch):
    monkeypatch.setenv("ETL_LOCAL_KEPT", "before")
    with variables({"ETL_LOCAL_KEPT": "during", "ETL_LOCAL_NEW": "x", "ETL_LOCAL_KEPT_GONE": None}):
        assert (os.environ["ETL_LOCAL_KEPT"], os.environ["ETL_LOCAL_NEW"]) == ("during", "x")
        assert _c_getenv("ETL_LOCAL_KEPT") == b"before"
    assert os.environ["ETL_LOCAL_KEPT"] == "before"
    assert "ETL_LOCAL_NEW" not in os.environ


def test_a_local_run_sets_the_functions_variables_without_writing_the_c_environment(
    default_template_path, tmp_path, monkeypatch
):
    from etl_constructs.local import LocalPipeline

    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)

    data = tmp_path / "in" / "a.csv"
    data.parent.mkdir()
    data.write_bytes(b"transaction_id,amount,date,account_id\nt1,1.10,2024-01-01,a\n")
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        assert [f.status for f in local.run([data]).files] == ["COMPLETED"]
        assert os.environ["LEDGER_TABLE"] and os.environ["AWS_ACCESS_KEY_ID"] == "local"
        assert _c_getenv("LEDGER_TABLE") is None and _c_getenv("LAMBDA_TASK_ROOT") is None
        assert _c_getenv("AWS_ACCESS_KEY_ID") != b"local"
        # Lambda's own variables, as Lambda sets them: the memory of the function that ran last.
        memory = {str(fn.memory_mb) for fn in local.pipeline.functions.values()}
        assert os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] in memory
    assert os.environ.get("AWS_ACCESS_KEY_ID") != "local"
    assert "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" not in os.environ and "LAMBDA_TASK_ROOT" not in os.environ
