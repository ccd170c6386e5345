"""A cloud assembly (`cdk.out`) read back: its stacks, the template of the one picked, construct paths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .template import SelectionError, Template, TemplateError

_MANIFEST = "manifest.json"
_STACK = "aws:cloudformation:stack"
_NESTED = "cdk:cloud-assembly"
_LOGICAL_ID = "aws:cdk:logicalId"


@dataclass(frozen=True)
class StackArtifact:
    """A stack of a cloud assembly: its artifact id, its construct path (display name) and its template."""

    artifact_id: str
    display_name: str
    stack_name: str
    template: Path
    artifact: dict[str, Any]

    @property
    def label(self) -> str:
        """How a choice is listed: the display name, with the artifact id when it differs."""
        if self.display_name == self.artifact_id:
            return self.artifact_id
        return f"{self.display_name} ({self.artifact_id})"

    def answers_to(self, name: str) -> bool:
        """True when `name` is this stack's artifact id, display name or CloudFormation stack name."""
        return name in (self.artifact_id, self.display_name, self.stack_name)


def resolve_template(path: Path, stack: str | None = None) -> Path:
    """The template to run: `path` itself (a template file) or a stack's template of a cloud assembly folder.

    A folder with one stack gives that stack's template; with several, `stack` (artifact id,
    display name or stack name) picks one, and SelectionError lists the choices when it is missing
    or unknown. A file given with a `stack` it is not is refused too.
    """
    path = Path(path)
    if path.name == _MANIFEST and path.is_file():
        path = path.parent  # the assembly's manifest stands for its folder
    if path.is_dir():
        return _pick(path, read_stacks(path), stack).template
    if not path.is_file():
        raise TemplateError(f"no template or cloud assembly at {path}")
    if stack is not None:
        _check_file_is(path, stack)
    return path


def read_stacks(folder: Path) -> list[StackArtifact]:
    """The stacks of the cloud assembly in `folder`, nested assemblies (stages) included, in manifest order."""
    manifest = _read_json(folder / _MANIFEST)
    if manifest is None:
        raise TemplateError(f"{folder} is a folder but not a cloud assembly (no readable {_MANIFEST})")
    found: list[StackArtifact] = []
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        if not isinstance(artifact, dict):
            continue
        properties = artifact.get("properties") or {}
        if artifact.get("type") == _STACK and properties.get("templateFile"):
            found.append(
                StackArtifact(
                    artifact_id=artifact_id,
                    display_name=str(artifact.get("displayName") or artifact_id),
                    stack_name=str(properties.get("stackName") or artifact_id),
                    template=folder / properties["templateFile"],
                    artifact=artifact,
                )
            )
        elif artifact.get("type") == _NESTED and properties.get("directoryName"):
            nested = folder / properties["directoryName"]
            if (nested / _MANIFEST).is_file():
                found.extend(read_stacks(nested))
    return found


