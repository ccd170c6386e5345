"""The cost model prices a synthesized pipeline from its template: transitions counted from the definition."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions as sfn

from etl_constructs import EtlPipeline, EtlPipelineProps, LandingOptions
from etl_constructs.cli import main
from etl_constructs.cost import SEED, STORAGE, count_transitions, estimate, shape_of, xray_traces

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def assembly(tmp_path_factory) -> Path:
    """The default (EXPRESS, its STANDARD twin for large files); a STANDARD one; and a STANDARD one whose input
    prefix makes the definition check the suffix too."""
    out = tmp_path_factory.mktemp("cost") / "cdk.out"
    app = cdk.App(outdir=str(out))
    stack = cdk.Stack(app, "Priced")
    EtlPipeline(stack, "Plain")
    EtlPipeline(stack, "Standard", EtlPipelineProps(state_machine_type=sfn.StateMachineType.STANDARD))
    EtlPipeline(
        stack,
        "Prefixed",
        EtlPipelineProps(
            state_machine_type=sfn.StateMachineType.STANDARD,
            input_prefix="in/",
            landing=LandingOptions(archive_retention=cdk.Duration.days(30)),
        ),
    )
    app.synth()
    return out


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The example app (examples/app.py) synthesized into a folder of this module's own."""
    spec = importlib.util.spec_from_file_location("example_app", REPO / "examples" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("example") / "cdk.out"
    module.build_app(str(out)).synth()
    return out


def test_transitions_are_counted_by_walking_the_definition(assembly):
    standard = shape_of(assembly, pipeline="Standard")
    assert (standard.valid_transitions, standard.rejected_transitions) == (6, 6)
    assert standard.state_machine_type == "STANDARD" and standard.large_file_bytes is None
    plain = shape_of(assembly, pipeline="Plain")  # "Large file?" first, then the same 6
    assert (plain.state_machine_type, plain.valid_transitions, plain.rejected_transitions) == ("EXPRESS", 7, 7)
    assert plain.large_file_bytes == 256 * 1024 * 1024
    assert (plain.large_valid_transitions, plain.large_rejected_transitions, plain.hand_over_transitions) == (6, 6, 3)
    prefixed = shape_of(assembly, pipeline="Prefixed")
    assert prefixed.valid_transitions == 7  # "Accepted suffix?" checks the case-insensitive suffix
    assert prefixed.archive and not plain.archive
    assert plain.functions == ((768, "arm64", True), (1024, "arm64", True))
    assert plain.sweep_per_month == 30 * 24 * 4


def test_a_change_to_the_definition_changes_the_price(assembly):
    plain, prefixed = (estimate(shape_of(assembly, pipeline=p), 3_000_000, 1.0) for p in ("Standard", "Prefixed"))
    transitions = "Step Functions state transitions"
    assert prefixed.breakdown[transitions] - plain.breakdown[transitions] == pytest.approx(75.0, abs=0.01)
    assert prefixed.total > plain.total


def test_the_default_prices_express_below_the_size_and_the_standard_twin_above(assembly):
    shape = shape_of(assembly, pipeline="Plain")
    small = estimate(shape, 3_000_000, 1.0)
    assert "Step Functions state transitions" not in small.breakdown
    assert small.assumptions["state_machine_type"] == "EXPRESS"
    large = estimate(shape, 300, 1024.0)
    assert large.assumptions["state_machine_type"] == "STANDARD (handed over by size)"
    # The twin's 6 transitions a file, at $0.025 a thousand; and the hand-over's EXPRESS request.
    assert large.breakdown["Step Functions state transitions"] == pytest.approx(300 * 6 * 0.025 / 1000, abs=0.01)
    assert "Step Functions Express requests" in large.breakdown
    standard = estimate(shape_of(assembly, pipeline="Standard"), 3_000_000, 1.0)
    assert small.total < standard.total * 0.75


def test_s3_requests_are_counted_by_part(assembly):
    """The transform's upload to the final key goes in 8 MiB parts past 8 MiB."""
    from etl_constructs.cost import OUTPUT_RATIO, prices

    p = prices()["regions"]["us-east-1"]
    shape = shape_of(assembly, pipeline="Plain")
    files = 100
    small = estimate(shape, files, 1.0, rejected_share=0).breakdown["S3 requests"]
    parts = -(-1024 * OUTPUT_RATIO // 8) + 2  # create, the parts, complete
    large = estimate(shape, files, 1024.0, rejected_share=0).breakdown["S3 requests"]
    gets = files * 2 / 1000 * p["s3_get_per_1000"]  # a read each
    assert large == pytest.approx(gets + files * parts / 1000 * p["s3_put_copy_list_per_1000"], abs=0.01)
    assert small == pytest.approx(gets + files / 1000 * p["s3_put_copy_list_per_1000"], abs=0.01)


def test_the_part_size_is_the_transforms():
    from etl_constructs.cost import _PART_MB
    from etl_handlers import s3io

    assert _PART_MB * 1024 * 1024 == s3io.PART_SIZE


def test_a_loop_or_a_choice_is_followed_as_named():
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Choice", "Choices": [{"Next": "B"}], "Default": "C"},
            "B": {"Type": "Pass", "Next": "A"},
            "C": {"Type": "Succeed"},
        },
    }
    assert count_transitions(definition, {}) == 2
    with pytest.raises(ValueError, match="loops"):
        count_transitions(definition, {"A": 0})


