"""ValidateTransformWorkflow alone: functions, processed bucket, state machine, reconciler, privileges.

The module's workflow is STANDARD (every file on one machine): the default, an EXPRESS machine with a
STANDARD twin of the same definition for large files, is in test_workflow_large_files.py.
"""

from __future__ import annotations

import json
from decimal import Decimal

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn

from etl_constructs import (
    ConfigurationError,
    DataSettings,
    ProcessingLedger,
    ValidateTransformWorkflow,
    ValidateTransformWorkflowProps,
)
from etl_constructs.definition import DYNAMODB_THROTTLE_ERRORS, LAMBDA_THROTTLE_ERRORS


def _props(stack: cdk.Stack, **overrides) -> ValidateTransformWorkflowProps:
    return ValidateTransformWorkflowProps(
        raw_bucket=s3.Bucket(stack, "Raw"),
        quarantine_bucket=s3.Bucket(stack, "Quarantine"),
        ledger=ProcessingLedger(stack, "Ledger"),
        **overrides,
    )


def _build(stack):
    return ValidateTransformWorkflow(stack, "Workflow", _props(stack, state_machine_type=sfn.StateMachineType.STANDARD))


@pytest.fixture(scope="module")
def built(synthesize):
    return synthesize(_build)


@pytest.fixture(scope="module")
def template(built):
    return built[0]


@pytest.fixture(scope="module")
def functions(template) -> dict:
    """The data path's functions (validate, transform); the sweep is tested on its own."""
    found = template.find_resources("AWS::Lambda::Function")
    return {k: f for k, f in found.items() if "sweep" not in f["Properties"]["Handler"]}


@pytest.fixture(scope="module")
def sweep(template) -> dict:
    (fn,) = [
        f for f in template.find_resources("AWS::Lambda::Function").values() if "sweep" in f["Properties"]["Handler"]
    ]
    return fn


def _machines(template) -> dict:
    return template.find_resources("AWS::StepFunctions::StateMachine")


def _definition(template, name: str) -> dict:
    (machine,) = [m for k, m in _machines(template).items() if k.startswith(f"Workflow{name}")]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "ARN" for p in parts)
    definition = json.loads(text)
    # The states of Parallel branches beside the others (names are unique in a whole definition).
    for state in list(definition["States"].values()):
        for branch in state.get("Branches", []):
            definition["States"].update(branch["States"])
    return definition


@pytest.fixture(scope="module")
def definition(template) -> dict:
    return _definition(template, "StateMachine")


@pytest.fixture(scope="module")
def express_definition(synthesize) -> dict:
    def build(stack):
        props = _props(stack, state_machine_type=sfn.StateMachineType.EXPRESS, large_file_mb=None)
        return ValidateTransformWorkflow(stack, "Workflow", props)

    template, _ = synthesize(build)
    return _definition(template, "StateMachine")


def _tasks(definition: dict) -> dict:
    return {name: s for name, s in definition["States"].items() if s["Type"] == "Task"}


def test_only_the_two_functions_the_sweep_and_no_custom_resources(functions, template):
    assert sorted(f["Properties"]["Handler"] for f in template.find_resources("AWS::Lambda::Function").values()) == [
        "etl_handlers.sweep_handler.handler",
        "etl_handlers.transform_handler.handler",
        "etl_handlers.validate_handler.handler",
    ]
    assert not [t for t in json.dumps(template.to_json()).split('"') if t.startswith("Custom::")]


def test_functions_run_the_newest_python_on_arm64(functions):
    for fn in functions.values():
        assert fn["Properties"]["Runtime"] == "python3.14"
        assert fn["Properties"]["Architectures"] == ["arm64"]


def test_functions_are_sized_for_streaming_not_3gb(functions):
    sizes = sorted(f["Properties"]["MemorySize"] for f in functions.values())
    assert sizes == [768, 1024]


def test_functions_have_room_in_tmp_for_the_duplicate_checks_spill(functions):
    for fn in functions.values():
        assert fn["Properties"]["EphemeralStorage"] == {"Size": 2048}


@pytest.mark.parametrize("size", [511, 10241])
def test_ephemeral_storage_out_of_range_is_refused(size):
    with pytest.raises(ConfigurationError, match="ephemeral_storage_mb"):
        _props(cdk.Stack(cdk.App(), "Storage"), ephemeral_storage_mb=size)