def _pick(folder: Path, stacks: list[StackArtifact], stack: str | None) -> StackArtifact:
    if not stacks:
        raise TemplateError(f"the cloud assembly {folder} holds no stack")
    choices = [s.label for s in stacks]
    if stack is None:
        if len(stacks) == 1:
            return stacks[0]
        raise SelectionError(f"the cloud assembly {folder} holds {len(stacks)} stacks; pick one with --stack:", choices)
    matches = [s for s in stacks if s.answers_to(stack)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SelectionError(
            f"{stack!r} names {len(matches)} stacks of {folder}; pick one by its artifact id with --stack:",
            [s.label for s in matches],
        )
    raise SelectionError(f"no stack {stack!r} in the cloud assembly {folder}; the stacks are:", choices)


def _check_file_is(path: Path, stack: str) -> None:
    """Refuse a template file that is not the stack asked for (known from the manifest beside it, or its name)."""
    artifact = stack_of_template(path)
    if artifact is not None:
        if not artifact.answers_to(stack):
            raise SelectionError(f"the template {path} is not the stack {stack!r}; it is:", [artifact.label])
        return
    own = path.name.removesuffix(".json").removesuffix(".template")
    if own != stack:
        raise SelectionError(f"the template {path} is not the stack {stack!r}; it is:", [own])


def stack_of_template(path: Path) -> StackArtifact | None:
    """The stack artifact whose template `path` is, from the manifest beside it; None without one."""
    if not (path.parent / _MANIFEST).is_file():
        return None
    try:
        stacks = read_stacks(path.parent)
    except TemplateError:
        return None
    here = path.resolve()
    return next((s for s in stacks if s.template.resolve() == here), None)


def construct_paths(template: Template) -> tuple[str | None, dict[str, str]]:
    """The stack's construct path and each resource's construct path (logical id -> path), as far as known.

    A resource's `Metadata["aws:cdk:path"]` says it when the app was synthesized with path
    metadata (the CDK CLI's default); else the `aws:cdk:logicalId` entries of the assembly's
    metadata do, for a template inside a cloud assembly. A lone template without either gives
    `(None, {})`. Paths have no leading slash, as `aws:cdk:path` writes them.
    """
    artifact = stack_of_template(template.path)
    paths: dict[str, str] = {}
    if artifact is not None:
        metadata: dict[str, Any] = dict(artifact.artifact.get("metadata") or {})
        extra = artifact.artifact.get("additionalMetadataFile")
        if extra:
            metadata.update(_read_json(template.path.parent / extra) or {})
        for construct_path, entries in metadata.items():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and entry.get("type") == _LOGICAL_ID and isinstance(entry.get("data"), str):
                    paths[entry["data"]] = construct_path.strip("/")
    for logical_id, resource in template.resources.items():
        declared = (resource.get("Metadata") or {}).get("aws:cdk:path")
        if isinstance(declared, str):
            paths[logical_id] = declared.strip("/")
    stack_path = artifact.display_name if artifact is not None else _stack_path(paths)
    return stack_path, paths


def _stack_path(paths: dict[str, str]) -> str | None:
    """The stack's path from CDK's own metadata resource (`<stack>/CDKMetadata/Default`), when there is one."""
    declared = paths.get("CDKMetadata", "")
    return declared.removesuffix("/CDKMetadata/Default") if declared.endswith("/CDKMetadata/Default") else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline found in a template: the S3 rule that starts its state machine, and the functions it invokes.

    `path` is the construct path of the EtlPipeline (the common parent of its rule and state
    machine), or of the rule when the parts were wired without the facade; a template without
    construct paths gives the rule's logical id.
    """

    path: str
    rule_id: str
    state_machine_id: str
    function_ids: tuple[str, ...]
    #: The STANDARD twin the rule's machine hands large files to, if any: it runs every restart too.
    large_file_machine_id: str | None = None

    @property
    def restart_machine_id(self) -> str:
        """The machine reprocessing, backfills and the sweep start: the twin if any, else the rule's."""
        return self.large_file_machine_id or self.state_machine_id

    @property
    def construct_id(self) -> str:
        """The last part of the path: the id the construct was given."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def label(self) -> str:
        """How a choice is listed: `path (id)`."""
        return self.path if self.construct_id == self.path else f"{self.path} ({self.construct_id})"


def find_pipelines(template: Template) -> list[PipelineSpec]:
    """Every S3 rule of the template that starts one of its state machines invoking the pipeline's functions."""
    machines = {template.ref(lid): lid for lid in template.of_type("AWS::StepFunctions::StateMachine")}
    pairs: list[tuple[str, str, tuple[str, ...]]] = []
    for rule_id, resource in template.of_type("AWS::Events::Rule").items():
        props = template.resolve(resource.get("Properties", {}))
        if "aws.s3" not in (props.get("EventPattern") or {}).get("source", []):
            continue
        for target in props.get("Targets", []):
            machine = machines.get(target.get("Arn", ""))
            functions = invoked_functions(template, machine) if machine else ()
            if machine and functions:
                pairs.append((rule_id, machine, functions))
    stack_path, paths = construct_paths(template)
    parts = [(paths.get(rule, ""), paths.get(machine, "")) for rule, machine, _ in pairs]
    return [
        PipelineSpec(
            _pipeline_path(rule, parts, i, stack_path), rule, machine, functions, started_machine(template, machine)
        )
        for i, (rule, machine, functions) in enumerate(pairs)
    ]


def started_machine(template: Template, machine_id: str) -> str | None:
    """The state machine (logical id) whose executions `machine_id`'s definition starts, if any."""
    definition = template.resolve(template.resources[machine_id].get("Properties", {}).get("DefinitionString"))
    try:
        states = json.loads(definition).get("States", {}) if isinstance(definition, str) else {}
    except ValueError:
        return None
    arns = {
        str(state.get("Parameters", {}).get("StateMachineArn"))
        for state in states.values()
        if str(state.get("Resource", "")).endswith(":states:startExecution")
    }
    found = [lid for lid in template.of_type("AWS::StepFunctions::StateMachine") if template.ref(lid) in arns]
    return found[0] if len(found) == 1 else None


def invoked_functions(template: Template, machine_id: str) -> tuple[str, ...]:
    """The pipeline functions (`etl_handlers.` handlers) a state machine's definition invokes, by logical id."""
    definition = template.resolve(template.resources[machine_id].get("Properties", {}).get("DefinitionString"))
    try:
        arns = set(_strings(json.loads(definition))) if isinstance(definition, str) else set()
    except ValueError:
        return ()
    found = []
    for logical_id, resource in template.of_type("AWS::Lambda::Function").items():
        if not str(resource.get("Properties", {}).get("Handler", "")).startswith("etl_handlers."):
            continue
        arn = template.get_att(logical_id, "Arn")
        if any(s == arn or s.startswith(arn + ":") for s in arns):
            found.append(logical_id)
    return tuple(found)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in _strings(v)] if isinstance(value, list) else []


