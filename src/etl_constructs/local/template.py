"""A synthesized template read back: resources by type, intrinsic functions resolved to local names."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
_PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "local",
    "AWS::NoValue": None,
}


_ENVIRONMENT = re.compile(r"aws://(\d{12})/([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d)")
_ARN_ENVIRONMENT = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):(\d{12}):")


def deployment_environment(path: Path) -> tuple[str, str] | None:
    """The (account, region) a template was synthesized for: its stack's `env` in the cloud assembly
    beside it, or the one its ARNs name most; None for an environment-agnostic template."""
    from .assembly import stack_of_template

    artifact = stack_of_template(path)
    if artifact is not None:
        found = _ENVIRONMENT.fullmatch(str(artifact.artifact.get("environment", "")))
        return (found.group(1), found.group(2)) if found else None
    try:
        pairs = _ARN_ENVIRONMENT.findall(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    named = [(account, region) for region, account in pairs if account != ACCOUNT]
    return max(set(named), key=named.count) if named else None


def localized(text: str, environment: tuple[str, str] | None) -> str:
    """A template's text with the account, region and partition it was synthesized for replaced by the
    emulation's (`ACCOUNT`, `REGION`, `aws`), so the ARNs its policies name are the emulated resources'."""
    if environment is None:
        return text
    account, region = environment
    text = re.sub(r"arn:aws-[a-z-]+:", "arn:aws:", text).replace("amazonaws.com.cn", "amazonaws.com")
    for old, new in (
        (f":{region}:{account}:", f":{REGION}:{ACCOUNT}:"),
        (f"::{account}:", f"::{ACCOUNT}:"),
        (f'"{account}"', f'"{ACCOUNT}"'),
        (f".{region}.", f".{REGION}."),
        (f'"{region}"', f'"{REGION}"'),
        (f"-{account}-{region}", f"-{ACCOUNT}-{REGION}"),
    ):
        text = text.replace(old, new)
    return text


class TemplateError(Exception):
    """The template cannot be run locally: it lacks the pipeline or a part of it."""


class SelectionError(TemplateError):
    """Several stacks or pipelines could run and none was picked, or the one named is not there.

    `choices` are the names to pick from; the message lists them, one a line.
    """

    def __init__(self, message: str, choices: Sequence[str]) -> None:
        self.choices = list(choices)
        super().__init__("\n".join([message, *(f"  {choice}" for choice in self.choices)]))


def _local_name(logical_id: str) -> str:
    """`local-<logical id>`, at most 63 characters (a bucket's limit, under IAM's and Lambda's 64).

    A longer id keeps its head and gets a digest of the whole instead of its tail: cutting it
    would drop the hash CDK ends it with, and two resources of one construct would share a name.
    """
    name = f"local-{logical_id}"
    if len(name) <= 63:
        return name
    return name[:54] + "-" + hashlib.sha256(logical_id.encode()).hexdigest()[:8]


@dataclass
class Template:
    """A CloudFormation template and the folder of its cloud assembly (where assets are)."""

    path: Path
    body: dict[str, Any]
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Template:
        """Read a template file; raise TemplateError when it is not a template."""
        try:
            body = json.loads(localized(path.read_text(encoding="utf-8"), deployment_environment(path)))
        except (OSError, ValueError) as exc:
            raise TemplateError(f"cannot read template {path}: {exc}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("Resources"), dict):
            raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
        return cls.from_body(path, body)

    @classmethod
    def from_body(cls, path: Path, body: dict[str, Any]) -> Template:
        """A template already read (from CloudFormation, say); `path` names it in messages."""
        template = cls(path=path, body=body)
        template._name_resources()
        return template

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """Logical id -> resource."""
        resources: dict[str, dict[str, Any]] = self.body["Resources"]
        return resources

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """The resources of one CloudFormation type."""
        return {k: r for k, r in self.resources.items() if r.get("Type") == kind}

    def _name_resources(self) -> None:
        for logical_id, resource in self.resources.items():
            props = resource.get("Properties", {})
            explicit = next(
                (
                    props[p]
                    for p in ("BucketName", "TableName", "FunctionName", "StateMachineName", "QueueName", "RoleName")
                    if isinstance(props.get(p), str)
                ),
                None,
            )
            base = explicit or _local_name(logical_id)
            if resource.get("Type") == "AWS::S3::Bucket":
                base = re.sub(r"[^a-z0-9-]", "-", base.lower())[:63]
            self.names[logical_id] = base[:64]

    def ref(self, logical_id: str) -> str:
        """What `Ref` gives for a resource."""
        if logical_id in _PSEUDO:
            return str(_PSEUDO[logical_id])
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Ref to unknown resource {logical_id}")
        name = self.names[logical_id]
        kind = resource["Type"]
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{ACCOUNT}:policy/{name}"
        return name

    def get_att(self, logical_id: str, attribute: str) -> str:
        """What `Fn::GetAtt` gives for the attributes the pipeline uses."""
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"GetAtt of unknown resource {logical_id}")
        name = self.names[logical_id]
        kind = resource["Type"]
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role{self.role_path(logical_id)}{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
            "AWS::Events::Rule": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute in ("Name", "QueueName"):
            return name
        if attribute == "RegionalDomainName":
            return f"{name}.s3.{REGION}.amazonaws.com"
        return f"{name}.{attribute}"

    def role_path(self, logical_id: str) -> str:
        """A role's `Path` ("/" unless the template gives one): IAM puts it into the role's ARN."""
        path = self.resolve(self.resources[logical_id].get("Properties", {}).get("Path", "/"))
        return path if isinstance(path, str) and path.startswith("/") and path.endswith("/") else "/"

    def resolve(self, value: Any) -> Any:
        """`value` with Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::Split replaced."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(p) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), extra), text)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, name: str, extra: dict[str, Any]) -> str:
        if name in extra:
            return str(extra[name])
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)
        return self.ref(name)

    def asset_dir(self, logical_id: str) -> Path:
        """The folder of a function's code asset in the cloud assembly beside the template."""
        resource = self.resources[logical_id]
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        if not asset:
            key = str(self.resolve(resource["Properties"].get("Code", {}).get("S3Key", "")))
            asset = self._asset_sources().get(key.rsplit("/", 1)[-1].removesuffix(".zip"))
        if not asset:
            raise TemplateError(f"function {logical_id} has no code asset beside {self.path}")
        folder = (self.path.parent / str(asset)).resolve()
        if not folder.is_dir():
            raise TemplateError(f"the asset folder {folder} of {logical_id} is missing beside the template")
        return folder

    def _asset_sources(self) -> dict[str, str]:
        manifest = self.path.with_name(self.path.name.replace(".template.json", ".assets.json"))
        try:
            files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        except (OSError, ValueError):
            return {}
        return {h: f["source"]["path"] for h, f in files.items() if f.get("source", {}).get("path")}
