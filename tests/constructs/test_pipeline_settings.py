"""EtlPipelineProps: a setting given anywhere takes effect, or is refused naming the conflict."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn

from etl_constructs import (
    ConfigurationError,
    DataSettings,
    EtlPipeline,
    EtlPipelineProps,
    ProcessingLedgerProps,
    RetryPolicy,
)

EXPRESS = {
    "state_machine_type": sfn.StateMachineType.EXPRESS,
    "execution_timeout": cdk.Duration.minutes(5),
    "validate_timeout": cdk.Duration.minutes(1),
    "transform_timeout": cdk.Duration.minutes(2),
}


@pytest.fixture(scope="module")
def template() -> assertions.Template:
    """One stack, three pipelines, each with settings that used to be dropped."""
    app = cdk.App()
    stack = cdk.Stack(app, "Settings")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    EtlPipeline(
        stack,
        "Keyed",
        EtlPipelineProps(encryption_key=key, ledger=ProcessingLedgerProps(point_in_time_recovery=False)),
    )
    EtlPipeline(stack, "Landing", EtlPipelineProps(landing={"suffixes": (".csv",), "input_prefix": "in/"}))
    EtlPipeline(stack, "Express", EtlPipelineProps(workflow={**EXPRESS, "retry": RetryPolicy(max_attempts=1)}))
    return assertions.Template.from_stack(stack)


def _of(template: assertions.Template, kind: str, pipeline: str) -> list[dict]:
    return [r for k, r in template.find_resources(kind).items() if k.startswith(pipeline)]


def test_the_pipelines_key_reaches_ledger_props_given_without_one(template):
    (table,) = _of(template, "AWS::DynamoDB::Table", "Keyed")
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert table["Properties"]["SSESpecification"]["KMSMasterKeyId"]["Fn::GetAtt"][0].startswith("Key")
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is False


def test_landing_suffixes_and_prefix_reach_the_rule_and_the_functions(template):
    (rule,) = [r for r in _of(template, "AWS::Events::Rule", "Landing") if "aws.s3" in json.dumps(r)]
    keys = rule["Properties"]["EventPattern"]["detail"]["object"]["key"]
    assert "in/" in json.dumps(keys) and ".json" not in json.dumps(keys)
    (validate,) = [f for f in _of(template, "AWS::Lambda::Function", "LandingWorkflowValidate")]
    config = json.loads(validate["Properties"]["Environment"]["Variables"]["ETL_CONFIG"])
    assert config["suffixes"] == [".csv"]
    policies = json.dumps(_of(template, "AWS::IAM::Policy", "LandingWorkflowValidateRole"))
    assert "/in/*" in policies


def test_workflow_state_machine_type_and_retry_take_effect(template):
    machines = _of(template, "AWS::StepFunctions::StateMachine", "ExpressWorkflowStateMachine")
    (machine,) = machines
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition = json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts))
    faults = [
        retry
        for state in definition["States"].values()
        for retry in state.get("Retry", [])
        if {"TransientError", "DynamoDB.InternalServerError"} & set(retry["ErrorEquals"])
    ]
    assert faults and {r["MaxAttempts"] for r in faults} == {1}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"input_prefix": "b/", "landing": {"input_prefix": "a/"}}, r"landing\['input_prefix'\] and input_prefix"),
        (
            {"retry": RetryPolicy(max_attempts=2), "workflow": {"retry": RetryPolicy(max_attempts=1)}},
            r"workflow\['retry'\] and retry disagree",
        ),
        ({"workflow": {"quarantine_prefix": "q/"}}, r"landing=\{'quarantine_prefix'"),
        ({"workflow": {"data": DataSettings()}}, r"data=DataSettings"),
        ({"landing": {"suffixes": ".csv"}}, "give a tuple"),
        (
            {"data": DataSettings(suffixes=(".json",)), "landing": {"suffixes": (".csv",)}},
            r"landing\['suffixes'\] and data.suffixes disagree",
        ),
        ({"workflow": [("retry", 1)]}, "must be a mapping"),
    ],
)
def test_a_conflict_is_refused_naming_both_settings(settings, message):
    with pytest.raises(ConfigurationError, match=message):
        EtlPipelineProps(**settings)


def test_two_keys_are_refused():
    stack = cdk.Stack(cdk.App(), "Keys")
    one, other = (kms.Key(stack, n, enable_key_rotation=True) for n in ("One", "Other"))
    with pytest.raises(ConfigurationError, match="different keys"):
        EtlPipelineProps(encryption_key=one, ledger=ProcessingLedgerProps(encryption_key=other))


def test_a_wired_or_unknown_setting_is_refused_with_what_there_is():
    stack = cdk.Stack(cdk.App(), "Wired")
    with pytest.raises(ConfigurationError, match=r"workflow\['raw_bucket'\] cannot be given here"):
        EtlPipelineProps(workflow={"raw_bucket": s3.Bucket(stack, "Other")})
    with pytest.raises(
        ConfigurationError, match="workflow has no setting 'memory'; ValidateTransformWorkflowProps has"
    ):
        EtlPipeline(stack, "Pipeline", EtlPipelineProps(workflow={"memory": 512}))


def test_express_takes_one_step_with_the_timeouts_derived():
    from etl_constructs import ValidateTransformWorkflowProps

    stack = cdk.Stack(cdk.App(), "Express")
    pipeline = EtlPipeline(stack, "Pipeline", EtlPipelineProps(state_machine_type=sfn.StateMachineType.EXPRESS))
    props: ValidateTransformWorkflowProps = pipeline.workflow.props
    assert (props.execution_timeout.to_seconds(), props.validate_timeout.to_seconds()) == (300, 120)
    assert props.transform_timeout.to_seconds() == 120


def test_express_with_timeouts_that_cannot_fit_names_each_in_one_error():
    settings = {"execution_timeout": cdk.Duration.minutes(10), "transform_timeout": cdk.Duration.minutes(6)}
    props = EtlPipelineProps(state_machine_type=sfn.StateMachineType.EXPRESS, workflow=settings)
    with pytest.raises(ConfigurationError) as caught:
        EtlPipeline(cdk.Stack(cdk.App(), "Express"), "Pipeline", props)
    message = str(caught.value)
    assert "execution_timeout to 5 minutes at most (now 600 s)" in message
    assert "transform_timeout below 300 s (now 360 s)" in message
    assert "validate_timeout" not in message  # left unset: derived


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"suffixes": ".csv"}, r"suffixes is a string: give a tuple, suffixes=\('.csv',\)"),
        ({"required_fields": "transaction_id"}, "required_fields is a string: give a tuple"),
        ({"fee_rate": "1.5"}, r"fee_rate 1.5 is above 1.*fee_rate='0.015'.*allow_fee_rate_above_one=True"),
    ],
)
def test_data_settings_errors_name_the_fix(settings, message):
    with pytest.raises(ConfigurationError, match=message):
        DataSettings(**settings)


def test_a_fee_rate_above_one_is_taken_when_allowed():
    assert DataSettings(fee_rate="1.5", allow_fee_rate_above_one=True).to_dict()["fee_rate"] == "1.5"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda stack: EtlPipeline(stack, "P", {"input_prefix": "in/"}),  # type: ignore[arg-type]
            r"EtlPipeline\(scope, 'Id', EtlPipelineProps\(input_prefix=...\)\)",
        ),
        (
            lambda stack: EtlPipeline(stack, "P", input_prefix="in/"),
            r"EtlPipeline\(scope, 'Id', EtlPipelineProps\(input_prefix=...\)\)",
        ),
        (
            lambda stack: EtlPipeline(stack, "P", ProcessingLedgerProps()),  # type: ignore[arg-type]
            "EtlPipeline takes a EtlPipelineProps as props, not ProcessingLedgerProps",
        ),
    ],
)
def test_props_as_a_dict_or_keywords_get_the_right_form_shown(call, message):
    with pytest.raises(ConfigurationError, match=message):
        call(cdk.Stack(cdk.App(), "Form"))


def test_an_input_prefix_that_is_not_a_folder_is_explained(find_warnings):
    app = cdk.App()
    stack = cdk.Stack(app, "Prefix")
    EtlPipeline(stack, "Pipeline", EtlPipelineProps(input_prefix="incoming"))
    warnings = find_warnings(stack, "not a folder")
    assert len(warnings) == 1
    assert "End it with '/'" in warnings[0]
