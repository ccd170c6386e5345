"""The pipeline's resources built in moto from the template: buckets, table, functions, state machines, rules."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from .fidelity import object_key
from .invoke import LocalFunction
from .template import ACCOUNT, REGION, Template, TemplateError

_ROLE = "etl-constructs-local"
_CAPTURE_QUEUE = "etl-constructs-local-events"


@dataclass
class RuleTarget:
    """An EventBridge rule of the template whose target is a state machine."""

    rule_name: str
    pattern: dict[str, Any]
    state_machine_arn: str
    target: dict[str, Any]
    capture_queue_url: str = ""


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


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the code runs in-process from the asset folder\n")
    return buffer.getvalue()


def build(template: Template, clients: dict[str, Any]) -> Pipeline:
    """Create every resource the pipeline needs in moto and say what was made."""
    s3, ddb, lam, sfn, events, sqs, iam = (
        clients[n] for n in ("s3", "dynamodb", "lambda", "stepfunctions", "events", "sqs", "iam")
    )
    role_arn = iam.create_role(
        RoleName=_ROLE,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]

    for logical_id, resource in template.of_type("AWS::S3::Bucket").items():
        name = template.names[logical_id]
        props = resource.get("Properties", {})
        s3.create_bucket(Bucket=name)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        notifications = props.get("NotificationConfiguration", {})
        if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )

    tables = template.of_type("AWS::DynamoDB::Table")
    for logical_id, resource in tables.items():
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

    for logical_id in template.of_type("AWS::SQS::Queue"):
        sqs.create_queue(QueueName=template.names[logical_id])

    functions: dict[str, LocalFunction] = {}
    for logical_id, resource in template.of_type("AWS::Lambda::Function").items():
        props = resource["Properties"]
        handler = props.get("Handler", "")
        if not handler.startswith("etl_handlers."):
            continue  # CDK's own helpers (auto-delete objects) do not run locally
        name = template.names[logical_id]
        environment = {
            k: str(v) for k, v in template.resolve(props.get("Environment", {}).get("Variables", {})).items()
        }
        lam.create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.14"),
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": _zip()},
            Timeout=int(props.get("Timeout", 60)),
            MemorySize=int(props.get("MemorySize", 512)),
            Environment={"Variables": environment},
        )
        functions[name] = LocalFunction(
            name=name,
            asset_dir=template.asset_dir(logical_id),
            handler=handler,
            environment=environment,
            memory_mb=int(props.get("MemorySize", 512)),
            timeout_s=int(props.get("Timeout", 60)),
        )

    for logical_id, resource in template.of_type("AWS::StepFunctions::StateMachine").items():
        props = resource["Properties"]
        definition = template.resolve(props.get("DefinitionString"))
        if not isinstance(definition, str):
            raise TemplateError(f"state machine {logical_id} has no DefinitionString")
        sfn.create_state_machine(
            name=template.names[logical_id],
            definition=definition,
            roleArn=role_arn,
            type=props.get("StateMachineType", "STANDARD"),
        )

    capture_url = sqs.create_queue(QueueName=_CAPTURE_QUEUE)["QueueUrl"]
    capture_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{_CAPTURE_QUEUE}"
    rules: list[RuleTarget] = []
    for logical_id, resource in template.of_type("AWS::Events::Rule").items():
        props = template.resolve(resource["Properties"])
        for target in props.get("Targets", []):
            if ":stateMachine:" not in target.get("Arn", ""):
                continue
            rule = RuleTarget(template.names[logical_id], props["EventPattern"], target["Arn"], target, capture_url)
            # moto's rules cannot start a state machine: the rule sends matches to a queue, read by the runner.
            events.put_rule(Name=rule.rule_name, EventPattern=json.dumps(rule.pattern), State="ENABLED")
            events.put_targets(Rule=rule.rule_name, Targets=[{"Id": "capture", "Arn": capture_arn}])
            rules.append(rule)

    s3_rules = [r for r in rules if "aws.s3" in r.pattern.get("source", [])]
    if not s3_rules or not functions:
        raise TemplateError(f"{template.path} holds no EtlPipeline (no S3 rule starting a state machine)")
    main = s3_rules[0]
    buckets = main.pattern.get("detail", {}).get("bucket", {}).get("name", [])
    environment = next(iter(functions.values())).environment
    if not tables:
        raise TemplateError(f"{template.path} holds no ledger table")
    return Pipeline(
        raw_bucket=buckets[0],
        processed_bucket=environment["PROCESSED_BUCKET"],
        quarantine_bucket=environment["QUARANTINE_BUCKET"],
        table=environment["LEDGER_TABLE"],
        state_machine_arn=main.state_machine_arn,
        input_prefix=_input_prefix(main.pattern),
        functions=functions,
        rule=main,
        other_rules=[r for r in rules if r is not main],
    )


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