def test_the_seed_shape_costs_more_in_compute_and_less_in_transitions(example):
    ours = estimate(shape_of(example, "EtlPipelineExample-dev", "Pipeline"), 3_000_000, 1.0)
    seed = estimate(SEED, 3_000_000, 1.0, seed=True)
    compute = sum(v for k, v in ours.breakdown.items() if k.startswith("Lambda compute"))
    assert compute < sum(v for k, v in seed.breakdown.items() if k.startswith("Lambda compute")) / 3
    assert seed.assumptions["transitions_valid_file"] == 4
    assert seed.assumptions["states_logged"] == "none"  # the seed logged nothing


def test_the_example_costs_at_most_a_quarter_of_the_seeds_shape_without_storage(example):
    """The issue's goal at 100,000 files a day of 1 MB. Storage is the files' and their output's, the same in both."""
    ours = estimate(shape_of(example, "EtlPipelineExample-dev", "Pipeline"), 3_000_000, 1.0)
    seed = estimate(SEED, 3_000_000, 1.0, seed=True)
    assert ours.breakdown[STORAGE] == seed.breakdown[STORAGE]
    assert ours.without_storage <= seed.without_storage / 4


def test_the_command_prints_a_table_and_json(capsys, example):
    args = ["cost", "--template", str(example), "--stack", "EtlPipelineExample-dev", "--pipeline", "Pipeline"]
    assert main([*args, "--files-per-month", "30000", "--mean-size", "0.1"]) == 0
    last_two = capsys.readouterr().out.splitlines()[-2:]
    assert last_two[0].startswith("total (USD a month)") and last_two[1].startswith("  without S3 storage")
    assert main([*args, "--files-per-month", "30000", "--mean-size", "0.1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == pytest.approx(sum(report["breakdown"].values()), abs=0.05)
    storage = report["breakdown"][STORAGE]
    assert report["without_storage"] == pytest.approx(report["total"] - storage, abs=0.02) and storage > 0
    assert report["assumptions"]["prices_date"] and report["assumptions"]["transitions_valid_file"] == 7
    assert main([*args, "--files-per-month", "1", "--mean-size", "1", "--region", "mars-1"]) == 2
    assert "no prices for mars-1" in capsys.readouterr().err


def test_x_ray_records_one_trace_per_execution_sampled_by_the_default_rule(assembly):
    shape = shape_of(assembly, pipeline="Plain")
    assert shape.traced_machine
    # Below a second's reservoir on average every execution is one trace (its functions' segments within it).
    assert xray_traces(30_000, shape) == 30_000
    # Past it, 5% of the rest: 3M a month is 2,592,000 in the reservoir and 5% of 408,000.
    assert xray_traces(3_000_000, shape) == pytest.approx(2_592_000 + 0.05 * 408_000)
    untraced = dataclasses.replace(shape, traced_machine=False)
    assert xray_traces(30_000, untraced) == 60_000  # each traced function's invocation a root of its own


def test_state_logs_are_priced_by_the_machines_log_level(assembly):
    """EXPRESS logs failures only by default (a file that ends well logs nothing there); STANDARD every state."""
    from etl_constructs.cost import LOG_BYTES_PER_INVOCATION, LOG_BYTES_PER_TRANSITION, prices

    p = prices()["regions"]["us-east-1"]["cloudwatch_logs_ingestion_per_gb"]
    plain, standard = shape_of(assembly, pipeline="Plain"), shape_of(assembly, pipeline="Standard")
    assert (plain.logs_every_state, plain.twin_logs_every_state, standard.logs_every_state) == (False, True, True)
    files = 3_000_000
    functions_only = files * 2 * LOG_BYTES_PER_INVOCATION / 1024**3 * p
    small = estimate(plain, files, 1.0)
    assert small.breakdown["CloudWatch Logs ingestion"] == pytest.approx(functions_only, abs=0.01)
    assert small.assumptions["states_logged"] == "failures only"
    every_state = estimate(dataclasses.replace(plain, logs_every_state=True), files, 1.0)
    states = files * 7 * LOG_BYTES_PER_TRANSITION / 1024**3 * p  # 7 states a file, valid or rejected
    assert every_state.breakdown["CloudWatch Logs ingestion"] == pytest.approx(functions_only + states, abs=0.01)
    large = estimate(plain, 300, 1024.0)  # handed over: the twin logs every state
    assert large.assumptions["states_logged"] == "every state"
