"""A pytest plugin for your own test suite: run files through your configured pipeline locally.

In `conftest.py`:

    pytest_plugins = ["etl_constructs.testing"]

then in a test:

    def test_my_file_is_accepted(etl_pipeline, tmp_path):
        result = etl_pipeline.run(["tests/data/march.csv"])
        assert result.ok, result.to_dict()

The pipeline is the template named by the `ETL_TEMPLATE` environment variable (a synthesized
template with its assets beside it, or a cloud assembly folder; `ETL_STACK` and `ETL_PIPELINE`
pick a stack and a pipeline when there are several), or a default EtlPipeline synthesized once
per session.

Faults on purpose, to test what your pipeline does when AWS misbehaves:

    from etl_constructs.testing import Fault

    def test_a_lost_reply_is_survived(etl_pipeline):
        fault = etl_pipeline.inject(Fault.reply_lost("s3", "GetObject", caller="Validate"))
        assert etl_pipeline.run(["tests/data/march.csv"]).ok
        assert fault.hits == 1
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .local import Fault, LocalPipeline, synthesize_default

__all__ = ["Fault", "LocalPipeline", "etl_pipeline", "etl_template"]


@pytest.fixture(scope="session")
def etl_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template the pipeline runs: `ETL_TEMPLATE`, or a default EtlPipeline synthesized once."""
    named = os.environ.get("ETL_TEMPLATE")
    if named:
        return Path(named)
    return synthesize_default(tmp_path_factory.mktemp("etl-pipeline"))


@pytest.fixture
def etl_pipeline(etl_template: Path, tmp_path: Path) -> Iterator[LocalPipeline]:
    """A fresh emulated pipeline for one test; outputs, and the functions' logs, go under the test's tmp_path."""
    with (
        (tmp_path / "etl-handler-logs.jsonl").open("w", encoding="utf-8") as log,
        LocalPipeline(
            etl_template,
            out=tmp_path / "etl-out",
            log=log,
            stack=os.environ.get("ETL_STACK") or None,
            pipeline=os.environ.get("ETL_PIPELINE") or None,
        ) as pipeline,
    ):
        yield pipeline