def test_functions_trace_actively(functions):
    for fn in functions.values():
        assert fn["Properties"]["TracingConfig"] == {"Mode": "Active"}


def test_each_function_has_its_own_log_group_with_retention(template, functions):
    groups = template.find_resources("AWS::Logs::LogGroup")
    for fn in functions.values():
        ref = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[ref]["Properties"]["RetentionInDays"] == 365
    assert template.find_resources("Custom::LogRetention") == {}


def test_functions_need_no_public_layer(functions):
    # The public Powertools layer is published in the aws partition only, under one account.
    for fn in functions.values():
        assert "Layers" not in fn["Properties"]


def test_no_hard_coded_partition_anywhere(template):
    text = json.dumps(template.to_json())
    assert "arn:aws" not in text


def test_state_machine_log_groups_are_vended_logs_and_function_log_groups_are_named(template):
    groups = template.find_resources("AWS::Logs::LogGroup")
    for machine in _machines(template).values():
        (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
        (group_id, _) = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
        assert groups[group_id]["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/TestStack-Workflow-")
    names = [g["Properties"]["LogGroupName"] for g in groups.values()]
    assert len(set(names)) == len(names) == 5
    assert sum(n.startswith("/aws/lambda/") for n in names) == 3


def test_configuration_reaches_the_functions_as_one_json_document(functions):
    for fn in functions.values():
        document = fn["Properties"]["Environment"]["Variables"]["ETL_CONFIG"]
        assert json.loads(document) == DataSettings().to_dict()


def test_every_task_retries_throttling_first_then_faults_with_backoff_max_delay_and_jitter(definition):
    for name, task in _tasks(definition).items():
        if task["Resource"].endswith("sqs:sendMessage"):  # leaving a file for the sweep: any error, retried
            (retry,) = task["Retry"]
            assert retry["ErrorEquals"] == ["States.TaskFailed"] and retry["MaxAttempts"] == 5, name
            continue
        throttling, faults, *timeouts = task["Retry"]
        if timeouts:  # a Lambda task: a function killed at its timeout is retried twice at most
            assert timeouts[0]["ErrorEquals"] == ["Sandbox.Timedout", "Lambda.Unknown"], name
            assert timeouts[0]["MaxAttempts"] == 2, name
        assert throttling["ErrorEquals"] in (LAMBDA_THROTTLE_ERRORS, DYNAMODB_THROTTLE_ERRORS), name
        # 20: both function steps (5 and 15 minutes) and both budgets fit the hour (for_throttling).
        assert (throttling["IntervalSeconds"], throttling["MaxAttempts"]) == (5, 20), name
        assert faults["MaxAttempts"] == 5, name
        for retry in (throttling, faults):
            assert retry["BackoffRate"] == 2, name
            assert retry["MaxDelaySeconds"] == 60, name
            assert retry["JitterStrategy"] == "FULL", name


def test_the_throttling_budget_fits_the_execution_timeout():
    from etl_constructs import RetryPolicy

    Duration = cdk.Duration
    assert RetryPolicy.for_throttling().total_wait() == 5 + 10 + 20 + 40 + 60 * 26
    assert RetryPolicy.for_throttling(Duration.hours(1)).max_attempts == 30
    express = RetryPolicy.for_throttling(Duration.minutes(5))
    assert express.total_wait() <= 150 and express.max_attempts == 5
    # Both function steps may spend their budget in one execution, running to their timeouts, and it must
    # still reach its "Defer" state: half of what the functions leave, less a tenth.
    standard = RetryPolicy.for_throttling(Duration.hours(1), Duration.minutes(20))
    assert (standard.max_attempts, standard.total_wait()) == (20, 5 + 10 + 20 + 40 + 60 * 16)
    assert 2 * standard.total_wait() + 20 * 60 <= 3600 * 0.95
    fitted = RetryPolicy.for_throttling(Duration.minutes(5), Duration.minutes(4))
    assert (fitted.max_attempts, fitted.total_wait()) == (2, 15)


def test_the_default_throttling_budgets_fit_both_function_steps(definition, express_definition):
    from etl_constructs import RetryPolicy

    for states, timeout in ((definition["States"], 3600), (express_definition["States"], 300)):
        waits = []
        for name in ("Validate", "Transform"):
            (throttle,) = [r for r in states[name]["Retry"] if r["ErrorEquals"] == ["Lambda.TooManyRequestsException"]]
            policy = RetryPolicy(
                interval=Duration.seconds(throttle["IntervalSeconds"]),
                max_attempts=throttle["MaxAttempts"],
                max_delay=Duration.seconds(throttle["MaxDelaySeconds"]),
            )
            waits.append(policy.total_wait())
        running = sum(states[n].get("TimeoutSeconds", 0) for n in ("Validate", "Transform"))
        assert sum(waits) + running < timeout, (waits, running)


def test_a_throttling_budget_that_cannot_reach_its_deferral_is_warned_of(find_warnings):
    from etl_constructs import RetryPolicy

    stack = cdk.Stack()
    # 27 minutes at each step and 20 minutes of functions: over the hour before the second step defers.
    ValidateTransformWorkflow(stack, "Workflow", _props(stack, throttle_retry=RetryPolicy.for_throttling()))
    (warning,) = find_warnings(stack, "throttle_retry waits up to 1635 s")
    assert "before it is DEFERRED" in warning
    fitted = cdk.Stack()
    policy = RetryPolicy.for_throttling(Duration.hours(1), Duration.minutes(20))
    ValidateTransformWorkflow(fitted, "Workflow", _props(fitted, throttle_retry=policy))
    assert find_warnings(fitted, "throttle_retry") == []


def test_a_throttling_budget_longer_than_the_execution_is_refused():
    from etl_constructs import RetryPolicy

    with pytest.raises(ConfigurationError, match="throttle_retry waits up to 1635 s"):
        _props(cdk.Stack(), throttle_retry=RetryPolicy.for_throttling(), execution_timeout=cdk.Duration.minutes(20))


def test_lambda_tasks_retry_throttling_on_its_own_budget_then_service_errors_and_transient_faults(definition):
    for name in ("Validate", "Transform"):
        throttling, faults, _ = definition["States"][name]["Retry"]
        assert throttling["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
        assert {"Lambda.ServiceException", "TransientError"} <= set(faults["ErrorEquals"])
        assert "Lambda.TooManyRequestsException" not in faults["ErrorEquals"]


def test_every_task_has_a_catch(definition):
    for name, task in _tasks(definition).items():
        assert task.get("Catch"), f"{name} has no catch"


def test_lambda_task_failures_lead_to_the_failure_record(definition):
    states = definition["States"]
    for name, status, step in (
        ("Validate", "VALIDATION_FAILED", "validating"),
        ("Transform", "TRANSFORMATION_FAILED", "transforming"),
    ):
        throttled, catch = states[name]["Catch"]
        # Throttled past its budget first: the file waits DEFERRED, as a burst must never fail a file.
        assert throttled["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
        assert throttled["Next"] == f"Earlier output before {step}?"
        assert catch["ErrorEquals"] == ["States.ALL"]
        mark = states[catch["Next"]]
        assert mark["Result"] == {"status": status}
        step_ = states[mark["Next"]]
        # An uncommitted output goes first (or a new attempt's earlier output), unless the ledger shows the commit.
        assert step_["Parameters"]["Payload"]["action"] == "retract"
        committed = states[step_["Next"]]
        assert committed["Choices"][0]["Variable"] == "$.retracted.committed"
        step_ = states[committed["Default"]]
        assert step_["Resource"].endswith("lambda:invoke")
        assert step_["Parameters"]["Payload"]["action"] == "quarantine"


@pytest.mark.parametrize(
    ("step", "task", "deferrable"),
    [("validating", "Validate", ["RECEIVED", "VALIDATING"]), ("transforming", "Transform", ["VALIDATED"])],
)
def test_a_deferral_happens_only_while_no_output_can_be_visible_and_is_counted_once(definition, step, task, deferrable):
    states = definition["States"]
    fault = states[task]["Catch"][1]["Next"]  # the step's failure path, which removes any output first
    # A new attempt of a COMPLETED version keeps its earlier output until it withdraws it: it fails instead.
    earlier = states[f"Earlier output before {step}?"]
    assert earlier["Choices"][0]["Next"] == fault and earlier["Default"] == f"Defer {step}"
    defer = states[f"Defer {step}"]
    values = defer["Parameters"]["ExpressionAttributeValues"]
    # Before the transform began (it marks TRANSFORMING before it writes), and only this execution's item.
    condition = defer["Parameters"]["ConditionExpression"]
    assert condition.endswith("AND #execution = :exec")
    assert [values[f":s{i}"]["S"] for i in range(len(deferrable))] == deferrable
    assert f":s{len(deferrable)}" not in values and values[":deferred"] == {"S": "DEFERRED"}
    assert "ADD deferrals :one" in defer["Parameters"]["UpdateExpression"]
    assert states[defer["Next"]]["Type"] == "Succeed"
    # A failed condition: DEFERRED by this execution already (a lost reply) ends deferred; else the fault path.
    ccf, other = defer["Catch"]
    assert ccf["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    assert states[other["Next"]]["Type"] == "Fail"
    look = states[ccf["Next"]]
    assert look["Parameters"]["ConsistentRead"] is True
    choice = states[look["Next"]]
    assert choice["Choices"][0]["Next"] == defer["Next"] and choice["Default"] == fault


def test_a_deferred_version_resumes_its_attempt_only_when_asked_for_a_deferred_one(definition):
    states = definition["States"]
    resume = states["Resume the deferred attempt"]["Parameters"]
    assert resume["ConditionExpression"] == "#execution = :last_exec AND #status = :deferred"
    assert "history" not in resume["UpdateExpression"] and "attempt" not in resume["UpdateExpression"]
    known = states["Known version?"]["Choices"]
    assert known[0]["Next"] == "Resume the deferred attempt"
    assert {"Variable": "$.also", "StringEquals": "DEFERRED"} in known[0]["And"]
    assert states["Identify a deferred version"]["Parameters"]["also"] == "DEFERRED"
    assert known[1]["Next"] == "Begin a new attempt"


def test_the_first_state_reads_the_rules_input_as_it_is_no_pass_state_before_it(definition):
    """A Pass state is billed as a transition: the reference the states read is RECEIVED's own result."""
    received = definition["States"]["Record RECEIVED"]
    assert not [n for n, s in definition["States"].items() if s["Type"] == "Pass" and "Identify object" in n]
    file_id = "States.Format('s3://{}/{}?versionId={}', $.bucket, $.key, $.version)"
    assert received["Parameters"]["Item"]["file_id"] == {"S.$": file_id}
    assert received["Parameters"]["Item"]["execution"] == {"S.$": "$$.Execution.Id"}
    assert received["ResultPath"] == "$"
    selector = received["ResultSelector"]
    assert selector["file_id.$"] == file_id.replace("$.", "$$.Execution.Input.")
    assert (selector["bucket.$"], selector["execution.$"]) == ("$$.Execution.Input.bucket", "$$.Execution.Id")
    repeat = definition["States"]["Record repeat delivery"]["Parameters"]
    assert repeat["Key"]["file_id"] == {"S.$": file_id}  # after a failed put, the state is the rule's input


def test_received_is_conditional_so_a_repeat_delivery_stops(definition):
    received = definition["States"]["Record RECEIVED"]
    # Or this execution's own RECEIVED, when a retry follows a lost reply.
    assert received["Parameters"]["ConditionExpression"] == (
        "attribute_not_exists(file_id) OR (#execution = :exec AND #status = :received)"
    )
    assert received["Catch"][0]["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]


def test_the_fault_quarantine_is_the_validate_functions_so_any_key_is_encoded(definition):
    # The S3 SDK integration's CopySource must be URL-encoded, which no intrinsic function can do.
    states = definition["States"]
    assert not [s for s in states.values() if "s3:copyObject" in s.get("Resource", "")]
    quarantine = states["Quarantine copy"]
    assert quarantine["Parameters"]["Payload"]["failure.$"] == "$.failure"
    assert quarantine["ResultSelector"] == {
        "bucket.$": "$.Payload.quarantine_bucket",
        "key.$": "$.Payload.quarantine_key",
    }


def test_the_failure_records_the_quarantine_location_only_when_the_copy_was_made(definition):
    states = definition["States"]
    copied = states[states["Quarantine copy"]["Next"]]["Parameters"]["ExpressionAttributeValues"]
    assert copied[":qkey"] == {"S.$": "$.quarantined.key"}
    (catch,) = states["Quarantine copy"]["Catch"]
    not_copied = states[catch["Next"]]["Parameters"]
    assert ":qkey" not in not_copied["ExpressionAttributeValues"]
    assert "quarantine_key" not in not_copied["UpdateExpression"]


def test_a_rejected_file_ends_the_execution_successfully(definition):
    # A rejection is recorded and counted by its own alarm; the executions-failed alarm is for faults.
    valid = definition["States"]["Valid?"]
    after = definition["States"][valid["Default"]]  # a new attempt first withdraws the earlier output
    assert after["Type"] == "Choice" and definition["States"][after["Default"]]["Type"] == "Succeed"
    withdraw = definition["States"][after["Choices"][0]["Next"]]
    assert withdraw["Parameters"]["Payload"]["action"] == "retract"
    assert definition["States"][withdraw["Next"]]["Type"] == "Succeed"
    fails = [s for s in definition["States"].values() if s["Type"] == "Fail"]
    assert all(s["Error"] != "ValidationFailed" for s in fails)


def _after_new_attempt_choice(definition: dict) -> str:
    """The state a first delivery starts at: past the "New attempt requested?" choice."""
    start = definition["States"][definition["StartAt"]]
    assert definition["StartAt"] == "New attempt requested?" and start["Type"] == "Choice"
    (choice,) = start["Choices"]
    assert choice == {"Variable": "$.reprocess", "IsPresent": True, "Next": "Which versions may run again?"}
    return str(start["Default"])


def test_without_prefix_the_rule_checks_the_suffix_and_the_definition_does_not(definition):
    assert _after_new_attempt_choice(definition) == "Record RECEIVED"


def test_state_machine_logs_without_execution_data_and_traces(template):
    machine = next(m for k, m in _machines(template).items() if k.startswith("WorkflowStateMachine"))
    logging = machine["Properties"]["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    assert machine["Properties"]["StateMachineType"] == "STANDARD"


def test_state_machine_has_an_overall_timeout(definition):
    assert definition["TimeoutSeconds"] == 3600


def test_failed_timed_out_or_aborted_executions_are_settled_by_the_reconciler(template):
    rules = template.find_resources("AWS::Events::Rule")
    # The rule starting the reconciler (a state machine target has a role); the other one parks its failures.
    (rule,) = [r for r in rules.values() if r["Properties"].get("Targets", [{}])[0].get("RoleArn")]
    assert rule["Properties"]["EventPattern"]["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert rule["Properties"]["Targets"][0]["DeadLetterConfig"]


def test_reconciler_settles_only_non_final_items(template):
    definition = _definition(template, "Reconciler")
    settles = [s for s in definition["States"].values() if s.get("Resource", "").endswith("dynamodb:updateItem")]
    assert len(settles) == 2
    for state in settles:
        assert state["Parameters"]["ConditionExpression"] == (
            "(#status IN (:a0, :a1) AND #execution = :exec)"
            " OR (attribute_exists(settled_by) AND #execution = :exec AND #status = :failed)"
        )


def _statements(template, role_prefix: str) -> list[dict]:
    policies = template.find_resources("AWS::IAM::Policy")
    found = []
    for policy in policies.values():
        if any(r["Ref"].startswith(role_prefix) for r in policy["Properties"]["Roles"]):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_validate_role_cannot_write_processed_output(template):
    text = json.dumps(_statements(template, "WorkflowValidateRole"))
    assert "WorkflowProcessed" not in text
    assert "s3:DeleteObject" not in text


def test_transform_role_cannot_write_quarantine(template):
    text = json.dumps(_statements(template, "WorkflowTransformRole"))
    assert "Quarantine" not in text


def test_function_roles_have_no_managed_policies_and_no_table_index_access(template):
    for key, role in template.find_resources("AWS::IAM::Role").items():
        if key.startswith(("WorkflowValidateRole", "WorkflowTransformRole")):
            assert "ManagedPolicyArns" not in role["Properties"]
            assert "/index/" not in json.dumps(_statements(template, key))


def test_processed_bucket_expires_staging_objects(template):
    buckets = template.find_resources("AWS::S3::Bucket")
    processed = next(b for k, b in buckets.items() if k.startswith("WorkflowProcessed"))
    rules = processed["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {
        "ExpirationInDays": 1,
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        "Prefix": "_staging/",
        "Status": "Enabled",
        "Id": "expire-staging",
    } in rules
    assert {
        "ExpiredObjectDeleteMarker": True,
        "Prefix": "_staging/",
        "Status": "Enabled",
        "Id": "expire-staging-delete-markers",
    } in rules


def test_express_option(synthesize):
    template, _ = synthesize(
        lambda stack: ValidateTransformWorkflow(
            stack,
            "Workflow",
            _props(
                stack,
                state_machine_type=sfn.StateMachineType.EXPRESS,
                large_file_mb=None,
                execution_timeout=cdk.Duration.minutes(5),
                validate_timeout=cdk.Duration.minutes(1),
                transform_timeout=cdk.Duration.minutes(2),
            ),
        )
    )
    types = sorted(m["Properties"]["StateMachineType"] for m in _machines(template).values())
    assert types == ["EXPRESS", "STANDARD"]  # the reconciler stays STANDARD: its failures must send events


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"validate_memory_mb": 64}, "validate_memory_mb"),
        ({"transform_timeout": cdk.Duration.minutes(16)}, "transform_timeout"),
        ({"execution_timeout": cdk.Duration.minutes(10)}, "execution_timeout must be longer"),
        (
            {
                "state_machine_type": sfn.StateMachineType.EXPRESS,
                "large_file_mb": None,
                "execution_timeout": cdk.Duration.minutes(10),
            },
            "EXPRESS state machine runs 5 minutes at most; set execution_timeout",
        ),
        ({"output_prefix": "out"}, "must end with '/'"),
        ({"output_prefix": "o'ut/"}, "may not"),
    ],
)
def test_invalid_props_fail_with_a_clear_message(overrides, message):
    stack = cdk.Stack()
    with pytest.raises(ConfigurationError, match=message):
        _props(stack, **overrides)


def test_negative_fee_rate_fails():
    with pytest.raises(ConfigurationError, match="fee_rate"):
        DataSettings(fee_rate="-0.01")


def test_float_fee_rate_fails():
    with pytest.raises(ConfigurationError, match="never a float"):
        DataSettings(fee_rate=0.01)  # type: ignore[arg-type]


def test_fee_rate_is_kept_exact():
    assert DataSettings(fee_rate="0.0125").fee_rate == Decimal("0.0125")


def test_with_a_prefix_the_first_state_accepts_every_case_of_each_suffix(synthesize):
    template, _ = synthesize(
        lambda stack: ValidateTransformWorkflow(
            stack,
            "Workflow",
            _props(
                stack,
                input_prefix="in/",
                data=DataSettings(suffixes=(".csv", ".json")),
                state_machine_type=sfn.StateMachineType.STANDARD,
            ),
        )
    )
    definition = _definition(template, "StateMachine")
    first = definition["States"][_after_new_attempt_choice(definition)]
    assert first["Type"] == "Choice"
    (choice,) = first["Choices"]
    patterns = {c["StringMatches"] for c in choice["Or"]}
    assert len(patterns) == 8 + 16 and {"*.csv", "*.Csv", "*.CSV", "*.jSoN"} <= patterns
    assert definition["States"][first["Default"]]["Type"] == "Succeed"
    assert choice["Next"] == "Record RECEIVED"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"output_prefix": "processed/", "input_prefix": ""}, "output_prefix 'processed/' is in the raw bucket"),
        ({"input_prefix": "_staging/x/"}, "staging_prefix '_staging/' is in the raw bucket"),
    ],
)
def test_a_processed_location_in_the_raw_bucket_under_the_prefix_is_refused(synthesize, overrides, message):
    def build(stack):
        raw = s3.Bucket(stack, "Raw")
        props = ValidateTransformWorkflowProps(
            raw_bucket=raw,
            quarantine_bucket=s3.Bucket(stack, "Quarantine"),
            ledger=ProcessingLedger(stack, "Ledger"),
            existing_processed_bucket=raw,
            **overrides,
        )
        ValidateTransformWorkflow(stack, "Workflow", props)

    with pytest.raises(ConfigurationError, match=message):
        synthesize(build)


