"""`EtlDeployChecks`: a cdk-nag 3.x rule pack for mistakes that synthesize cleanly and fail in AWS.

Enable it like cdk-nag's own packs::

    Validations.of(app).add_plugins(EtlDeployChecks(app))

Each rule is phrased for any CloudFormation template, not for this library's constructs. Rule ids are
`EtlDeployChecks-<Rule>` and are acknowledged like any cdk-nag finding::

    Validations.of(construct).acknowledge(
        Acknowledgment(id="EtlDeployChecks::EtlDeployChecks-HardCodedPartition", reason="...")
    )

How the rules read the stack: the rules look across resources (a key and the log groups that use it), so
they read whole templates, not one construct's properties. During synthesis (the `Validations` plugin
path) that is the stack's template in the cloud assembly, exactly what CloudFormation receives, escape
hatches and overrides included. When `validate_scope()` is called directly, outside a synthesis, each
stack's synthesizer writes its template as it stands into a scratch folder (before aspects run).

Intrinsic functions are read symbolically: `Ref` and `Fn::GetAtt` name resources of the same template,
`Fn::Join` and `Fn::Sub` are rendered with `${Id}` / `${Id.Attr}` / `${AWS::Partition}` placeholders.
Anything else (`Fn::If`, `Fn::ImportValue`, parameters, ...) cannot be known at synth: a rule that meets
one gives NOT_APPLICABLE (or COMPLIANT) rather than guessing, and no rule ever raises.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import jsii
from aws_cdk import (
    CfnResource,
    IPolicyValidationContext,
    ISynthesisSession,
    PolicyValidationPluginReport,
    Stack,
    StackSynthesizer,
    Stage,
)
from aws_cdk.cx_api import CloudAssemblyBuilder
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

__all__ = ["PACK_NAME", "RULE_IDS", "EtlDeployChecks"]

#: The pack's name: the prefix of every rule id and of every acknowledgement (`EtlDeployChecks::...`).
PACK_NAME = "EtlDeployChecks"

#: A template's `Resources` section: logical id -> {"Type": ..., "Properties": ...}.
Resources = Mapping[str, Mapping[str, Any]]
_Check = Callable[[Resources, str], NagRuleCompliance]

_NA = NagRuleCompliance.NOT_APPLICABLE
_OK = NagRuleCompliance.COMPLIANT
_BAD = NagRuleCompliance.NON_COMPLIANT

_KMS_KEY = "AWS::KMS::Key"
_KMS_ALIAS = "AWS::KMS::Alias"
_LOG_GROUP = "AWS::Logs::LogGroup"
_TOPIC = "AWS::SNS::Topic"
_QUEUE = "AWS::SQS::Queue"
_ALARM = "AWS::CloudWatch::Alarm"
_EVENT_RULE = "AWS::Events::Rule"
_BUCKET = "AWS::S3::Bucket"
_STATE_MACHINE = "AWS::StepFunctions::StateMachine"
_CDK_METADATA = "AWS::CDK::Metadata"
_ALARM_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")


# ---------------------------------------------------------------------------------------------------------
# Reading intrinsic functions
# ---------------------------------------------------------------------------------------------------------


def _props(resource: Any) -> Mapping[str, Any]:
    """A resource's `Properties`, or an empty mapping."""
    props = resource.get("Properties") if isinstance(resource, Mapping) else None
    return props if isinstance(props, Mapping) else {}


def _type(resource: Any) -> Any:
    return resource.get("Type") if isinstance(resource, Mapping) else None


