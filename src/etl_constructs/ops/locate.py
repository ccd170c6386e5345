"""Where a pipeline's parts are: the ledger table, the data path's state machine, the raw bucket."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from ..local.template import Template, TemplateError

#: The suffixes a pipeline accepts when its template does not say (the data contract's default).
DEFAULT_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class PipelineResources:
    """A pipeline's parts by their physical names.

    Attributes:
        table: the ledger table's name.
        state_machine: the ARN of the data path's machine that runs restarts (its STANDARD twin, if any).
        raw_bucket: the raw bucket's name.
        input_prefix: only keys under it are processed.
        suffixes: the accepted key suffixes, compared case-insensitively.
    """

    table: str
    state_machine: str
    raw_bucket: str
    input_prefix: str = ""
    suffixes: tuple[str, ...] = DEFAULT_SUFFIXES

    @classmethod
    def from_stack(cls, cloudformation: Any, stack: str, pipeline: str | None = None) -> PipelineResources:
        """The parts of the EtlPipeline `pipeline` picks (the only one by default) in a deployed stack.

        Reads the stack's template and its resources' physical ids from CloudFormation
        (`cloudformation:GetTemplate`, `cloudformation:ListStackResources`).
        """
        from ..local.assembly import find_pipelines, select_pipeline

        body = cloudformation.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
        parsed = body if isinstance(body, dict) else json.loads(body)
        template = Template.from_body(Path(f"{stack}.template.json"), parsed)
        physical: dict[str, str] = {}
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
            for resource in page["StackResourceSummaries"]:
                physical[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
        found = find_pipelines(template)
        # Without path metadata (`cdk deploy --no-path-metadata`) a pipeline is known by its rule's logical id,
        # which starts with the construct ids on its path: `Cards` names `CardsLandingObjectCreated5D7D21D6`.
        by_id = [p for p in found if pipeline and p.path == p.rule_id and p.rule_id.startswith(pipeline)]
        spec = by_id[0] if len(by_id) == 1 else select_pipeline(found, pipeline, f"the stack {stack!r}")
        return cls.from_template_parts(template, spec.rule_id, spec.restart_machine_id, spec.function_ids, physical)

    @classmethod
    def from_template_parts(
        cls,
        template: Template,
        rule_id: str,
        machine_id: str,
        function_ids: tuple[str, ...],
        physical: dict[str, str],
    ) -> PipelineResources:
        """The parts named in `template`, each `Ref` replaced by its physical id in `physical`."""

        def name(value: Any) -> str:
            if isinstance(value, dict) and set(value) == {"Ref"}:
                found = physical.get(value["Ref"])
                if not found:
                    raise TemplateError(f"the stack has no resource {value['Ref']}")
                return found
            if isinstance(value, str):
                return value
            raise TemplateError(f"cannot tell a name from {value!r}")

        pattern = template.resources[rule_id].get("Properties", {}).get("EventPattern", {})
        detail = pattern.get("detail", {})
        prefixes = [
            f["prefix"] for f in detail.get("object", {}).get("key", []) if isinstance(f, dict) and "prefix" in f
        ]
        environment = (
            template.resources[function_ids[0]].get("Properties", {}).get("Environment", {}).get("Variables", {})
        )
        config = environment.get("ETL_CONFIG")
        suffixes = tuple(json.loads(config)["suffixes"]) if isinstance(config, str) else DEFAULT_SUFFIXES
        machine = physical.get(machine_id) or template.ref(machine_id)
        return cls(
            table=name(environment.get("LEDGER_TABLE")),
            state_machine=machine,
            raw_bucket=name(detail.get("bucket", {}).get("name", [None])[0]),
            input_prefix=unquote_plus(prefixes[0]) if prefixes else "",
            suffixes=suffixes,
        )
