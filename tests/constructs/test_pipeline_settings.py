"""EtlPipelineProps: each setting has one place; given there it takes effect, given elsewhere it is refused."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn

from etl_constructs import (
    ConfigurationError,
    DataSettings,
    EtlPipeline,
    EtlPipelineProps,
    LandingOptions,
    ProcessingLedgerProps,
    RetryPolicy,
    WorkflowOptions,
)


@pytest.fixture(scope="module")
def template() -> assertions.Template:
    """One stack, three pipelines, each with settings that used to be dropped."""
    app = cdk.App()
    stack = cdk.Stack(app, "Settings")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    EtlPipeline(
        stack,
        "Keyed",
        EtlPipelineProps(
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            ledger=ProcessingLedgerProps(point_in_time_recovery=False),
        ),
    )
    EtlPipeline(stack, "Landing", EtlPipelineProps(data=DataSettings(suffixes=(".csv",)), input_prefix="in/"))
    EtlPipeline(
        stack,
        "Express",
        EtlPipelineProps(state_machine_type=sfn.StateMachineType.EXPRESS, retry=RetryPolicy(max_attempts=1)),
    )
    return assertions.Template.from_stack(stack)


def _of(template: assertions.Template, kind: str, pipeline: str) -> list[dict]:
    return [r for k, r in template.find_resources(kind).items() if k.startswith(pipeline)]


def test_the_pipelines_key_and_removal_policy_reach_ledger_props_given_without_them(template):
    tables = {k: r for k, r in template.find_resources("AWS::DynamoDB::Table").items() if k.startswith("Keyed")}
    (table,) = tables.values()
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert table["Properties"]["SSESpecification"]["KMSMasterKeyId"]["Fn::GetAtt"][0].startswith("Key")
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is False
    assert table["DeletionPolicy"] == "Delete"


def test_suffixes_and_prefix_reach_the_rule_and_the_functions(template):
    (rule,) = [r for r in _of(template, "AWS::Events::Rule", "Landing") if "aws.s3" in json.dumps(r)]
    keys = rule["Properties"]["EventPattern"]["detail"]["object"]["key"]
    assert "in/" in json.dumps(keys) and ".json" not in json.dumps(keys)
    (validate,) = [f for f in _of(template, "AWS::Lambda::Function", "LandingWorkflowValidate")]
    config = json.loads(validate["Properties"]["Environment"]["Variables"]["ETL_CONFIG"])
    assert config["suffixes"] == [".csv"]
    policies = json.dumps(_of(template, "AWS::IAM::Policy", "LandingWorkflowValidateRole"))
    assert "/in/*" in policies


def test_state_machine_type_and_retry_take_effect(template):
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
        (
            {"landing": {"input_prefix": "a/", "quarantine_prefix": "q/", "suffixes": (".csv",)}},
            r"landing takes a LandingOptions, not a dict; each setting has one place: EtlPipelineProps\(input_prefix"
            r"=...\); landing=LandingOptions\(quarantine_prefix=...\); data=DataSettings\(suffixes=...\)",
        ),
        (
            {"workflow": {"retry": RetryPolicy(max_attempts=1), "raw_bucket": None, "memory": 1}},
            r"EtlPipelineProps\(retry=...\); raw_bucket: set by EtlPipeline; memory: no such setting",
        ),
        ({"workflow": LandingOptions()}, "workflow takes a WorkflowOptions, not LandingOptions"),
        ({"ledger": {"table_name": "x"}}, r"ledger is a dict .*: give a ProcessingLedgerProps\(...\) or None"),
        ({"transform_memory_mb": "2048"}, r"transform_memory_mb is a str \('2048'\): give an int"),
        ({"validate_timeout": 300}, r"validate_timeout is a int \(300\): give a Duration, such as Duration.minutes"),
        ({"retry": {"max_attempts": 1}}, r"retry is a dict .*: give a RetryPolicy\(...\)"),
        ({"landing": LandingOptions(event_max_age=cdk.Duration.hours(48))}, "between 1 minute and 24 hours"),
        ({"create_dashboard": False, "dashboard_name": "x"}, "create_dashboard=False leaves out"),
        (
            {
                "removal_policy": cdk.RemovalPolicy.DESTROY,
                "ledger": ProcessingLedgerProps(removal_policy=cdk.RemovalPolicy.RETAIN),
            },
            "removal_policy and ledger.removal_policy differ",
        ),
        (
            {"raw_bucket_props": {"removal_policy": cdk.RemovalPolicy.DESTROY}},
            r"bucket_props\['removal_policy'\] is set by the pipeline: use removal_policy",
        ),
        (
            {"processed_bucket_props": {"bucket_nam": "x"}},
            r"processed_bucket_props\['bucket_nam'\]: Bucket has no such setting",
        ),
        ({"function_props": {"function_name": "x"}}, r"function_props\['function_name'\] is set by the pipeline"),
        (
            {
                "removal_policy": cdk.RemovalPolicy.DESTROY,
                "ledger": ProcessingLedgerProps(removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE),
            },
            "removal_policy and ledger.removal_policy differ",
        ),
        ({"landing": LandingOptions(quarantine_prefix="q")}, "quarantine_prefix must end with '/'"),
        ({"alarm_topic_props": {"fifo": True}}, r"topic_props\['fifo'\] is set by the pipeline"),
        ({"removal_policy": cdk.RemovalPolicy.SNAPSHOT}, "CloudFormation cannot snapshot"),
        ({"dead_letter_queue_props": {"queue_name": "dlq"}}, "cannot share queue_name"),
        ({"dead_letter_queue_props": {"fifo": True}}, r"dead_letter_queue_props\['fifo'\] is set by the pipeline"),
        (
            {"dead_letter_queue_props": {"retention_period": cdk.Duration.hours(1)}},
            "must be a day at least",
        ),
    ],
)
def test_a_misplaced_or_conflicting_setting_is_refused_naming_its_place(settings, message):
    with pytest.raises(ConfigurationError, match=message):
        EtlPipeline(cdk.Stack(cdk.App(), "Refused"), "Pipeline", EtlPipelineProps(**settings))


@pytest.mark.parametrize(
    ("options", "settings", "message"),
    [
        (EtlPipelineProps, {"log_level": sfn.LogLevel.ALL}, r"has no setting log_level: workflow=WorkflowOptions\("),
        (EtlPipelineProps, {"quarantine_prefix": "q/"}, r"landing=LandingOptions\(quarantine_prefix=...\)$"),
        (EtlPipelineProps, {"fee_rate": "0.02"}, r"data=DataSettings\(fee_rate=...\)$"),
        (EtlPipelineProps, {"table_name": "t"}, r"ledger=ProcessingLedgerProps\(table_name=...\)$"),
        (EtlPipelineProps, {"topic": None}, r"EtlPipelineProps\(alarm_topic=...\)$"),
        (EtlPipelineProps, {"raw_bucket": None}, "raw_bucket: set by EtlPipeline$"),
        (
            EtlPipelineProps,
            {"validate_memry_mb": 1},
            r"no such setting \(did you mean EtlPipelineProps\(validate_memory_mb=...\)\?\)$",
        ),
        (EtlPipelineProps, {"fee_rat": 1}, r"\(did you mean data=DataSettings\(fee_rate=...\)\?\)$"),
        (WorkflowOptions, {"landing": None}, r"no setting landing: EtlPipelineProps\(landing=...\)$"),
        (WorkflowOptions, {"ledger": None}, r"no setting ledger: EtlPipelineProps\(ledger=...\)$"),
        (
            EtlPipelineProps,
            {"log_level": None, "fee_rate": "1"},
            r"no setting log_level, fee_rate: workflow=WorkflowOptions\(log_level=...\); data=DataSettings",
        ),
        (WorkflowOptions, {"input_prefix": "a/"}, r"WorkflowOptions has no setting input_prefix: EtlPipelineProps\("),
        (LandingOptions, {"large_file_mb": 1}, r"workflow=WorkflowOptions\(large_file_mb=...\)$"),
    ],
)
def test_a_keyword_given_where_it_does_not_belong_is_refused_naming_its_place(options, settings, message):
    with pytest.raises(ConfigurationError, match=message) as refused:
        options(**settings)
    assert isinstance(refused.value, TypeError)  # as Python's own refusal of an unexpected keyword is


@pytest.mark.parametrize(
    ("table_props", "message"),
    [
        ({"partition_key": None}, r"table_props\['partition_key'\] is set by the pipeline, it cannot be overridden"),
        ({"table_name": "x"}, r"table_props\['table_name'\] is set by the pipeline: use table_name"),
        ({"tabel_class": None}, r"table_props\['tabel_class'\]: Table has no such setting"),
    ],
)
def test_table_props_the_ledger_owns_are_refused(table_props, message):
    with pytest.raises(ConfigurationError, match=message):
        ProcessingLedgerProps(table_props=table_props)


def test_two_keys_are_refused():
    stack = cdk.Stack(cdk.App(), "Keys")
    one, other = (kms.Key(stack, n, enable_key_rotation=True) for n in ("One", "Other"))
    with pytest.raises(ConfigurationError, match=r"encryption_key and ledger\.encryption_key differ"):
        EtlPipelineProps(encryption_key=one, ledger=ProcessingLedgerProps(encryption_key=other))


def test_express_alone_takes_one_step_with_the_timeouts_derived():
    from etl_constructs import ValidateTransformWorkflowProps

    stack = cdk.Stack(cdk.App(), "Express")
    pipeline = EtlPipeline(
        stack,
        "Pipeline",
        EtlPipelineProps(state_machine_type=sfn.StateMachineType.EXPRESS, workflow=WorkflowOptions(large_file_mb=None)),
    )
    props: ValidateTransformWorkflowProps = pipeline.workflow.props
    assert (props.execution_timeout.to_seconds(), props.validate_timeout.to_seconds()) == (300, 120)
    assert props.transform_timeout.to_seconds() == 120


def test_express_alone_with_timeouts_that_cannot_fit_names_each_in_one_error():
    props = EtlPipelineProps(
        state_machine_type=sfn.StateMachineType.EXPRESS,
        workflow=WorkflowOptions(large_file_mb=None),
        execution_timeout=cdk.Duration.minutes(10),
        transform_timeout=cdk.Duration.minutes(6),
    )
    with pytest.raises(ConfigurationError) as caught:
        EtlPipeline(cdk.Stack(cdk.App(), "Express"), "Pipeline", props)
    message = str(caught.value)
    assert "execution_timeout to 5 minutes at most (now 600 s)" in message
    assert "transform_timeout below 300 s (now 360 s)" in message
    assert "validate_timeout" not in message  # left unset: derived


def test_with_its_standard_twin_express_keeps_the_timeouts_given():
    props = EtlPipelineProps(execution_timeout=cdk.Duration.minutes(90), transform_timeout=cdk.Duration.minutes(10))
    pipeline = EtlPipeline(cdk.Stack(cdk.App(), "Express"), "Pipeline", props)
    assert pipeline.state_machine is not pipeline.large_file_state_machine is not None
    assert pipeline.workflow.props.execution_timeout.to_seconds() == 5400  # the twin's


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