def _of_type(resources: Resources, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(logical id, properties) of every resource of one type."""
    for logical_id, resource in resources.items():
        if _type(resource) == kind:
            yield logical_id, _props(resource)


def _as_list(value: Any) -> list[Any]:
    """CloudFormation's "a value or a list of values", as a list (None -> [])."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _get(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where any step is not a mapping with that key."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _intrinsic(value: Any) -> tuple[str, Any] | None:
    """(function name, argument) when `value` is a one-key intrinsic function, else None."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((name, argument),) = value.items()
        if isinstance(name, str) and (name == "Ref" or name.startswith("Fn::")):
            return name, argument
    return None


def _render(value: Any) -> str | None:
    """A string value with `Ref`/`Fn::GetAtt` written as `${Id}`/`${Id.Attr}` (the `Fn::Sub` syntax).

    `Fn::Join` and `Fn::Sub` are rendered through; None when the value is not a string or holds a
    function whose result cannot be written down at synth (`Fn::If`, `Fn::Select`, `Fn::ImportValue`...).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    found = _intrinsic(value)
    if found is None:
        return None
    name, argument = found
    if name == "Ref":
        return f"${{{argument}}}" if isinstance(argument, str) else None
    if name == "Fn::GetAtt":
        if isinstance(argument, str) and "." in argument:
            return f"${{{argument}}}"
        if isinstance(argument, list) and len(argument) == 2 and all(isinstance(a, str) for a in argument):
            return f"${{{argument[0]}.{argument[1]}}}"
        return None
    if name == "Fn::Join":
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            parts = [_render(part) for part in _as_list(argument[1])] if isinstance(argument[1], list) else [None]
            if all(part is not None for part in parts):
                return argument[0].join(cast(list[str], parts))
        return None
    if name == "Fn::Sub":
        return _render_sub(argument)
    return None


_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _render_sub(argument: Any) -> str | None:
    """`Fn::Sub` with its variable map substituted; other `${...}` stay as placeholders."""
    if isinstance(argument, str):
        return argument
    if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
        return None
    template, variables = argument
    if not isinstance(variables, Mapping):
        return None
    rendered: dict[str, str] = {}
    for key, variable in variables.items():
        text = _render(variable)
        if text is None:
            return None
        rendered[str(key)] = text
    return _SUB_VARIABLE.sub(lambda m: rendered.get(m.group(1), m.group(0)), template)


def _referenced_ids(value: Any) -> set[str]:
    """Logical ids that `value` names through `Ref`, `Fn::GetAtt` or `Fn::Sub` (pseudo parameters excluded)."""
    found: set[str] = set()
    pending = [value]
    while pending:
        current = pending.pop()
        intrinsic = _intrinsic(current)
        if intrinsic is not None:
            name, argument = intrinsic
            if name == "Ref" and isinstance(argument, str):
                found.add(argument)
                continue
            if name == "Fn::GetAtt":
                if isinstance(argument, str):
                    found.add(argument.split(".", 1)[0])
                elif isinstance(argument, list) and argument and isinstance(argument[0], str):
                    found.add(argument[0])
                continue
            if name == "Fn::Sub":
                template = argument[0] if isinstance(argument, list) and argument else argument
                variables = argument[1] if isinstance(argument, list) and len(argument) == 2 else None
                local = set(variables) if isinstance(variables, Mapping) else set()
                if isinstance(variables, Mapping):
                    pending.extend(variables.values())
                if isinstance(template, str):
                    for match in _SUB_VARIABLE.finditer(template):
                        variable = match.group(1).split(".", 1)[0]
                        if variable not in local:
                            found.add(variable)
                continue
        if isinstance(current, Mapping):
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return {ref for ref in found if not ref.startswith("AWS::")}


@lru_cache(maxsize=512)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """An IAM-style pattern (`*` any run, `?` one character), case-insensitive as IAM actions are."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE)


def _literals(value: Any) -> list[str]:
    """The literal strings of a value-or-list (intrinsics dropped)."""
    return [item for item in _as_list(value) if isinstance(item, str)]


# ---------------------------------------------------------------------------------------------------------
# Reading policy documents
# ---------------------------------------------------------------------------------------------------------


def _statements(document: Any) -> list[Mapping[str, Any]] | None:
    """A policy document's statements; None when the document cannot be read at synth (an intrinsic)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    if not isinstance(document, Mapping) or _intrinsic(document) is not None:
        return None
    statements = _as_list(document.get("Statement"))
    if not all(isinstance(s, Mapping) and _intrinsic(s) is None for s in statements):
        return None
    return cast(list[Mapping[str, Any]], statements)


def _allows(statement: Mapping[str, Any], action: str) -> bool:
    """An `Allow` statement whose `Action` (or `NotAction`) covers `action`. Conditions are not evaluated."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not any(_wildcard(p).fullmatch(action) for p in _literals(statement["NotAction"]))
    return any(_wildcard(p).fullmatch(action) for p in _literals(statement.get("Action")))


_DOMAIN = r"\.(?:amazonaws\.com(?:\.cn)?|\$\{AWS::URLSuffix\})"
_REGION = r"(?:\.(?:[a-z]{2}(?:-[a-z]+)+-\d+|\$\{AWS::Region\}))"


@lru_cache(maxsize=16)
def _service_principal(service: str, regional: bool) -> re.Pattern[str]:
    """`service.amazonaws.com`, and when `regional` also `service.<region>.amazonaws.com`."""
    region = f"{_REGION}?" if regional else ""
    return re.compile(re.escape(service) + region + _DOMAIN, re.IGNORECASE)


def _names_service(statement: Mapping[str, Any], service: str, regional: bool) -> bool:
    """The statement's principal is the service (or everyone)."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if "*" in _literals(principal.get("AWS")):
        return True
    pattern = _service_principal(service, regional)
    return any(
        text is not None and pattern.fullmatch(text) is not None
        for text in (_render(s) for s in _as_list(principal.get("Service")))
    )


def _identity_policy_documents(resource: Mapping[str, Any]) -> Iterator[Any]:
    """The policy documents an IAM resource grants to its principals."""
    kind, props = _type(resource), _props(resource)
    if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
        yield props.get("PolicyDocument")
    elif kind in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        for policy in _as_list(props.get("Policies")):
            yield _get(policy, "PolicyDocument")


# ---------------------------------------------------------------------------------------------------------
# Rule 1: KmsServicePrincipal
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Need:
    """A service principal that must be allowed `actions` on a key for the key's use in the template to work."""

    service: str
    regional: bool
    actions: tuple[str, ...]


# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html: the key policy must
# allow logs.<region>.amazonaws.com kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*,
# kms:Describe*; without it CreateLogGroup / AssociateKmsKey is refused and the stack fails.
_LOGS = _Need("logs", True, ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"))
# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services: an AWS
# service publishing to an encrypted topic needs kms:Decrypt and kms:GenerateDataKey* on the key, or the
# publish is dropped (CloudWatch alarms then notify no one, silently).
_CLOUDWATCH = _Need("cloudwatch", False, ("kms:Decrypt", "kms:GenerateDataKey"))
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-event-delivery.html#eb-rule-dlq and
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html: EventBridge delivering
# to an encrypted queue (target or dead-letter queue) or topic needs the same two actions on the key.
_EVENTS = _Need("events", False, ("kms:Decrypt", "kms:GenerateDataKey"))


def _key_matcher(resources: Resources, key_id: str) -> Callable[[Any], bool]:
    """Whether a key property (KmsKeyId, KmsMasterKeyId) names the key, directly or through an alias."""
    aliases = {
        alias_id: props.get("AliasName")
        for alias_id, props in _of_type(resources, _KMS_ALIAS)
        if key_id in _referenced_ids(props.get("TargetKeyId"))
    }
    alias_names = {name for name in aliases.values() if isinstance(name, str)}

    def uses_key(value: Any) -> bool:
        if value is None:
            return False
        if _referenced_ids(value) & ({key_id} | set(aliases)):
            return True
        text = _render(value)
        return text is not None and any(text == name or text.endswith(":" + name) for name in alias_names)

    return uses_key


def _alarm_action_ids(resources: Resources) -> set[str]:
    """Resources named in any alarm's actions."""
    found: set[str] = set()
    for _, props in _of_type(resources, _ALARM):
        for field in _ALARM_ACTIONS:
            found |= _referenced_ids(props.get(field))
    return found


def _rule_target_ids(resources: Resources) -> set[str]:
    """Resources an EventBridge rule delivers to: its targets and their dead-letter queues."""
    found: set[str] = set()
    for _, props in _of_type(resources, _EVENT_RULE):
        for target in _as_list(props.get("Targets")):
            found |= _referenced_ids(_get(target, "Arn")) | _referenced_ids(_get(target, "DeadLetterConfig", "Arn"))
    return found


def _key_needs(resources: Resources, key_id: str) -> set[_Need]:
    """What the template's use of the key asks of its key policy."""
    uses_key = _key_matcher(resources, key_id)
    alarm_actions = _alarm_action_ids(resources)
    rule_targets = _rule_target_ids(resources)
    needs: set[_Need] = set()
    for logical_id, resource in resources.items():
        kind, props = _type(resource), _props(resource)
        if kind == _LOG_GROUP and uses_key(props.get("KmsKeyId")):
            needs.add(_LOGS)
        elif kind == _TOPIC and uses_key(props.get("KmsMasterKeyId")):
            if logical_id in alarm_actions:
                needs.add(_CLOUDWATCH)
            if logical_id in rule_targets:
                needs.add(_EVENTS)
        elif kind == _QUEUE and uses_key(props.get("KmsMasterKeyId")) and logical_id in rule_targets:
            needs.add(_EVENTS)
    return needs


def _check_kms_service_principal(resources: Resources, logical_id: str) -> NagRuleCompliance:
    """A KMS key used by a service principal must allow it in the key policy.

    Usage is read from the template: log groups encrypted with the key (CloudWatch Logs), encrypted
    topics that are alarm actions (CloudWatch) or rule targets (EventBridge), encrypted queues that are
    rule targets or dead-letter queues (EventBridge). Statement conditions are not evaluated (a statement
    with a condition counts as allowing), and `Deny` statements are not weighed.
    """
    resource = resources.get(logical_id)
    if _type(resource) != _KMS_KEY:
        return _NA
    needs = _key_needs(resources, logical_id)
    if not needs:
        return _NA
    # Without a KeyPolicy CloudFormation gives the default policy: the account root only, no service.
    statements = _statements(_props(resource).get("KeyPolicy", {"Statement": []}))
    if statements is None:
        return _NA
    for need in needs:
        for action in need.actions:
            if not any(_allows(s, action) and _names_service(s, need.service, need.regional) for s in statements):
                return _BAD
    return _OK


# ---------------------------------------------------------------------------------------------------------
# Rule 2: AlarmTopicAwsManagedKey
# ---------------------------------------------------------------------------------------------------------

# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services: the policy
# of an AWS managed key cannot be edited, so services such as CloudWatch can never be allowed to use it.
_AWS_MANAGED_ALIAS = re.compile(r"(?:^|:)alias/aws/")


def _check_alarm_topic_aws_managed_key(resources: Resources, logical_id: str) -> NagRuleCompliance:
    """A topic that alarms publish to must not be encrypted with an AWS managed key (`alias/aws/...`).

    The finding is on the topic: that is where the fix goes (a customer managed key), however many
    alarms use it. Only alarms of the same template, naming the topic by `Ref`, are seen.
    """
    resource = resources.get(logical_id)
    if _type(resource) != _TOPIC:
        return _NA
    key = _render(_props(resource).get("KmsMasterKeyId"))
    if key is None or logical_id not in _alarm_action_ids(resources):
        return _NA
    return _BAD if _AWS_MANAGED_ALIAS.search(key) else _OK


# ---------------------------------------------------------------------------------------------------------
# Rule 3: StateMachineLogGroupName
# ---------------------------------------------------------------------------------------------------------

# https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html: each state machine logging to a log group
# adds it to the account's CloudWatch Logs resource policy, limited to 5,120 characters
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html); log groups
# named under /aws/vendedlogs/ are covered without a statement each (Step Functions' console uses
# /aws/vendedlogs/states/).
_VENDED_LOGS_PREFIX = "/aws/vendedlogs/"


def _destination_name(resources: Resources, arn: Any) -> str | None:
    """The log group name behind a logging destination ARN; "" for a template log group with no name
    (CloudFormation generates one), None when it cannot be known at synth."""
    log_groups = [ref for ref in _referenced_ids(arn) if _type(resources.get(ref)) == _LOG_GROUP]
    if len(log_groups) == 1:
        name = _props(resources[log_groups[0]]).get("LogGroupName")
        return "" if name is None else _render(name)
    text = _render(arn)
    if text is None or ":log-group:" not in text:
        return None
    name = text.split(":log-group:", 1)[1]
    return name[:-2] if name.endswith(":*") else name


def _check_state_machine_log_group_name(resources: Resources, logical_id: str) -> NagRuleCompliance:
    """A state machine that logs must log to a group named under `/aws/vendedlogs/`.

    Names that start with a value unknown at synth (a parameter, `${AWS::StackName}`...) are let through.
    """
    resource = resources.get(logical_id)
    if _type(resource) != _STATE_MACHINE:
        return _NA
    logging = _props(resource).get("LoggingConfiguration")
    level = _get(logging, "Level")
    if not isinstance(logging, Mapping) or level is None or level == "OFF":
        return _NA
    verdict = _NA
    for destination in _as_list(logging.get("Destinations")):
        name = _destination_name(resources, _get(destination, "CloudWatchLogsLogGroup", "LogGroupArn"))
        if name is None:
            continue
        known = name.split("${", 1)[0]
        if name.startswith(_VENDED_LOGS_PREFIX):
            verdict = _OK if verdict is _NA else verdict
        elif "${" in name and _VENDED_LOGS_PREFIX.startswith(known):
            continue
        else:
            return _BAD
    return verdict


# ---------------------------------------------------------------------------------------------------------
# Rule 4: HardCodedPartition
# ---------------------------------------------------------------------------------------------------------

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html: the partition is part of every ARN;
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html#cfn-pseudo-param-partition
# gives the stack's own. Partitions: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc.
_PARTITION_ARN = re.compile(r"(?<![A-Za-z0-9])arn:aws(?:-[a-z]+)*:")
_OPAQUE = "\x00"


def _hard_coded_partition(value: Any) -> bool:
    """Whether a literal string anywhere in `value` (also across the pieces of an `Fn::Join`) is an ARN
    with its partition written out. `Ref` and `Fn::GetAtt` name resources, never partitions."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, str):
            if _PARTITION_ARN.search(current):
                return True
            continue
        intrinsic = _intrinsic(current)
        if intrinsic is not None:
            name, argument = intrinsic
            if name in ("Ref", "Fn::GetAtt"):
                continue
            if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
                delimiter, parts = argument
                if isinstance(delimiter, str) and isinstance(parts, list):
                    # "arn:" + "aws" + ":s3:::" is as hard-coded as "arn:aws:s3:::".
                    joined = delimiter.join(p if isinstance(p, str) else _OPAQUE for p in parts)
                    if _PARTITION_ARN.search(joined):
                        return True
        if isinstance(current, Mapping):
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return False


def _check_hard_coded_partition(resources: Resources, logical_id: str) -> NagRuleCompliance:
    """No property of any resource holds an ARN with a literal partition (`arn:aws:`, `arn:aws-cn:`...)."""
    resource = resources.get(logical_id)
    if resource is None or _type(resource) == _CDK_METADATA:
        return _NA
    return _BAD if _hard_coded_partition(_props(resource)) else _OK


# ---------------------------------------------------------------------------------------------------------
# Rule 5: RuleMatchesOwnWrites
# ---------------------------------------------------------------------------------------------------------


# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-patterns-best-practices.html: a rule whose
# targets re-create what it matches fires without end. S3 Object Created events and their key filters:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html


@dataclass(frozen=True)
class _Keys:
    """A set of object keys: every key starting with `text`, or (`exact`) the key `text` alone."""

    text: str
    exact: bool = False
    ignore_case: bool = False

    def overlaps(self, other: _Keys) -> bool:
        """Whether some key is in both sets."""
        mine, theirs = self.text, other.text
        if self.ignore_case or other.ignore_case:
            mine, theirs = mine.lower(), theirs.lower()
        if self.exact and other.exact:
            return mine == theirs
        if self.exact:
            return mine.startswith(theirs)
        if other.exact:
            return theirs.startswith(mine)
        return mine.startswith(theirs) or theirs.startswith(mine)


_ANY_KEY = _Keys("")


def _head(pattern: str, wildcards: str) -> _Keys:
    """The keys a pattern can match, as a prefix (up to its first wildcard) or an exact key."""
    cut = min((i for i in (pattern.find(w) for w in wildcards) if i >= 0), default=-1)
    return _Keys(pattern[:cut]) if cut >= 0 else _Keys(pattern, exact=True)


def _matched_keys(matchers: Any) -> list[_Keys]:
    """The keys an EventBridge `detail.object.key` filter can match (a list of alternatives).

    Prefix, exact and wildcard filters narrow the keys; a suffix, `anything-but`, `exists` or any other
    filter is taken as matching every key (its matches cannot be bounded by a prefix).
    """
    if matchers is None:
        return [_ANY_KEY]
    found: list[_Keys] = []
    for matcher in _as_list(matchers):
        if isinstance(matcher, str):
            found.append(_Keys(matcher, exact=True))
            continue
        operator, argument = next(iter(matcher.items())) if isinstance(matcher, Mapping) and matcher else ("", None)
        folded = _get(argument, "equals-ignore-case")
        if operator == "prefix" and isinstance(argument, str):
            found.append(_Keys(argument))
        elif operator == "prefix" and isinstance(folded, str):
            found.append(_Keys(folded, ignore_case=True))
        elif operator == "equals-ignore-case" and isinstance(argument, str):
            found.append(_Keys(argument, exact=True, ignore_case=True))
        elif operator == "wildcard" and isinstance(argument, str):
            found.append(_head(argument, "*"))
        else:
            found.append(_ANY_KEY)
    return found or [_ANY_KEY]


_BUCKET_ARN_OBJECTS = re.compile(r"\$\{(?P<id>[^.}]+)\.Arn\}/(?P<key>.*)", re.DOTALL)
_S3_OBJECT_ARN = re.compile(r"arn:(?:\$\{AWS::Partition\}|[^:]*):s3:::(?P<bucket>[^/]*)/(?P<key>.*)", re.DOTALL)
_REF = re.compile(r"\$\{(?P<id>[^.}]+)\}")
_ANY_BUCKET = "*"


def _written_object(resource_arn: str, bucket_names: Mapping[str, str]) -> tuple[str, _Keys] | None:
    """(bucket logical id or `*`, keys) that an identity policy `Resource` covers, or None."""
    if resource_arn == "*":
        return _ANY_BUCKET, _ANY_KEY
    match = _BUCKET_ARN_OBJECTS.fullmatch(resource_arn)
    if match:
        return match["id"], _head(match["key"], "*?")
    match = _S3_OBJECT_ARN.fullmatch(resource_arn)
    if not match:
        return None
    bucket, keys = match["bucket"], _head(match["key"], "*?")
    ref = _REF.fullmatch(bucket)
    if ref:
        return ref["id"], keys
    if "*" in bucket or "?" in bucket:
        return _ANY_BUCKET, keys
    return (bucket_names[bucket], keys) if bucket in bucket_names else None


def _writes(resources: Resources) -> dict[str, list[_Keys]]:
    """Bucket logical id (or `*`) -> keys some identity policy of the template allows s3:PutObject on."""
    bucket_names = {
        props["BucketName"]: bucket_id
        for bucket_id, props in _of_type(resources, _BUCKET)
        if isinstance(props.get("BucketName"), str)
    }
    found: dict[str, list[_Keys]] = defaultdict(list)
    for resource in resources.values():
        for document in _identity_policy_documents(resource):
            for statement in _statements(document) or []:
                if not _allows(statement, "s3:PutObject"):
                    continue
                for arn in _as_list(statement.get("Resource")):
                    text = _render(arn)
                    written = None if text is None else _written_object(text, bucket_names)
                    if written is not None:
                        found[written[0]].append(written[1])
    return found


def _matched_buckets(resources: Resources, names: Any) -> set[str]:
    """Template buckets an event pattern's `detail.bucket.name` names (by `Ref` or by literal name)."""
    buckets = {bucket_id: props.get("BucketName") for bucket_id, props in _of_type(resources, _BUCKET)}
    found: set[str] = set()
    for name in _as_list(names):
        found |= _referenced_ids(name) & set(buckets)
        if isinstance(name, str):
            found |= {bucket_id for bucket_id, literal in buckets.items() if literal == name}
    return found


def _event_pattern(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) and _intrinsic(value) is None else None


def _check_rule_matches_own_writes(resources: Resources, logical_id: str) -> NagRuleCompliance:
    """An S3 `Object Created` rule must not match keys that an identity policy of the template may write.

    The approximation: a rule for a template bucket (`detail.bucket.name` by `Ref` or literal name) is
    reported when one of its key filters and one `s3:PutObject` grant on `<bucket arn>/<prefix>*` (in any
    `AWS::IAM::Policy`, managed policy or inline role policy of the template) are such that one prefix
    starts the other. Suffix and other non-prefix filters count as matching every key; whether the
    writing principal is actually downstream of the rule is not traced; bucket policies are not read.
    """
    resource = resources.get(logical_id)
    if _type(resource) != _EVENT_RULE:
        return _NA
    pattern = _event_pattern(_props(resource).get("EventPattern"))
    if pattern is None:
        return _NA
    sources, detail_types = pattern.get("source"), pattern.get("detail-type")
    if sources is not None and "aws.s3" not in _as_list(sources):
        return _NA
    if detail_types is not None and "Object Created" not in _as_list(detail_types):
        return _NA
    buckets = _matched_buckets(resources, _get(pattern, "detail", "bucket", "name"))
    if not buckets:
        return _NA
    matched = _matched_keys(_get(pattern, "detail", "object", "key"))
    writes = _writes(resources)
    for bucket in buckets:
        for written in writes.get(bucket, []) + writes.get(_ANY_BUCKET, []):
            if any(written.overlaps(keys) for keys in matched):
                return _BAD
    return _OK


# ---------------------------------------------------------------------------------------------------------
# The pack
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RuleSpec:
    suffix: str
    info: str
    explanation: str
    level: NagMessageLevel
    applies_to: frozenset[str] | None
    check: _Check


_RULES: tuple[_RuleSpec, ...] = (
    _RuleSpec(
        "KmsServicePrincipal",
        "The KMS key is used by an AWS service whose service principal its key policy does not allow.",
        "AWS refuses to use a customer managed key for a service that the key policy does not name: "
        "CloudWatch Logs refuses to create a log group with the key (the deployment fails), CloudWatch cannot "
        "publish alarm notifications to a topic encrypted with it, and EventBridge cannot deliver to a queue "
        "or topic encrypted with it (events go to the dead-letter queue, or are dropped). Add a key-policy "
        "statement for the service principal: logs.<region>.amazonaws.com with kms:Encrypt*, kms:Decrypt*, "
        "kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe* for log groups; cloudwatch.amazonaws.com or "
        "events.amazonaws.com with kms:Decrypt and kms:GenerateDataKey* for topics and queues.",
        NagMessageLevel.ERROR,
        frozenset({_KMS_KEY}),
        _check_kms_service_principal,
    ),
    _RuleSpec(
        "AlarmTopicAwsManagedKey",
        "CloudWatch alarms publish to an SNS topic encrypted with an AWS managed key (alias/aws/...).",
        "The key policy of an AWS managed key cannot be changed, so it can never allow "
        "cloudwatch.amazonaws.com: every alarm notification to the topic fails and no one is told. "
        "Encrypt the topic with a customer managed key whose policy allows cloudwatch.amazonaws.com "
        "kms:Decrypt and kms:GenerateDataKey*.",
        NagMessageLevel.ERROR,
        frozenset({_TOPIC}),
        _check_alarm_topic_aws_managed_key,
    ),
    _RuleSpec(
        "StateMachineLogGroupName",
        "The state machine logs to a log group whose name does not start with /aws/vendedlogs/.",
        "For each such log group Step Functions adds a statement to the account's CloudWatch Logs resource "
        "policy, which is limited to 5,120 characters: once it is full, creating or updating any state "
        "machine with logging fails. Name the log group /aws/vendedlogs/states/<name>.",
        NagMessageLevel.ERROR,
        frozenset({_STATE_MACHINE}),
        _check_state_machine_log_group_name,
    ),
    _RuleSpec(
        "HardCodedPartition",
        "A property holds an ARN with a hard-coded partition (arn:aws:, arn:aws-cn:, arn:aws-us-gov:...).",
        "Such an ARN names a resource that does not exist in the other partitions: the stack fails to deploy, "
        "or its permissions grant nothing, in AWS China and AWS GovCloud (US). Build the ARN with the "
        "AWS::Partition pseudo parameter (Aws.PARTITION, Stack.format_arn).",
        NagMessageLevel.ERROR,
        None,
        _check_hard_coded_partition,
    ),
    _RuleSpec(
        "RuleMatchesOwnWrites",
        "The S3 Object Created rule can match keys that a role of the same template may write to the bucket.",
        "An object written under a key the rule matches raises a new event: if the rule's targets write "
        "there, every run starts another (an infinite loop, with its cost). Write outputs, quarantine copies "
        "and reports under a prefix the rule does not match, or in another bucket, and give the rule a key "
        "prefix.",
        NagMessageLevel.ERROR,
        frozenset({_EVENT_RULE}),
        _check_rule_matches_own_writes,
    ),
)

#: The rule ids the pack reports, `EtlDeployChecks-<Rule>`.
RULE_IDS: tuple[str, ...] = tuple(f"{PACK_NAME}-{spec.suffix}" for spec in _RULES)


@jsii.implements(IApplyRule)
class _AppliedRule:
    """One rule on one resource, in the shape cdk-nag's `applyRule` reads (jsii needs class properties)."""

    def __init__(self, spec: _RuleSpec, node: CfnResource, resources: Resources, logical_id: str) -> None:
        self._spec, self._node, self._resources, self._logical_id = spec, node, resources, logical_id

    @property
    def rule_suffix_override(self) -> str:
        """The rule's id after `EtlDeployChecks-`."""
        return self._spec.suffix

    @property
    def info(self) -> str:
        """Why the rule was triggered."""
        return self._spec.info

    @property
    def explanation(self) -> str:
        """Why the rule exists, and the fix."""
        return self._spec.explanation

    @property
    def level(self) -> NagMessageLevel:
        """The finding's severity."""
        return self._spec.level

    @property
    def node(self) -> CfnResource:
        """The resource checked."""
        return self._node

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        """The verdict on the resource, from the stack's template."""
        try:
            return self._spec.check(self._resources, self._logical_id)
        except Exception:  # a template the checks did not foresee: no verdict rather than a failed synth
            return _NA


class EtlDeployChecks(NagPack):
    """cdk-nag rule pack: template mistakes that synthesize cleanly but that AWS refuses, or that fail later.

    Registered like cdk-nag's own packs, on the app::

        Validations.of(app).add_plugins(EtlDeployChecks(app))

    Rules (each id is `EtlDeployChecks-<Rule>`):

    - `KmsServicePrincipal` (on the key): a KMS key used by a log group, by an encrypted topic that alarms or
      EventBridge publish to, or by an encrypted queue EventBridge delivers to, without a key-policy
      statement allowing that service principal.
    - `AlarmTopicAwsManagedKey` (on the topic): alarm actions on a topic encrypted with `alias/aws/...`.
    - `StateMachineLogGroupName` (on the state machine): logging to a log group not named `/aws/vendedlogs/...`.
    - `HardCodedPartition` (on any resource): a literal `arn:aws:` (or other partition) in a property.
    - `RuleMatchesOwnWrites` (on the rule): an S3 `Object Created` rule that can match keys a policy of the
      template may write in that bucket.

    :param scope: where `write_suppressions_to_cloud_formation` applies its aspect, as for cdk-nag's packs.
    :param verbose: put each rule's explanation in the report as well as its one-line info (default False).
    :param write_suppressions_to_cloud_formation: copy acknowledgements into the resources' CloudFormation
        metadata, as cdk-nag 2 did (default False).
    """

    def __init__(
        self,
        scope: IConstruct | None = None,
        *,
        verbose: bool | None = None,
        write_suppressions_to_cloud_formation: bool | None = None,
    ) -> None:
        super().__init__(
            scope, verbose=verbose, write_suppressions_to_cloud_formation=write_suppressions_to_cloud_formation
        )
        self._pack_name = PACK_NAME
        # Per run: stack path -> its resources. `_assembly` is set only while CDK's validation runs, when the
        # templates on disk are the ones just synthesized.
        self._assembly: dict[str, Resources] | None = None
        self._rendered: dict[str, Resources] = {}

    @property
    def name(self) -> str:
        """The plugin's name in CDK's validation report."""
        return PACK_NAME

    @property
    def rule_ids(self) -> list[str] | None:
        """The rule ids this pack reports, for CDK's plugin report."""
        return list(RULE_IDS)

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        """Entry point for CDK's validation, after synthesis: the rules read the synthesized templates."""
        self._assembly = {}
        try:
            return super().validate(context)
        finally:
            self._assembly = None

    def validate_scope(self, scope: IConstruct) -> PolicyValidationPluginReport:
        """Check every resource under `scope` (also what `validate` runs, on the whole app)."""
        self._rendered = {}
        return super().validate_scope(scope)

    def _check_resource(self, node: CfnResource) -> None:
        """Apply each rule that concerns the resource's type."""
        stack = Stack.of(node)
        resources = self._resources_of(stack)
        logical_id = stack.resolve(stack.get_logical_id(node))
        if not isinstance(logical_id, str) or logical_id not in resources:
            return
        kind = _type(resources[logical_id])
        for spec in _RULES:
            if spec.applies_to is None or kind in spec.applies_to:
                # jsii reads the rule's properties through the class; mypy wants settable protocol members.
                self._apply_rule(cast(IApplyRule, _AppliedRule(spec, node, resources, logical_id)))

    def _resources_of(self, stack: Stack) -> Resources:
        key = stack.node.path
        cache = self._assembly if self._assembly is not None else self._rendered
        if key not in cache:
            found = _assembly_resources(stack) if self._assembly is not None else None
            cache[key] = found if found is not None else _template_resources(stack)
        return cache[key]


def _assembly_resources(stack: Stack) -> Resources | None:
    """The `Resources` of the stack's template in the cloud assembly, if synthesis wrote it."""
    stage = Stage.of(stack)
    return None if stage is None else _read_resources(os.path.join(stage.outdir, stack.template_file))


def _template_resources(stack: Stack) -> Resources:
    """The stack's template written by its own synthesizer into a scratch folder, for `validate_scope`.

    It is the template as it stands now (no aspects or cross-stack preparation yet), with the tokens
    resolved on the JavaScript side: resolving a resource's properties from Python would carry lazy
    values across jsii unresolved, and lose them. A synthesizer that is not a `StackSynthesizer`
    cannot do this: the rules then see no resources.
    """
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, StackSynthesizer):
        return {}
    with tempfile.TemporaryDirectory(prefix="etl-deploy-checks-") as scratch:
        try:
            synthesizer._synthesize_template(cast(ISynthesisSession, _ScratchSession(scratch)))
        except Exception:  # a token that resolves only in a full synthesis: no template to read
            return {}
        return _read_resources(os.path.join(scratch, stack.template_file)) or {}


def _read_resources(path: str) -> Resources | None:
    try:
        with open(path, encoding="utf-8") as template:
            resources = json.load(template).get("Resources")
    except (OSError, ValueError, AttributeError):
        return None
    return resources if isinstance(resources, Mapping) else None


@jsii.implements(ISynthesisSession)
class _ScratchSession:
    """A synthesis session writing into a scratch folder (jsii needs class properties)."""

    def __init__(self, outdir: str) -> None:
        self._outdir, self._assembly = outdir, CloudAssemblyBuilder(outdir)

    @property
    def outdir(self) -> str:
        """Where the template is written."""
        return self._outdir

    @property
    def assembly(self) -> CloudAssemblyBuilder:
        """A throwaway cloud assembly."""
        return self._assembly

    @property
    def validate_on_synth(self) -> bool:
        """No template validation on this scratch synthesis."""
        return False