def _pipeline_path(rule_id: str, parts: list[tuple[str, str]], index: int, stack_path: str | None) -> str:
    """The construct holding the rule and the state machine and no other pipeline's; else the rule's own path."""
    rule_path, machine_path = (_owner(p) for p in parts[index])
    if not rule_path:
        return rule_id
    common = _common(rule_path, machine_path) if machine_path else ""
    others = [_owner(p) for i, pair in enumerate(parts) if i != index for p in pair if p]
    if not common or common == stack_path or any(_under(other, common) for other in others):
        return rule_path
    return common


def _owner(path: str) -> str:
    """The construct of an L1 resource: `.../Rule/Resource` is the `Rule` construct."""
    return path.removesuffix("/Resource")


def _common(a: str, b: str) -> str:
    shared = []
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        shared.append(x)
    return "/".join(shared)


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent + "/")


def select_pipeline(pipelines: list[PipelineSpec], name: str | None, where: str) -> PipelineSpec:
    """The pipeline `name` picks (construct id, path, or a unique ending of the path); the only one when None.

    SelectionError lists the choices when there are several and none is picked, or `name` names
    none or several of them. `where` names the stack or template in the message.
    """
    choices = [p.label for p in pipelines]
    if name is None:
        if len(pipelines) == 1:
            return pipelines[0]
        raise SelectionError(f"{where} holds {len(pipelines)} pipelines; pick one with --pipeline:", choices)
    wanted = name.strip("/")
    matches = [p for p in pipelines if p.path == wanted] or [p for p in pipelines if p.path.endswith("/" + wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SelectionError(
            f"{name!r} names {len(matches)} pipelines of {where}; pick one by its path with --pipeline:",
            [p.label for p in matches],
        )
    raise SelectionError(f"no pipeline {name!r} in {where}; the pipelines are:", choices)


def describe(template: Template) -> str:
    """How messages name the template: `the stack 'Name'` inside a cloud assembly, else its file name."""
    artifact = stack_of_template(template.path)
    return f"the stack {artifact.display_name!r}" if artifact is not None else f"the template {template.path.name}"
