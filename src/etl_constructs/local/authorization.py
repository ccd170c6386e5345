"""IAM authorization as AWS decides it, for the calls the pipeline makes.

moto's IAM authentication checks a request's signature and finds the caller's policies, but it
authorizes every non-S3 request against the resource `*`, so a policy that names its table or
function never matches, and it denies any statement with a condition it cannot evaluate. Here
each call is authorized against the resource AWS would check (`required`), with the policies of
the principal that signed it (`evaluate`), and a refusal carries AWS's own message:
"User: <arn> is not authorized to perform: <action> on resource: <arn> because no
identity-based policy allows the <action> action" (see
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).

What it does not model: resource-based policies (a bucket policy, a key policy: those are
checked before any file runs, in `key_check.py`), service control policies, permission
boundaries, session policies, and condition keys it cannot know locally: a condition run-local
cannot evaluate counts as met.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from moto.core.exceptions import JsonRESTError
from moto.iam.access_control import IAMRequestBase
from moto.s3.exceptions import S3ClientError

from .calls import Call, current_call
from .policy_language import as_list, conditions_met, glob
from .template import ACCOUNT, REGION

#: The moto method replaced here; tests/constructs/local/test_moto_hooks.py checks it exists.
AUTHORIZE_HOOK = (IAMRequestBase, "check_action_permitted")


@dataclass(frozen=True)
class Permission:
    """One action on one resource that a call needs."""

    action: str
    resource: str


class Denied(Exception):
    """A principal's policies do not allow a permission a call needs."""

    def __init__(self, principal: str, permission: Permission, explicit: bool, execution: str | None = None) -> None:
        why = (
            "with an explicit deny in an identity-based policy"
            if explicit
            else f"because no identity-based policy allows the {permission.action} action"
        )
        super().__init__(
            f"User: {principal} is not authorized to perform: {permission.action} "
            f"on resource: {permission.resource} {why}"
        )
        self.principal = principal
        self.permission = permission
        #: The execution the refused call was made for, if any.
        self.execution = execution


# ---------------------------------------------------------------- what a call needs


def required(call: Call, kms_keys: Mapping[str, str] | None = None) -> list[Permission]:
    """The permissions AWS checks for `call`; `kms_keys` maps a bucket or table name to its KMS key ARN.

    Reading an object encrypted with a customer key also needs `kms:Decrypt` on the key, and
    writing one `kms:GenerateDataKey`
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#require-sse-kms).
    """
    keys = kms_keys or {}
    builder = _BUILDERS.get(call.service, _generic)
    permissions = builder(call)
    for permission in list(permissions):
        for action in _kms_actions(permission.action, call.operation):
            key = keys.get(_resource_name(permission.resource))
            if key:
                permissions.append(Permission(action, key))
    return permissions


def _generic(call: Call) -> list[Permission]:
    return [Permission(f"{call.service}:{call.operation}", "*")]


def _table(name: str, index: str | None = None) -> str:
    if name.startswith("arn:"):
        return name
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def _dynamodb(call: Call) -> list[Permission]:
    params = call.params
    if call.operation == "TransactWriteItems":
        needed: list[Permission] = []
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        for item in params.get("TransactItems", []):
            for kind, request in item.items():
                needed.append(Permission(f"dynamodb:{kinds.get(kind, kind)}", _table(request["TableName"])))
        return needed
    if call.operation in ("BatchWriteItem", "BatchGetItem"):
        return [Permission(f"dynamodb:{call.operation}", _table(t)) for t in params.get("RequestItems", {})]
    if "TableName" in params:
        return [Permission(f"dynamodb:{call.operation}", _table(params["TableName"], params.get("IndexName")))]
    return _generic(call)


def _function(name: str, qualifier: str | None) -> str:
    if name.startswith("arn:"):
        return name
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _lambda(call: Call) -> list[Permission]:
    if call.operation in ("Invoke", "InvokeAsync"):
        fn = _function(str(call.params.get("FunctionName", "")), call.params.get("Qualifier"))
        return [Permission("lambda:InvokeFunction", fn)]
    return _generic(call)