def test_a_quarantine_in_the_raw_bucket_outside_the_prefix_is_accepted(synthesize):
    def build(stack):
        raw = s3.Bucket(stack, "Raw")
        props = ValidateTransformWorkflowProps(
            raw_bucket=raw, quarantine_bucket=raw, ledger=ProcessingLedger(stack, "Ledger"), input_prefix="incoming/"
        )
        ValidateTransformWorkflow(stack, "Workflow", props)

    synthesize(build)


def test_a_quarantine_in_the_raw_bucket_under_the_prefix_is_refused(synthesize):
    def build(stack):
        raw = s3.Bucket.from_bucket_name(stack, "Raw", "their-raw")
        props = ValidateTransformWorkflowProps(
            raw_bucket=raw,
            quarantine_bucket=s3.Bucket.from_bucket_name(stack, "Same", "their-raw"),
            ledger=ProcessingLedger(stack, "Ledger"),
        )
        ValidateTransformWorkflow(stack, "Workflow", props)

    with pytest.raises(ConfigurationError, match="quarantine_prefix 'quarantine/' is in the raw bucket"):
        synthesize(build)


def test_the_reconciler_is_standard_and_its_retry_waits_fit_its_timeout(template):
    (machine,) = [m for k, m in _machines(template).items() if k.startswith("WorkflowReconciler")]
    assert machine["Properties"]["StateMachineType"] == "STANDARD"  # its failures send events; names are unique
    definition = _definition(template, "Reconciler")
    assert definition["TimeoutSeconds"] == 7200
    longest = 0.0
    for task in _tasks(definition).values():
        waits = 0.0
        for retry in task["Retry"]:
            waits += sum(
                min(retry["IntervalSeconds"] * retry["BackoffRate"] ** n, retry["MaxDelaySeconds"])
                for n in range(retry["MaxAttempts"])
            )
        longest = max(longest, waits)
    assert longest * 4 < 7200  # four tasks in a row (look up, settle twice, retract) still fit


