"""Key policies checked before any file runs: every principal that uses a KMS key is let in by its policy.

AWS evaluates a key policy on every KMS call and refuses a principal it does not let in; moto does
not, so a template whose key policy lacks a statement would run locally and then fail in AWS (a
log group with `KmsKeyId` does not even create). For each `AWS::KMS::Key` of the template this
finds who will use the key and with which actions, and evaluates the key policy as KMS does
(https://docs.aws.amazon.com/kms/latest/developerguide/determining-access-key-policy.html): an
explicit Deny refuses; a statement naming the principal allows; a statement naming the account
(`arn:aws:iam::<account>:root`) allows a role only when the role's IAM policies grant the action
too (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).

run-local cannot evaluate the whole policy language, and refuses only what it can show AWS would
refuse. Conditions on `aws:PrincipalArn`, `aws:PrincipalAccount`, `kms:CallerAccount`,
`kms:ViaService`, `aws:SourceAccount`, `aws:SourceArn` and `kms:EncryptionContext:aws:logs:arn`
are evaluated (String and Arn operators) where the caller's value is known. Any other condition,
and a principal or value it cannot resolve, counts as allowing: an Allow so conditioned lets the
caller in, a Deny so conditioned (or with `NotPrincipal`) keeps no one out. Keys that are not in
the template (imported ARNs, AWS-managed aliases) are not checked.

Pseudo parameters resolve to run-local's account and region; a stack synthesized with `env=`
writes its own account and region literally, so those (from the manifest beside the template)
count as the template's account and region too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .policy_language import as_list as _as_list
from .policy_language import conditions_met as _conditions
from .policy_language import glob as _glob
from .template import ACCOUNT, REGION, Template, TemplateError

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
LOGS_SERVICE = f"logs.{REGION}.amazonaws.com"
_REGIONAL_LOGS = "logs.{region}.amazonaws.com"
CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
EVENTS_SERVICE = "events.amazonaws.com"
SNS_SERVICE = "sns.amazonaws.com"
S3_SERVICE = "s3.amazonaws.com"

_LOGS_DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
_ALARM_DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html"
_SNS_DOC = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
_SQS_DOC = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html"
_DLQ_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html"
_S3_KMS_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
_ACCESS_LOG_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"
_KEY_ACCESS_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/determining-access-key-policy.html"

#: What CloudWatch Logs needs, as the CloudWatch Logs guide (_LOGS_DOC) writes the statement.
LOGS_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")
#: What a service that publishes to an encrypted topic or queue calls: _SNS_DOC and _SQS_DOC
#: ("Configure KMS permissions for AWS services"); `kms:GenerateDataKey*` in a policy covers it.
PRODUCER_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
#: What S3 calls for a role reading or writing an SSE-KMS object (_S3_KMS_DOC).
_S3_READS = ("s3:getobject", "s3:getobjectversion")
_S3_WRITES = ("s3:putobject",)

#: KMS actions on a key, for deciding whether concrete actions in a policy add up to a wildcard
#: one (`kms:Encrypt*` is allowed when every action it stands for is).
#: https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html
_KEY_ACTIONS = tuple(
    f"kms:{a}".lower()
    for a in (  # noqa: SIM905 (a list literal would take 43 lines)
        "CancelKeyDeletion CreateAlias CreateGrant Decrypt DeleteAlias DeleteImportedKeyMaterial "
        "DeriveSharedSecret DescribeKey DisableKey DisableKeyRotation EnableKey EnableKeyRotation Encrypt "
        "GenerateDataKey GenerateDataKeyPair GenerateDataKeyPairWithoutPlaintext GenerateDataKeyWithoutPlaintext "
        "GenerateMac GetKeyPolicy GetKeyRotationStatus GetParametersForImport GetPublicKey ImportKeyMaterial "
        "ListGrants ListKeyPolicies ListKeyRotations ListResourceTags PutKeyPolicy ReEncryptFrom ReEncryptTo "
        "ReplicateKey RetireGrant RevokeGrant RotateKeyOnDemand ScheduleKeyDeletion Sign TagResource "
        "UntagResource UpdateAlias UpdateKeyDescription UpdatePrimaryRegion Verify VerifyMac"
    ).split()
)
_ANY_KEY_ARN = "arn:aws:kms:{region}:{account}:key/00000000-0000-0000-0000-000000000000"

# How a key-policy statement's principal matches a caller.
_DIRECT, _ROOT, _UNKNOWN = "direct", "root", "unknown"


class KeyPolicyError(TemplateError):
    """A KMS key's policy does not let in a principal that will use the key."""


