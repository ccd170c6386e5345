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


def test_a_users_test_injects_a_fault_into_a_pipeline_of_a_cloud_assembly(pytester, default_template_path, monkeypatch):
    monkeypatch.setenv("ETL_TEMPLATE", str(default_template_path.parent))  # the cdk.out folder
    pytester.makeconftest('pytest_plugins = ["etl_constructs.testing"]\n')
    sample = REPO / "examples" / "data" / "good-transactions.csv"
    pytester.makepyfile(
        f"""
        from etl_constructs.testing import Fault

        def test_a_lost_reply_is_survived(etl_pipeline):
            fault = etl_pipeline.inject(Fault.reply_lost("s3", "GetObject", caller="Validate"))
            assert etl_pipeline.run([{str(sample)!r}]).ok
            assert fault.hits == 1

        def test_a_function_killed_every_time_fails_the_file(etl_pipeline):
            etl_pipeline.inject(Fault.kill("Validate", times=None))
            (report,) = etl_pipeline.run([{str(sample)!r}]).files
            assert report.status == "VALIDATION_FAILED"
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