def test_the_sweep_runs_on_a_schedule_with_the_cutoff_past_the_execution_timeout(template, sweep):
    variables = sweep["Properties"]["Environment"]["Variables"]
    assert variables["UNSETTLED_AFTER_SECONDS"] == str(3600 + 600)
    assert variables["STATUS_INDEX"] == "status-updated_at-index"
    assert sweep["Properties"]["MemorySize"] == 256 and sweep["Properties"]["Timeout"] == 300
    (schedule,) = [
        r for r in template.find_resources("AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]
    ]
    assert schedule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"


def test_the_sweep_may_query_the_status_index_start_the_machines_and_drain_the_reconcilers_queue(template):
    actions = {
        a
        for s in _statements(template, "WorkflowSweepRole")
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"dynamodb:Query", "states:StartExecution", "sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions
    assert not {a for a in actions if a.startswith(("s3:", "dynamodb:Put", "dynamodb:Update", "dynamodb:Delete"))}


def test_a_reconciler_that_ends_without_success_is_parked_for_the_sweep_by_a_rule(template):
    rules = template.find_resources("AWS::Events::Rule").values()
    (rule,) = [
        r
        for r in rules
        if "ReconcilerDeadLetters" in json.dumps(r["Properties"].get("Targets", []))
        and "DeadLetterConfig" not in json.dumps(r["Properties"]["Targets"])
    ]
    detail = rule["Properties"]["EventPattern"]["detail"]
    assert detail["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    (machine,) = detail["stateMachineArn"]
    assert machine["Ref"].startswith("WorkflowReconciler")


def test_a_file_whose_received_cannot_be_recorded_is_left_for_the_sweep(definition):
    received = definition["States"]["Record RECEIVED"]
    (catch,) = [c for c in received["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
    park = definition["States"][catch["Next"]]
    assert park["Resource"].endswith("sqs:sendMessage")
    body = park["Parameters"]["MessageBody"]
    assert body["detail"]["input.$"] == "States.JsonToString($$.Execution.Input)"
    assert body["detail"]["executionArn.$"] == "$$.Execution.Id"
    assert definition["States"][park["Next"]]["Type"] == "Fail"


@pytest.mark.parametrize("interval", [Duration.minutes(4), Duration.days(2)])
def test_a_sweep_interval_out_of_range_is_refused(interval):
    with pytest.raises(ConfigurationError, match="sweep_interval"):
        _props(cdk.Stack(cdk.App(), "Interval"), sweep_interval=interval)
