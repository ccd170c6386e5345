"""The pipeline's resources built in moto from the template: buckets, table, functions, state machines, rules."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .assembly import PipelineSpec, describe, find_pipelines, invoked_functions, select_pipeline
from .fidelity import object_key
from .invoke import LocalFunction
from .template import ACCOUNT, REGION, Template, TemplateError

_CAPTURE_QUEUE = "etl-constructs-local-events"
SWEEP_HANDLER = "etl_handlers.sweep_handler.handler"
#: What Lambda gives a function whose template leaves them out: 128 MB and 3 seconds
#: (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html, MemorySize and Timeout).
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3
_IMPORTED = (
    "not defined in this template; run-local creates only what the template defines "
    "— define it in the stack, or run against a stack that does"
)
_HOW = {
    "AWS::S3::Bucket": "s3.Bucket.from_bucket_name or from_bucket_arn",
    "AWS::DynamoDB::Table": "dynamodb.Table.from_table_name or from_table_arn",
    "AWS::IAM::Role": "iam.Role.from_role_arn or from_role_name",
}


@dataclass
class RuleTarget:
    """An EventBridge rule of the template whose target is a state machine."""

    rule_name: str
    pattern: dict[str, Any]
    state_machine_arn: str
    target: dict[str, Any]
    capture_queue_url: str = ""


@dataclass
class QueueRule:
    """An EventBridge rule of the template whose target is an SQS queue (the reconciler's failures go to one)."""

    rule_name: str
    pattern: dict[str, Any]
    queue_url: str


@dataclass
class Pipeline:
    """Names of the pipeline's resources in the emulation."""

    raw_bucket: str
    processed_bucket: str
    quarantine_bucket: str
    table: str
    state_machine_arn: str
    input_prefix: str
    functions: dict[str, LocalFunction]
    rule: RuleTarget
    other_rules: list[RuleTarget] = field(default_factory=list)
    #: The EtlPipeline's construct path (or its rule's, or the rule's logical id: see PipelineSpec).
    path: str = ""
    #: The pipeline's sweep function (the one recording to its table), if the template has one.
    sweep_function: str = ""
    #: Rules sending the status changes of the pipeline's state machines to a queue.
    queue_rules: list[QueueRule] = field(default_factory=list)
    #: The STANDARD twin the rule's machine hands large files to, if any.
    large_file_state_machine_arn: str = ""

    @property
    def restart_machine_arn(self) -> str:
        """The machine reprocessing, backfills and the sweep start: the twin if any, else the rule's."""
        return self.large_file_state_machine_arn or self.state_machine_arn

    @property
    def data_machine_arns(self) -> set[str]:
        """The data path's machines: the rule's and its twin."""
        return {self.state_machine_arn, self.restart_machine_arn}


@dataclass(frozen=True)
class _Names:
    """The names of the selected pipeline's buckets and table, each checked to be one of the template's."""

    raw_bucket: str
    processed_bucket: str
    quarantine_bucket: str
    table: str


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the code runs in-process from the asset folder\n")
    return buffer.getvalue()


def build(template: Template, clients: dict[str, Any], pipeline: str | None = None) -> Pipeline:
    """Create every resource of the template in moto and say what makes up the pipeline `pipeline` picks.

    `pipeline` is an EtlPipeline's construct id or path (see `select_pipeline`); it may be left
    out when the template holds one. A bucket or table of the pipeline that the template imports
    rather than defines is refused with a TemplateError naming it before anything is created; a
    role it imports, when its function or state machine is created.
    """
    found = find_pipelines(template)
    if not found:
        raise TemplateError(f"{template.path} holds no EtlPipeline (no S3 rule starting a state machine)")
    spec = select_pipeline(found, pipeline, describe(template))
    names = _pipeline_names(template, spec)
    _create_roles(template, clients["iam"])
    _create_buckets(template, clients["s3"])
    _create_tables(template, clients["dynamodb"])
    for logical_id in template.of_type("AWS::SQS::Queue"):
        clients["sqs"].create_queue(QueueName=template.names[logical_id])
    _create_functions(template, clients["lambda"])
    _create_state_machines(template, clients["stepfunctions"])
    rules = _create_rules(template, clients["events"], clients["sqs"])
    main = rules[(spec.rule_id, template.ref(spec.state_machine_id))]
    others = _other_rules(main, rules.values())
    functions = _local_functions(template, spec, others)
    sweeps = _sweep_functions(template, names.table)
    for logical_id in sweeps:
        sweep = _local_function(template, logical_id)
        sweep.environment["SWEEP_RECEIVE_WAIT_SECONDS"] = "0"  # moto's queue is one server: a short poll sees all
        functions[sweep.name] = sweep
    return Pipeline(
        raw_bucket=names.raw_bucket,
        processed_bucket=names.processed_bucket,
        quarantine_bucket=names.quarantine_bucket,
        table=names.table,
        state_machine_arn=main.state_machine_arn,
        input_prefix=_input_prefix(main.pattern),
        functions=functions,
        rule=main,
        other_rules=others,
        path=spec.path,
        sweep_function=template.names[sweeps[0]] if sweeps else "",
        queue_rules=_queue_rules(template, {r.state_machine_arn for r in (main, *others)}),
        large_file_state_machine_arn=template.ref(spec.large_file_machine_id) if spec.large_file_machine_id else "",
    )


def _other_rules(main: RuleTarget, rules: Iterable[RuleTarget]) -> list[RuleTarget]:
    """The pipeline's other rules: those starting its state machine, or matching its events (the reconciler's)."""
    arn = main.state_machine_arn
    return [r for r in rules if r is not main and (r.state_machine_arn == arn or arn in json.dumps(r.pattern))]


def _pipeline_names(template: Template, spec: PipelineSpec) -> _Names:
    """The raw bucket (from the rule) and the others (from the functions' environment), each defined here."""
    pattern = template.resolve(template.resources[spec.rule_id]["Properties"]["EventPattern"])
    raw = (pattern.get("detail", {}).get("bucket", {}).get("name") or [None])[0]
    if raw is None:
        raise TemplateError(f"the rule {spec.rule_id} of the pipeline {spec.path} names no bucket")
    environment = _raw_environment(template, spec.function_ids[0])
    for function_id in spec.function_ids[1:]:
        environment = {**_raw_environment(template, function_id), **environment}

    def defined(what: str, value: Any, kind: str) -> str:
        if value is None:
            raise TemplateError(f"the functions of the pipeline {spec.path} give no {what}")
        own = {template.names[lid] for lid in template.of_type(kind)}
        if isinstance(value, str) and value in own:
            return value
        raise _imported(what, f"of the pipeline {spec.path}", value, kind)

    return _Names(
        raw_bucket=defined("raw bucket", raw, "AWS::S3::Bucket"),
        processed_bucket=defined("processed bucket", environment.get("PROCESSED_BUCKET"), "AWS::S3::Bucket"),
        quarantine_bucket=defined("quarantine bucket", environment.get("QUARANTINE_BUCKET"), "AWS::S3::Bucket"),
        table=defined("ledger table", environment.get("LEDGER_TABLE"), "AWS::DynamoDB::Table"),
    )


def _raw_environment(template: Template, function_id: str) -> dict[str, Any]:
    """A function's environment resolved, values left as resolved (an import stays a dict)."""
    props = template.resources[function_id].get("Properties", {})
    variables: dict[str, Any] = template.resolve(props.get("Environment", {}).get("Variables", {}))
    return variables


def _imported(what: str, owner: str, value: Any, kind: str) -> TemplateError:
    """The error for a part (`what` `owner`: "raw bucket", "of the pipeline X") the template does not define."""
    if value is None:
        return TemplateError(f"the {what} {owner} is missing from the template")
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        origin = f"imported from another stack (Fn::ImportValue {value['Fn::ImportValue']!r})"
        return TemplateError(f"the {what} {owner} is {origin}, {_IMPORTED}")
    if not isinstance(value, str):
        return TemplateError(f"the {what} {owner} is not one name run-local can create: {value!r}")
    return TemplateError(f"the {what} {value!r} {owner} is imported ({_HOW[kind]}), {_IMPORTED}")


def _role(template: Template, owner: str, value: Any) -> str:
    """The ARN of a role of the template that `owner` runs as; an imported role is refused."""
    role = template.resolve(value)
    own = {template.get_att(lid, "Arn") for lid in template.of_type("AWS::IAM::Role")}
    if isinstance(role, str) and role in own:
        return role
    raise _imported("role", f"of {owner}", role, "AWS::IAM::Role")


def _create_roles(template: Template, iam: Any) -> None:
    """Each role of the template, named and placed as `Fn::GetAtt Arn` says; one made already is left as it is."""
    for logical_id, resource in template.of_type("AWS::IAM::Role").items():
        trust = template.resolve(resource.get("Properties", {}).get("AssumeRolePolicyDocument", {}))
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(
                RoleName=template.names[logical_id],
                AssumeRolePolicyDocument=json.dumps(trust),
                Path=template.role_path(logical_id),
            )


def _create_buckets(template: Template, s3: Any) -> None:
    """Each bucket, versioned as declared, sending events to EventBridge when it or CDK's custom resource says so."""
    for logical_id, resource in template.of_type("AWS::S3::Bucket").items():
        name = template.names[logical_id]
        props = resource.get("Properties", {})
        s3.create_bucket(Bucket=name)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        notifications = props.get("NotificationConfiguration", {})
        if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            _send_to_event_bridge(s3, name)
    own = {template.names[lid] for lid in template.of_type("AWS::S3::Bucket")}
    # `s3.Bucket(event_bridge_enabled=True)` synthesizes a custom resource, whose Lambda sets the
    # configuration at deploy time: its effect is applied here, as its code does not run locally.
    for resource in template.of_type("Custom::S3BucketNotifications").values():
        props = template.resolve(resource.get("Properties", {}))
        configuration = props.get("NotificationConfiguration") or {}
        if props.get("BucketName") in own and "EventBridgeConfiguration" in configuration:
            _send_to_event_bridge(s3, props["BucketName"])


def _send_to_event_bridge(s3: Any, bucket: str) -> None:
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})


