"""The template's IAM roles made real in moto: each with its policies and STS credentials of its own.

Functions sign their calls with their execution role's credentials and state machines with
theirs (see `calls.py`), so moto's IAM authentication (`moto.core.enable_iam_authentication`)
sees the principal AWS would see. The runner itself signs as an operator user allowed
everything, standing in for the person who runs the pipeline's tests.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

from botocore.credentials import Credentials
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from .calls import Principal, acting_as, for_execution
from .template import Template

#: The moto method wrapped here (an execution's thread); tests/constructs/local/test_moto_hooks.py checks it.
EXECUTION_HOOK = (ExecutionWorker, "_execution_logic")

#: The user the runner's own calls (uploads, reads of the ledger) are signed as.
OPERATOR = "etl-constructs-local-operator"
_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def operator(iam: Any) -> Principal:
    """Create the operator user with an access key; return it as a principal."""
    user = iam.create_user(UserName=OPERATOR)["User"]
    iam.put_user_policy(UserName=OPERATOR, PolicyName="everything", PolicyDocument=json.dumps(_ALLOW_ALL))
    key = iam.create_access_key(UserName=OPERATOR)["AccessKey"]
    credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    return Principal(arn=user["Arn"], role_arn="", credentials=credentials, label="run-local")


def attach_policies(template: Template, iam: Any) -> dict[str, str]:
    """Give every `AWS::IAM::Role` of the template (created by `emulator.build`) its policies; return ARN -> name.

    A role's policies are its own `Policies`, the `AWS::IAM::Policy` resources that name it, the
    `AWS::IAM::ManagedPolicy` resources that name it or that its `ManagedPolicyArns` refer to, and
    the AWS managed policies of `ManagedPolicyArns` (as far as moto knows them). A value the
    template imports from another stack stays a placeholder that matches nothing.
    """
    managed = _create_managed_policies(template, iam)
    roles: dict[str, str] = {}
    names: dict[str, str] = {}
    for logical_id, resource in template.of_type("AWS::IAM::Role").items():
        props = _importless(template.resolve(resource.get("Properties", {})))
        name = template.names[logical_id]
        roles[iam.get_role(RoleName=name)["Role"]["Arn"]] = name
        names[template.ref(logical_id)] = name
        for policy in props.get("Policies", []):
            _put(iam, name, policy["PolicyName"], policy["PolicyDocument"])
        for policy_arn in props.get("ManagedPolicyArns", []):
            _attach_managed(iam, name, str(policy_arn))
    for logical_id, resource in template.of_type("AWS::IAM::Policy").items():
        props = _importless(template.resolve(resource.get("Properties", {})))
        for role in _role_names(props.get("Roles", []), names):
            _put(iam, role, props.get("PolicyName") or logical_id, props["PolicyDocument"])
    for policy_arn, role_refs in managed.items():
        for role in _role_names(role_refs, names):
            _attach_managed(iam, role, policy_arn)
    return roles


def _create_managed_policies(template: Template, iam: Any) -> dict[str, list[Any]]:
    """Create each `AWS::IAM::ManagedPolicy`; return its ARN -> the roles it names."""
    created: dict[str, list[Any]] = {}
    for logical_id, resource in template.of_type("AWS::IAM::ManagedPolicy").items():
        props = _importless(template.resolve(resource.get("Properties", {})))
        name = template.names[logical_id]
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(props["PolicyDocument"]))["Policy"]["Arn"]
        created[arn] = list(props.get("Roles", []))
    return created


def _importless(value: Any) -> Any:
    """`value` with what is left unresolved (an `Fn::ImportValue` of another stack) made a placeholder string."""
    if isinstance(value, list):
        return [_importless(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith("Fn::"):
            ((function, argument),) = value.items()
            return f"arn:aws:imported:::{function}:{json.dumps(argument, sort_keys=True)}"
        return {k: _importless(v) for k, v in value.items()}
    return value


def assume(sts: Any, role_arn: str, session: str, label: str) -> Principal:
    """STS credentials for `role_arn`, as the service that runs the code would get them."""
    assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName=session[:64])
    keys = assumed["Credentials"]
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    return Principal(arn=assumed["AssumedRoleUser"]["Arn"], role_arn=role_arn, credentials=credentials, label=label)


def _role_names(refs: Iterable[Any], names: dict[str, str]) -> list[str]:
    # A policy names its roles by Ref (resolved to the role's name) or by a literal name.
    return [names.get(str(ref), str(ref)) for ref in refs]


def _put(iam: Any, role: str, name: str, document: dict[str, Any]) -> None:
    iam.put_role_policy(RoleName=role, PolicyName=str(name)[:128], PolicyDocument=json.dumps(document))


def _attach_managed(iam: Any, role: str, arn: str) -> None:
    # An AWS managed policy moto does not hold: the role runs without it, and is refused accordingly.
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)


@contextmanager
def executions_as_their_roles(roles: Mapping[str, Principal]) -> Iterator[None]:
    """While open, a state machine's execution signs its service integrations' calls as its role."""
    owner, name = EXECUTION_HOOK
    run = getattr(owner, name)

    def as_role(worker: Any) -> None:
        details = worker._evaluation_details.execution_details
        with acting_as(roles.get(details.role_arn)), for_execution(details.arn):
            run(worker)

    with mock.patch.object(owner, name, as_role):
        yield