_S3_OBJECT_ACTIONS = {
    "GetObject": "GetObject",
    "HeadObject": "GetObject",
    "PutObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "DeleteObject": "DeleteObject",
    "GetObjectTagging": "GetObjectTagging",
    "PutObjectTagging": "PutObjectTagging",
    "GetObjectAcl": "GetObjectAcl",
    "PutObjectAcl": "PutObjectAcl",
    "ListParts": "ListMultipartUploadParts",
}
#: Object actions with a version-specific form, used when the request names a version
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html).
_VERSIONED = {"GetObject", "DeleteObject", "GetObjectTagging", "PutObjectTagging", "GetObjectAcl", "PutObjectAcl"}
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
}


def _s3(call: Call) -> list[Permission]:
    params, operation = call.params, call.operation
    bucket = str(params.get("Bucket", "*"))
    if operation in ("CopyObject", "UploadPartCopy"):  # IAM knows no UploadPartCopy: a part copy is a copy
        source = params.get("CopySource") or {}
        if isinstance(source, str):
            path, _, query = source.partition("?versionId=")
            source = {"Bucket": path.lstrip("/").split("/", 1)[0], "Key": path.lstrip("/").split("/", 1)[1]}
            if query:
                source["VersionId"] = query
        read = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
        return [
            Permission(read, f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"),
            Permission("s3:PutObject", f"arn:aws:s3:::{bucket}/{params.get('Key', '')}"),
        ]
    if operation == "DeleteObjects":
        objects = params.get("Delete", {}).get("Objects", [])
        return [
            Permission(
                "s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject",
                f"arn:aws:s3:::{bucket}/{o['Key']}",
            )
            for o in objects
        ]
    if operation in _S3_OBJECT_ACTIONS:
        action = _S3_OBJECT_ACTIONS[operation]
        if action in _VERSIONED and params.get("VersionId"):
            action = action.replace("Object", "ObjectVersion", 1)
        return [Permission(f"s3:{action}", f"arn:aws:s3:::{bucket}/{params.get('Key', '')}")]
    if operation in _S3_BUCKET_ACTIONS:
        return [Permission(f"s3:{_S3_BUCKET_ACTIONS[operation]}", f"arn:aws:s3:::{bucket}")]
    return [Permission(f"s3:{operation}", f"arn:aws:s3:::{bucket}")]


def _states(call: Call) -> list[Permission]:
    arn = call.params.get("stateMachineArn") or call.params.get("executionArn")
    return [Permission(f"states:{call.operation}", str(arn))] if arn else _generic(call)


def _sqs(call: Call) -> list[Permission]:
    url = str(call.params.get("QueueUrl", ""))
    if not url:
        return _generic(call)
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return [Permission(f"sqs:{call.operation}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")]


_BUILDERS = {"dynamodb": _dynamodb, "lambda": _lambda, "s3": _s3, "states": _states, "sqs": _sqs}


#: A multipart upload to an SSE-KMS bucket also decrypts its parts to complete
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
_MULTIPART = frozenset({"UploadPart", "UploadPartCopy", "CompleteMultipartUpload"})


def _kms_actions(action: str, operation: str) -> tuple[str, ...]:
    if operation == "HeadObject":  # metadata only: nothing is decrypted
        return ()
    if action in ("s3:GetObject", "s3:GetObjectVersion"):
        return ("kms:Decrypt",)
    if action == "s3:PutObject":
        return ("kms:GenerateDataKey", "kms:Decrypt") if operation in _MULTIPART else ("kms:GenerateDataKey",)
    return ()


def _resource_name(arn: str) -> str:
    if arn.startswith("arn:aws:s3:::"):
        return arn.removeprefix("arn:aws:s3:::").split("/", 1)[0]
    return arn


# ---------------------------------------------------------------- evaluation


#: Condition keys whose value run-local knows for every request (the SDK calls AWS over TLS).
KNOWN_CONTEXT = {"aws:securetransport": "true", "aws:requestedregion": REGION, "aws:principalaccount": ACCOUNT}


def evaluate(documents: list[dict[str, Any]], permission: Permission, principal: str | None = None) -> str:
    """`"allow"`, `"deny"` (an explicit deny) or `"none"` (no statement allows), as IAM decides.

    Conditions on the keys run-local knows (`KNOWN_CONTEXT`, and `aws:PrincipalArn`) are evaluated
    with the usual string, ARN and Bool operators. A condition it cannot evaluate lets an Allow
    apply and keeps a Deny from applying: run-local never refuses what AWS might allow.
    """
    allowed = False
    known = {**KNOWN_CONTEXT, **({"aws:principalarn": principal} if principal else {})}
    context = {key: (value,) for key, value in known.items()}
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if not _applies(statement, permission):
                continue
            deny = statement.get("Effect") == "Deny"
            met = conditions_met(statement.get("Condition"), context)
            if deny and met is True:
                return "deny"
            if not deny and met is not False:
                allowed = True
    return "allow" if allowed else "none"


def _applies(statement: dict[str, Any], permission: Permission) -> bool:
    if "Action" in statement and not _any_match(statement["Action"], permission.action, fold=True):
        return False
    if "NotAction" in statement and _any_match(statement["NotAction"], permission.action, fold=True):
        return False
    if "Resource" in statement and not _any_match(statement["Resource"], permission.resource, fold=False):
        return False
    return not ("NotResource" in statement and _any_match(statement["NotResource"], permission.resource, fold=False))


def _any_match(patterns: Any, value: str, fold: bool) -> bool:
    # Actions are case-insensitive, ARNs are not.
    if fold:
        return any(glob(value.lower(), str(p).lower()) for p in as_list(patterns))
    return any(glob(value, str(p)) for p in as_list(patterns))


# ---------------------------------------------------------------- moto's hook


def with_key_policy(decision: str, policy: dict[str, Any], principal: str, action: str) -> str:
    """The decision once the key policy's statements that name this role are counted."""
    role = principal.split(":assumed-role/", 1)[-1].split("/", 1)[0]
    for statement in _statements(policy):
        named = statement.get("Principal", {})
        arns = named.get("AWS", []) if isinstance(named, dict) else []
        arns = arns if isinstance(arns, list) else [arns]
        if not any(str(a).endswith(f":role/{role}") or str(a).endswith(f"/{role}") for a in arns):
            continue
        if not _any_match(statement.get("Action", []), action, fold=True):
            continue
        if statement.get("Effect") == "Deny":
            return "deny"
        if decision == "none":
            decision = "allow"
    return decision


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _documents(policies: list[Any]) -> list[dict[str, Any]]:
    from moto.iam.access_control import IAMPolicy

    documents: list[dict[str, Any]] = [IAMPolicy(p)._policy_json for p in policies]
    return documents


def _refusal(service: str, denied: Denied) -> Exception:
    if service == "s3":
        return S3ClientError("AccessDenied", str(denied))
    error = JsonRESTError("AccessDeniedException", str(denied))
    error.code = 403 if service == "lambda" else 400
    return error


@contextmanager
def authorized_calls(
    kms_keys: Mapping[str, str] | None = None, key_policies: Mapping[str, dict[str, Any]] | None = None
) -> Iterator[list[Denied]]:
    """While open, moto authorizes each call as AWS would; the refusals are collected in the list yielded.

    `kms_keys` maps a bucket to its KMS key's ARN; `key_policies` a key's ARN to its key policy. A key
    policy that names the role itself allows (or denies) a key action whatever the role's IAM policies
    say; one that delegates to the account leaves it to them
    (https://docs.aws.amazon.com/kms/latest/developerguide/determining-access-key-policy.html).
    """
    refusals: list[Denied] = []
    policies = key_policies or {}

    def check(request: IAMRequestBase, resource: str) -> None:
        call = current_call()
        principal = request._access_key.arn
        if call is None:  # a request made without an SDK client: moto's own action and resource
            service, _, operation = request._action.partition(":")
            call = Call(service, operation, {}, None)
            needed = [Permission(request._action, resource)]
        else:
            needed = required(call, kms_keys)
        documents = _documents(request._access_key.collect_policies())
        for permission in needed:
            decision = evaluate(documents, permission, principal)
            key_policy = policies.get(permission.resource) if permission.action.startswith("kms:") else None
            if key_policy is not None:
                decision = with_key_policy(decision, key_policy, principal, permission.action)
            if decision != "allow":
                denied = Denied(principal, permission, explicit=decision == "deny", execution=call.execution)
                refusals.append(denied)
                raise _refusal(call.service, denied)

    with mock.patch.object(*AUTHORIZE_HOOK, check):
        yield refusals