def _create_tables(template: Template, ddb: Any) -> None:
    """Each table with its keys and the global secondary indexes' keys and projections."""
    for logical_id, resource in template.of_type("AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        extra: dict[str, Any] = {}
        if props.get("GlobalSecondaryIndexes"):
            extra["GlobalSecondaryIndexes"] = [
                {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                for index in props["GlobalSecondaryIndexes"]
            ]
        ddb.create_table(
            TableName=template.names[logical_id],
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )


def _pipeline_functions(template: Template) -> dict[str, dict[str, Any]]:
    """The functions running the pipeline's handlers; CDK's own helpers (auto-delete objects, bucket
    notifications) do not run locally, and their effect, where it matters, is applied by `build`."""
    return {
        logical_id: resource
        for logical_id, resource in template.of_type("AWS::Lambda::Function").items()
        if str(resource.get("Properties", {}).get("Handler", "")).startswith("etl_handlers.")
    }


def _environment(template: Template, function_id: str) -> dict[str, str]:
    return {k: str(v) for k, v in _raw_environment(template, function_id).items()}


def _create_functions(template: Template, lam: Any) -> None:
    """Each pipeline function in moto, with its own role; the code is a placeholder, run in-process instead."""
    for logical_id, resource in _pipeline_functions(template).items():
        props = resource["Properties"]
        lam.create_function(
            FunctionName=template.names[logical_id],
            Runtime=props.get("Runtime", "python3.14"),
            Role=_role(template, f"the function {logical_id}", props.get("Role")),
            Handler=props["Handler"],
            Code={"ZipFile": _zip()},
            Timeout=int(props.get("Timeout", DEFAULT_TIMEOUT_S)),
            MemorySize=int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
            Environment={"Variables": _environment(template, logical_id)},
        )


def _local_functions(template: Template, spec: PipelineSpec, others: list[RuleTarget]) -> dict[str, LocalFunction]:
    """The functions the pipeline's state machines invoke (its own and those its other rules start)."""
    machines = {template.ref(lid): lid for lid in template.of_type("AWS::StepFunctions::StateMachine")}
    ids = list(spec.function_ids)
    for rule in others:
        machine = machines.get(rule.state_machine_arn)
        ids += [i for i in (invoked_functions(template, machine) if machine else ()) if i not in ids]
    return {template.names[logical_id]: _local_function(template, logical_id) for logical_id in ids}


def _sweep_functions(template: Template, table: str) -> list[str]:
    """The logical ids of the sweep functions recording to `table` (one per pipeline)."""
    return [
        logical_id
        for logical_id, resource in _pipeline_functions(template).items()
        if resource["Properties"]["Handler"] == SWEEP_HANDLER
        and _raw_environment(template, logical_id).get("LEDGER_TABLE") == table
    ]


def _local_function(template: Template, logical_id: str) -> LocalFunction:
    """How to run one of the template's functions in this process."""
    props = template.resources[logical_id]["Properties"]
    reserved = props.get("ReservedConcurrentExecutions")
    return LocalFunction(
        name=template.names[logical_id],
        asset_dir=template.asset_dir(logical_id),
        handler=props["Handler"],
        environment=_environment(template, logical_id),
        memory_mb=int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
        timeout_s=int(props.get("Timeout", DEFAULT_TIMEOUT_S)),
        role_arn=_role(template, f"the function {logical_id}", props.get("Role")),
        reserved_concurrency=None if reserved is None else int(template.resolve(reserved)),
    )


def _create_state_machines(template: Template, sfn: Any) -> None:
    """Each state machine with its real definition and role."""
    for logical_id, resource in template.of_type("AWS::StepFunctions::StateMachine").items():
        props = resource["Properties"]
        definition = template.resolve(props.get("DefinitionString"))
        if not isinstance(definition, str):
            raise TemplateError(f"state machine {logical_id} has no DefinitionString")
        sfn.create_state_machine(
            name=template.names[logical_id],
            definition=definition,
            roleArn=_role(template, f"the state machine {logical_id}", props.get("RoleArn")),
            type=props.get("StateMachineType", "STANDARD"),
        )


def _create_rules(template: Template, events: Any, sqs: Any) -> dict[tuple[str, str], RuleTarget]:
    """Each rule with a state machine target, by (logical id, state machine ARN).

    moto's rules cannot start a state machine: each rule sends its matches to a queue of its own,
    read by the runner, so a rule of another pipeline on the same bucket is not mistaken for it.
    """
    rules: dict[tuple[str, str], RuleTarget] = {}
    for logical_id, resource in template.of_type("AWS::Events::Rule").items():
        props = template.resolve(resource["Properties"])
        targets = [t for t in props.get("Targets", []) if ":stateMachine:" in str(t.get("Arn", ""))]
        if not targets:
            continue
        queue = f"{_CAPTURE_QUEUE}-{len(rules)}"
        capture_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        name = template.names[logical_id]
        events.put_rule(Name=name, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED")
        events.put_targets(Rule=name, Targets=[{"Id": "capture", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"}])
        for target in targets:
            rules[(logical_id, target["Arn"])] = RuleTarget(
                name, props["EventPattern"], target["Arn"], target, capture_url
            )
    return rules


def _queue_rules(template: Template, machines: set[str]) -> list[QueueRule]:
    """The rules with an SQS target matching status changes of `machines` (moto cannot match them: the runner does)."""
    found: list[QueueRule] = []
    for logical_id, resource in template.of_type("AWS::Events::Rule").items():
        props = template.resolve(resource["Properties"])
        pattern = props.get("EventPattern") or {}
        if not set(pattern.get("detail", {}).get("stateMachineArn", [])) & machines:
            continue
        for target in props.get("Targets", []):
            arn = str(target.get("Arn", ""))
            if arn.startswith("arn:aws:sqs:"):
                name = arn.rsplit(":", 1)[1]
                found.append(
                    QueueRule(
                        template.names[logical_id], pattern, f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
                    )
                )
    return found


def _input_prefix(pattern: dict[str, Any]) -> str:
    """The raw key prefix the rule matches (a `prefix`, or a wildcard's head unescaped), URL-decoded.

    The rule compares the key as S3's event writes it (URL-encoded), so the pattern holds the
    prefix in that form; objects are put under the decoded one.
    """
    keys = pattern.get("detail", {}).get("object", {}).get("key", [])
    for matcher in keys:
        if isinstance(matcher, dict) and isinstance(matcher.get("prefix"), str):
            return object_key(matcher["prefix"])
        if isinstance(matcher, dict) and "wildcard" in matcher:
            return object_key(str(matcher["wildcard"]).split("*", 1)[0].replace("\\\\", "\\"))
    return ""