def check_key_policies(template: Template) -> None:
    """Raise KeyPolicyError, one line per problem, when a key policy would refuse a use of its key.

    A problem names the key (logical id and construct path), the principal (a role's ARN or a
    service principal), the actions it lacks, and why it needs them. S3 server access logging
    to a bucket encrypted with SSE-KMS, which S3 does not deliver, is refused here too.
    """
    problems = list(dict.fromkeys(_Check(template).problems()))
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise KeyPolicyError(
            f"KMS key policies would refuse what the template does with its keys ({count}); AWS refuses "
            "these at deploy or at first use, so run-local refuses them before any file runs:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class _Principal:
    """Who calls KMS: a role of the template or a service, and every name a key policy may give it."""

    name: str
    names: frozenset[str]
    role: str | None = None


@dataclass
class _Use:
    """A principal that will call KMS with `actions` on `key`, and why."""

    key: str
    principal: _Principal
    actions: tuple[str, ...]
    reason: str
    doc: str
    context: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class _Statement:
    """A key-policy statement with its intrinsic functions resolved (None where they cannot be)."""

    sid: str
    allow: bool
    principal: Any
    actions: list[str]
    not_actions: list[str] | None
    conditions: Any

    def matches(self, principal: _Principal, roots: frozenset[str]) -> set[str]:
        """How this statement names `principal`: directly, as its account (one of `roots`), or unknown."""
        if self.principal == "*":
            return {_DIRECT}
        found: set[str] = set()
        if isinstance(self.principal, dict):
            for kind, values in self.principal.items():
                for value in values:
                    found |= _principal_match(kind, value, principal, roots)
        return found

    def allows_action(self, action: str) -> bool:
        """Whether every call `action` stands for is among this statement's actions."""
        if self.not_actions is not None:
            return not any(_overlap(p, action) for p in self.not_actions)
        return any(_glob(action, p) for p in self.actions)

    def denies_action(self, action: str) -> bool:
        """Whether some call `action` stands for is among this statement's actions."""
        if self.not_actions is not None:
            return not any(_glob(action, p) for p in self.not_actions)
        return any(_overlap(p, action) for p in self.actions)


@dataclass
class _Role:
    """A role of the template and the statements of its identity policies (unresolved)."""

    logical_id: str
    name: str
    arns: frozenset[str]
    statements: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def principal(self) -> _Principal:
        """The role as a KMS caller."""
        return _Principal(self.name, self.arns, self.logical_id)


class _Check:
    """One template's keys, the uses of each key, and the key-policy evaluation."""

    def __init__(self, template: Template) -> None:
        self.t = template
        self.keys = template.of_type("AWS::KMS::Key")
        self.accounts, self.regions = _environment(template, self.keys)
        self.roots = frozenset(self.accounts) | {f"arn:aws:iam::{a}:root" for a in self.accounts}
        self._aliases = self._alias_targets()
        self.roles = self._roles()
        self._policies: dict[str, list[_Statement] | None] = {}

    def problems(self) -> Iterator[str]:
        """Every refusal: uses a key policy does not allow, then SSE-KMS access-log targets."""
        if self.keys:
            for use in self._uses():
                yield from self._refusals(use)
        yield from self._access_log_targets()

    # -- which keys a value names --------------------------------------------------------------

    def keys_in(self, value: Any) -> list[str]:
        """The template's keys `value` names: by Ref, GetAtt or Sub of the key or of an alias of it."""
        found = [r for r in _references(value) if r in self.keys]
        for ref in _references(value):
            found += self._aliases.get(("ref", ref), [])
        for text in _literals(value):
            for (kind, name), targets in self._aliases.items():
                if kind == "name" and (text == name or text.endswith(":" + name)):
                    found += targets
        return list(dict.fromkeys(found))

    def _alias_targets(self) -> dict[tuple[str, str], list[str]]:
        aliases: dict[tuple[str, str], list[str]] = {}
        for logical_id, alias in self.t.of_type("AWS::KMS::Alias").items():
            props = alias.get("Properties", {})
            targets = [r for r in _references(props.get("TargetKeyId")) if r in self.keys]
            aliases[("ref", logical_id)] = targets
            name = _resolve(self.t, props.get("AliasName"))
            if isinstance(name, str):
                aliases[("name", name)] = targets
        return aliases

    def each(self, pattern: str) -> tuple[str, ...]:
        """`pattern` with `{account}` and `{region}` filled in with each of the template's own."""
        return tuple(dict.fromkeys(pattern.format(account=a, region=r) for a in self.accounts for r in self.regions))

    def service(self, pattern: str) -> _Principal:
        """A service principal, named for run-local's region and matched in any of the template's."""
        return _Principal(pattern.format(region=REGION), frozenset(self.each(pattern)))

    def account_context(self, **extra: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        """Condition keys (`aws_sourcearn` for `aws:sourcearn`) with the account keys every caller has."""
        return {"aws:sourceaccount": tuple(self.accounts)} | {k.replace("_", ":"): v for k, v in extra.items()}

    def role_context(self, role: _Role, **extra: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        """The condition keys KMS sees when `role` calls it."""
        own = {"aws:principalarn": tuple(role.arns), "aws:principalaccount": tuple(self.accounts)}
        return own | {"kms:calleraccount": tuple(self.accounts)} | {k.replace("_", ":"): v for k, v in extra.items()}

    def label(self, key: str) -> str:
        """`Key1234 (Stack/Key/Resource)`: the logical id and, when the template has it, the path."""
        path = self.t.resources[key].get("Metadata", {}).get("aws:cdk:path")
        return f"{key} ({path})" if path else key

    # -- roles and their identity policies -----------------------------------------------------

    def _roles(self) -> dict[str, _Role]:
        roles: dict[str, _Role] = {}
        by_name: dict[str, str] = {}
        for logical_id, resource in self.t.of_type("AWS::IAM::Role").items():
            props = resource.get("Properties", {})
            arn = self.t.get_att(logical_id, "Arn")
            arns = {arn}
            role_name = _resolve(self.t, props.get("RoleName"))
            if isinstance(role_name, str):
                path = props.get("Path") if isinstance(props.get("Path"), str) else "/"
                arn = f"arn:aws:iam::{ACCOUNT}:role{path}{role_name}"
                for account in self.accounts:
                    arns |= {
                        f"arn:aws:iam::{account}:role{path}{role_name}",
                        f"arn:aws:iam::{account}:role/{role_name}",
                    }
                by_name[role_name] = logical_id
            role = roles[logical_id] = _Role(logical_id, arn, frozenset(arns))
            for policy in _as_list(props.get("Policies")):
                if isinstance(policy, dict):
                    role.statements += _statements_of(f"{logical_id}.{policy.get('PolicyName')}", policy)
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for logical_id, resource in self.t.of_type(kind).items():
                props = resource.get("Properties", {})
                attached = set(_references(props.get("Roles"))) | {
                    by_name.get(n, "") for n in _literals(props.get("Roles"))
                }
                for role in roles.values():
                    if role.logical_id in attached or logical_id in _references(
                        self.t.resources[role.logical_id].get("Properties", {}).get("ManagedPolicyArns")
                    ):
                        role.statements += _statements_of(logical_id, props)
        return roles

    def iam_allows(self, role: _Role, key: str, action: str) -> bool:
        """Whether the role's identity policies allow `action` on `key` (Deny not evaluated)."""
        for _, raw in role.statements:
            if raw.get("Effect") != "Allow" or not self._on_key(raw, key):
                continue
            if "NotAction" in raw:
                if not any(_overlap(p, action) for p in _actions(self.t, raw.get("NotAction"))):
                    return True
            elif any(_glob(action, p) for p in _actions(self.t, raw.get("Action"))):
                return True
        return False

    def _on_key(self, raw: dict[str, Any], key: str) -> bool:
        if "NotResource" in raw:
            return key not in self.keys_in(raw["NotResource"])
        for item in _as_list(raw.get("Resource")):
            if key in self.keys_in(item):
                return True
            resolved = _resolve(self.t, item)
            if isinstance(resolved, str) and any(_glob(arn, resolved) for arn in self.each(_ANY_KEY_ARN)):
                return True
        return False

    # -- who uses which key ----------------------------------------------------------------------

    def _uses(self) -> Iterator[_Use]:
        yield from self._role_uses()
        yield from self._log_group_uses()
        yield from self._topic_uses()
        yield from self._queue_uses()

    def _role_uses(self) -> Iterator[_Use]:
        """Roles whose identity policies grant KMS actions on a key, and roles using SSE-KMS buckets."""
        granted = self._granted()
        for (role_id, key), actions in granted.items():
            role = self.roles[role_id]
            reason = "its IAM policies grant these on the key"
            yield _Use(key, role.principal, tuple(actions), reason, _KEY_ACCESS_DOC, self.role_context(role))
        for bucket, key in self._kms_buckets():
            for role in self.roles.values():
                # What the role's grants on the key already ask for is checked above: only the rest here.
                already = [a.lower() for a in granted.get((role.logical_id, key), [])]
                uses = {
                    a: verb
                    for a, verb in self._bucket_actions(role, bucket).items()
                    if not any(_glob(a.lower(), p) for p in already)
                }
                if uses:
                    verbs = " and ".join(dict.fromkeys(uses.values()))
                    reason = f"it {verbs} objects of bucket {bucket}, which is encrypted with the key"
                    context = self.role_context(role, kms_viaservice=self.each("s3.{region}.amazonaws.com"))
                    yield _Use(key, role.principal, tuple(uses), reason, _S3_KMS_DOC, context)

    def _granted(self) -> dict[tuple[str, str], list[str]]:
        """(role, key) -> the KMS actions the role's Allow statements name on that key (not on `*`)."""
        granted: dict[tuple[str, str], dict[str, str]] = {}
        for role in self.roles.values():
            for _, raw in role.statements:
                if raw.get("Effect") != "Allow" or "Action" not in raw:
                    continue
                kms = [
                    "kms:*" if a == "*" else a
                    for a in _strings(self.t, raw["Action"])
                    if a and (a.lower().startswith("kms:") or a == "*")
                ]
                for key in (k for item in _as_list(raw.get("Resource")) for k in self.keys_in(item)):
                    actions = granted.setdefault((role.logical_id, key), {})
                    actions.update({a.lower(): a for a in kms if a.lower() not in actions})
        return {k: list(v.values()) for k, v in granted.items() if v}

    def _kms_buckets(self) -> Iterator[tuple[str, str]]:
        for logical_id, bucket in self.t.of_type("AWS::S3::Bucket").items():
            for rule in _sse_rules(bucket):
                for key in self.keys_in(rule.get("KMSMasterKeyID")):
                    yield logical_id, key

    def _bucket_actions(self, role: _Role, bucket: str) -> dict[str, str]:
        """kms:Decrypt when the role reads the bucket's objects, kms:GenerateDataKey when it writes them."""
        objects = self.t.get_att(bucket, "Arn") + "/"
        needed: dict[str, str] = {}
        for _, raw in role.statements:
            if raw.get("Effect") != "Allow" or "Action" not in raw:
                continue
            resources = [_resolve(self.t, r) for r in _as_list(raw.get("Resource"))]
            if not any(isinstance(r, str) and r.startswith(objects) for r in resources):
                continue
            actions = _actions(self.t, raw["Action"])
            if any(_glob(s3, p) for s3 in _S3_READS for p in actions):
                needed.setdefault("kms:Decrypt", "reads")
            if any(_glob(s3, p) for s3 in _S3_WRITES for p in actions):
                needed.setdefault("kms:GenerateDataKey", "writes")
        return needed

    def _log_group_uses(self) -> Iterator[_Use]:
        service = self.service(_REGIONAL_LOGS)
        for logical_id, group in self.t.of_type("AWS::Logs::LogGroup").items():
            props = group.get("Properties", {})
            name = _resolve(self.t, props.get("LogGroupName"))
            context = self.account_context()
            if isinstance(name, str):
                # The ARN CloudWatch Logs puts in the encryption context: without the trailing `:*`.
                arns = self.each("arn:aws:logs:{region}:{account}:log-group:" + _braces(name))
                context["kms:encryptioncontext:aws:logs:arn"] = arns
            for key in self.keys_in(props.get("KmsKeyId")):
                reason = f"log group {logical_id} is encrypted with the key"
                yield _Use(key, service, LOGS_ACTIONS, reason, _LOGS_DOC, context)

    def _encrypted(self, kind: str) -> dict[str, list[str]]:
        found = {}
        for logical_id, resource in self.t.of_type(kind).items():
            keys = self.keys_in(resource.get("Properties", {}).get("KmsMasterKeyId"))
            if keys:
                found[logical_id] = keys
        return found

    def _topic_uses(self) -> Iterator[_Use]:
        topics = self._encrypted("AWS::SNS::Topic")
        for alarm in self.t.of_type("AWS::CloudWatch::Alarm").values():
            props = alarm.get("Properties", {})
            actions = [props.get(p) for p in ("AlarmActions", "OKActions", "InsufficientDataActions")]
            context = self.account_context()
            name = _resolve(self.t, props.get("AlarmName"))
            if isinstance(name, str):
                context["aws:sourcearn"] = self.each("arn:aws:cloudwatch:{region}:{account}:alarm:" + _braces(name))
            for topic in (t for t in _references(actions) if t in topics):
                reason = f"alarms publish to topic {topic}, which is encrypted with the key"
                for key in topics[topic]:
                    yield _Use(key, self.service(CLOUDWATCH_SERVICE), PRODUCER_ACTIONS, reason, _ALARM_DOC, context)
        for rule, target, _ in self._rule_targets():
            for key in topics.get(target, []):
                reason = f"rule {rule} sends events to topic {target}, which is encrypted with the key"
                yield _Use(key, self.service(EVENTS_SERVICE), PRODUCER_ACTIONS, reason, _SNS_DOC)
        for bucket, target in self._bucket_notifications("TopicConfigurations"):
            for key in topics.get(target, []):
                reason = f"bucket {bucket} sends notifications to topic {target}, which is encrypted with the key"
                yield _Use(key, self.service(S3_SERVICE), PRODUCER_ACTIONS, reason, _SNS_DOC, self._s3_context(bucket))

    def _queue_uses(self) -> Iterator[_Use]:
        queues = self._encrypted("AWS::SQS::Queue")
        for rule, target, how in self._rule_targets():
            for key in queues.get(target, []):
                reason = f"rule {rule} {how} queue {target}, which is encrypted with the key"
                doc = _DLQ_DOC if "dead-letter" in how else _SQS_DOC
                yield _Use(key, self.service(EVENTS_SERVICE), PRODUCER_ACTIONS, reason, doc)
        for topic, queue in self._sqs_subscriptions():
            for key in queues.get(queue, []):
                reason = f"topic {topic} delivers to queue {queue}, which is encrypted with the key"
                context = self.account_context()
                topic_name = _resolve(self.t, self.t.resources[topic].get("Properties", {}).get("TopicName"))
                if isinstance(topic_name, str):
                    context["aws:sourcearn"] = self.each("arn:aws:sns:{region}:{account}:" + _braces(topic_name))
                yield _Use(key, self.service(SNS_SERVICE), PRODUCER_ACTIONS, reason, _SQS_DOC, context)
        for bucket, target in self._bucket_notifications("QueueConfigurations"):
            for key in queues.get(target, []):
                reason = f"bucket {bucket} sends notifications to queue {target}, which is encrypted with the key"
                yield _Use(key, self.service(S3_SERVICE), PRODUCER_ACTIONS, reason, _SQS_DOC, self._s3_context(bucket))

    def _rule_targets(self) -> Iterator[tuple[str, str, str]]:
        """(rule, resource, how) for each target and dead-letter queue of each EventBridge rule."""
        for rule_id, rule in self.t.of_type("AWS::Events::Rule").items():
            for target in _as_list(rule.get("Properties", {}).get("Targets")):
                if not isinstance(target, dict):
                    continue
                for ref in _references(target.get("Arn")):
                    yield rule_id, ref, "sends events to"
                for ref in _references((target.get("DeadLetterConfig") or {}).get("Arn")):
                    yield rule_id, ref, "uses as its dead-letter queue"

    def _sqs_subscriptions(self) -> Iterator[tuple[str, str]]:
        for sub in self.t.of_type("AWS::SNS::Subscription").values():
            props = sub.get("Properties", {})
            if _resolve(self.t, props.get("Protocol")) == "sqs":
                for topic in (r for r in _references(props.get("TopicArn")) if r in self.t.resources):
                    for queue in _references(props.get("Endpoint")):
                        yield topic, queue
        for topic_id, resource in self.t.of_type("AWS::SNS::Topic").items():
            for inline in _as_list(resource.get("Properties", {}).get("Subscription")):
                if isinstance(inline, dict) and _resolve(self.t, inline.get("Protocol")) == "sqs":
                    for queue in _references(inline.get("Endpoint")):
                        yield topic_id, queue

    def _bucket_notifications(self, kind: str) -> Iterator[tuple[str, str]]:
        """(bucket, destination) from a bucket's notifications and CDK's notification resource."""
        sources = [(b, r.get("Properties", {})) for b, r in self.t.of_type("AWS::S3::Bucket").items()]
        for custom in self.t.of_type("Custom::S3BucketNotifications").values():
            props = custom.get("Properties", {})
            sources += [(b, props) for b in _references(props.get("BucketName"))]
        for bucket, props in sources:
            for entry in _as_list((props.get("NotificationConfiguration") or {}).get(kind)):
                for ref in _references(entry):
                    yield bucket, ref

    def _s3_context(self, bucket: str) -> dict[str, tuple[str, ...]]:
        context = self.account_context()
        if bucket in self.t.resources and "BucketName" in self.t.resources[bucket].get("Properties", {}):
            context["aws:sourcearn"] = (self.t.get_att(bucket, "Arn"),)
        return context

    # -- the key policy --------------------------------------------------------------------------

    def policy(self, key: str) -> list[_Statement] | None:
        """The key's policy statements; None when the policy cannot be read (then it is not checked)."""
        if key not in self._policies:
            self._policies[key] = self._read_policy(key)
        return self._policies[key]

    def _read_policy(self, key: str) -> list[_Statement] | None:
        policy = self.keys[key].get("Properties", {}).get("KeyPolicy")
        if policy is None:
            # No KeyPolicy: KMS attaches the default policy, which delegates the key to IAM.
            return [_Statement("default key policy", True, {"AWS": [ROOT]}, ["kms:*"], None, None)]
        if isinstance(policy, str):
            try:
                policy = json.loads(policy)
            except ValueError:
                return None
        if not isinstance(policy, dict):
            return None
        raws = _as_list(policy.get("Statement"))
        return [s for i, raw in enumerate(raws) if (s := _statement(self.t, raw, i)) is not None]

    def _refusals(self, use: _Use) -> Iterator[str]:
        statements = self.policy(use.key)
        if statements is None:
            return
        role = self.roles.get(use.principal.role or "")
        iam: Callable[[str], bool] = (lambda a: self.iam_allows(role, use.key, a)) if role else (lambda a: False)
        evaluation = _Evaluation(statements, use.principal, use.context, self.roots)
        head = f"key {self.label(use.key)}: {use.principal.name} needs"
        for action in use.actions:
            sid = evaluation.denying(action)
            if sid is not None:
                yield f"{head} {action} ({use.reason}) but key-policy statement {sid} denies it; see {use.doc}"
        missing = [a for a in use.actions if not evaluation.allowed(a, iam)]
        if missing:
            yield f"{head} {', '.join(missing)} ({use.reason}) but {self._why(evaluation, missing)}; see {use.doc}"

    def _why(self, evaluation: _Evaluation, missing: list[str]) -> str:
        if evaluation.principal.role is None:
            return "the key policy does not allow it"
        if any(evaluation.allowed(a, lambda _: True) for a in missing):
            return "its IAM policies do not grant that on the key, and the key policy does not name the role"
        root = f"arn:aws:iam::{self.accounts[-1]}:root"
        return f"the key policy neither names the role nor delegates that to IAM ({root})"

    # -- S3 server access logs ---------------------------------------------------------------------

    def _access_log_targets(self) -> Iterator[str]:
        buckets = self.t.of_type("AWS::S3::Bucket")
        by_name: dict[str, str] = {}
        for logical_id, bucket in buckets.items():
            if isinstance(name := bucket.get("Properties", {}).get("BucketName"), str):
                by_name[name] = logical_id
        for source, resource in buckets.items():
            target_value = (resource.get("Properties", {}).get("LoggingConfiguration") or {}).get(
                "DestinationBucketName"
            )
            targets = [r for r in _references(target_value) if r in buckets]
            targets += [by_name[n] for n in _literals(target_value) if n in by_name]
            for target in dict.fromkeys(targets):
                yield from self._kms_log_target(source, target, buckets[target])

    def _kms_log_target(self, source: str, target: str, bucket: dict[str, Any]) -> Iterator[str]:
        for rule in _sse_rules(bucket):
            if str(_resolve(self.t, rule.get("SSEAlgorithm"))).startswith("aws:kms"):
                keys = self.keys_in(rule.get("KMSMasterKeyID"))
                where = f"key {self.label(keys[0])}: " if keys else ""
                yield (
                    f"{where}bucket {source} sends its server access logs to bucket {target}, which is encrypted "
                    f"with SSE-KMS; S3 does not deliver server access logs to such a bucket (use SSE-S3); "
                    f"see {_ACCESS_LOG_DOC}"
                )
                return


# -- evaluation ----------------------------------------------------------------------------------


@dataclass
class _Evaluation:
    """A key policy evaluated for one caller: its statements, the caller, its condition keys, the account."""

    statements: list[_Statement]
    principal: _Principal
    context: dict[str, tuple[str, ...]]
    roots: frozenset[str]

    def allowed(self, action: str, iam: Callable[[str], bool]) -> bool:
        """Whether an Allow statement lets the caller do `action`, or every key action it stands for.

        `iam` says whether the caller's IAM policies allow an action: a statement that names the
        account delegates to them.
        """
        if self._allowed_one(action.lower(), iam):
            return True
        expanded = [a for a in _KEY_ACTIONS if _glob(a, action.lower())]
        return bool(expanded) and all(self._allowed_one(a, iam) for a in expanded)

    def _allowed_one(self, action: str, iam: Callable[[str], bool]) -> bool:
        for statement in self.statements:
            if not statement.allow or not statement.allows_action(action):
                continue
            if _conditions(statement.conditions, self.context) is False:
                continue
            how = statement.matches(self.principal, self.roots)
            if how & {_DIRECT, _UNKNOWN} or (_ROOT in how and iam(action)):
                return True
        return False

    def denying(self, action: str) -> str | None:
        """The Sid of a Deny statement that surely applies to the caller doing `action`, if any."""
        for statement in self.statements:
            if statement.allow or not statement.denies_action(action.lower()):
                continue
            how = statement.matches(self.principal, self.roots)
            if how & {_DIRECT, _ROOT} and _conditions(statement.conditions, self.context) is True:
                return statement.sid
        return None


def _principal_match(kind: str, value: str | None, principal: _Principal, roots: frozenset[str]) -> set[str]:
    if value is None:
        return {_UNKNOWN}
    if value == "*":
        return {_DIRECT}
    if kind == "AWS" and principal.role is not None:
        if value in roots:
            return {_ROOT}
        return {_DIRECT} if value in principal.names else set()
    if kind == "Service" and principal.role is None:
        return {_DIRECT} if value.lower() in principal.names else set()
    return set()


# -- reading statements and references --------------------------------------------------------------


def _statement(template: Template, raw: Any, index: int) -> _Statement | None:
    if not isinstance(raw, dict):
        return None
    allow = raw.get("Effect") == "Allow"
    sid = raw["Sid"] if isinstance(raw.get("Sid"), str) else f"#{index + 1}"
    principal: Any = None  # NotPrincipal: matches no one, so it neither allows nor denies
    if raw.get("Principal") == "*":
        principal = "*"
    elif isinstance(raw.get("Principal"), dict):
        principal = {k: _strings(template, v) for k, v in raw["Principal"].items()}
    # An action that cannot be resolved allows (we cannot show it does not) and never denies.
    unknown = ["*"] if allow else []
    actions = [a for v in _strings(template, raw.get("Action")) for a in ([v.lower()] if v else unknown)]
    not_actions = [v.lower() for v in _strings(template, raw["NotAction"]) if v] if "NotAction" in raw else None
    conditions = _resolve(template, raw.get("Condition")) if raw.get("Condition") else None
    if raw.get("Condition") and conditions is None:
        conditions = "unresolved"  # evaluates to unknown
    return _Statement(sid, allow, principal, actions, not_actions, conditions)


def _statements_of(source: str, props: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    document = props.get("PolicyDocument")
    if not isinstance(document, dict):
        return []
    return [(source, s) for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _actions(template: Template, value: Any) -> list[str]:
    return [a.lower() for a in _strings(template, value) if a]


def _sse_rules(bucket: dict[str, Any]) -> list[dict[str, Any]]:
    encryption = bucket.get("Properties", {}).get("BucketEncryption") or {}
    rules = _as_list(encryption.get("ServerSideEncryptionConfiguration"))
    return [
        r["ServerSideEncryptionByDefault"]
        for r in rules
        if isinstance(r, dict) and r.get("ServerSideEncryptionByDefault")
    ]


def _references(value: Any) -> list[str]:
    """Logical ids `value` names through Ref, Fn::GetAtt or Fn::Sub, in order."""
    found: list[str] = []
    if isinstance(value, list):
        for item in value:
            found += _references(item)
    elif isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.append(value["Ref"])
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
            found.append(attribute[0])
        elif isinstance(attribute, str):
            found.append(attribute.split(".", 1)[0])
        sub = value.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            found += [m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text)]
        for key, item in value.items():
            if key not in ("Ref", "Fn::GetAtt"):
                found += _references(item)
    return list(dict.fromkeys(found))


def _literals(value: Any) -> list[str]:
    """The plain strings in `value` (not those inside Ref or GetAtt)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _literals(item)]
    if isinstance(value, dict):
        return [s for k, item in value.items() if k not in ("Ref", "Fn::GetAtt") for s in _literals(item)]
    return []


def _environment(template: Template, keys: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The template's accounts and regions: run-local's, and the stack's own `env` if it has one.

    The manifest beside the template says the stack's environment. A template without one gets
    the accounts its key policies delegate to (`arn:aws:iam::<account>:root`, as CDK writes the
    key's own account when the stack has an `env`): a guess that can only let more through.
    """
    accounts, regions = [ACCOUNT], [REGION]
    env = _manifest_environment(template)
    if env is None:
        accounts += re.findall(r":iam::(\d{12}):root", json.dumps([k.get("Properties") for k in keys.values()]))
    else:
        account, _, region = env.removeprefix("aws://").partition("/")
        accounts += [account] if account.isdigit() else []
        regions += [region] if region and not region.startswith("unknown-") else []
    return list(dict.fromkeys(accounts)), list(dict.fromkeys(regions))


def _manifest_environment(template: Template) -> str | None:
    """`aws://<account>/<region>` of the template's stack, from the manifest beside it; None without one."""
    try:
        manifest = json.loads((template.path.parent / "manifest.json").read_text(encoding="utf-8"))
        artifacts = list((manifest.get("artifacts") or {}).values())
    except (OSError, ValueError, AttributeError):
        return None
    for artifact in artifacts:
        if isinstance(artifact, dict) and (artifact.get("properties") or {}).get("templateFile") == template.path.name:
            return str(artifact.get("environment", ""))
    return None


def _braces(text: str) -> str:
    """`text` escaped for `str.format`."""
    return text.replace("{", "{{").replace("}", "}}")


def _resolve(template: Template, value: Any) -> Any:
    """`template.resolve(value)`, or None when it cannot be resolved locally (a parameter, a condition)."""
    try:
        return template.resolve(value)
    except (TemplateError, LookupError, TypeError, ValueError, AttributeError):
        return None


def _strings(template: Template, value: Any) -> list[str | None]:
    """Each item of a string-or-list value, resolved; None for an item that is not a string."""
    out: list[str | None] = []
    for item in _as_list(value):
        resolved = _resolve(template, item)
        for r in resolved if isinstance(resolved, list) else [resolved]:
            out.append(r if isinstance(r, str) else None)
    return out


@functools.lru_cache(maxsize=4096)
def _overlap(first: str, second: str) -> bool:
    """Whether two action patterns may stand for a common action (either matches the other)."""
    return _glob(first, second) or _glob(second, first)
