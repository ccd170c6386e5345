"""The pytest plugin, loaded in a user's test suite as the README says."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_plugin_runs_a_users_file_through_their_pipeline(pytester, default_template_path, monkeypatch):
    monkeypatch.setenv("ETL_TEMPLATE", str(default_template_path))
    pytester.makeconftest('pytest_plugins = ["etl_constructs.testing"]\n')
    sample = REPO / "examples" / "data" / "good-transactions.csv"
    pytester.makepyfile(
        f"""
        def test_accepted(etl_pipeline):
            result = etl_pipeline.run([{str(sample)!r}])
            assert result.ok, result.to_dict()
            assert result.files[0].rows_total == 3
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
