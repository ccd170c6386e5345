"""What a synthesized pipeline costs a month: priced from what its template holds.

`etl-constructs cost --template cdk.out --files-per-month N --mean-size MB` (or `estimate(...)`) reads
the data path's state machine (its type, and the state transitions a valid and a rejected file take,
counted by walking the definition), the functions (memory, architecture, tracing), the alarms,
dashboards, keys, log groups, the sweep's schedule and an event archive. Durations come from the
throughput measured in `bench/` and prices from `prices.json` (dated, with a source for each
service). No AWS call is made. Free tiers are left out; so is what the upload itself costs you.

The seed's shape (`shape="seed"`) is the pipeline this project replaced, priced on the same
files: STANDARD with 4 transitions, two 3 GB x86 functions reading whole files, a ledger written
three times without an index.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .local.assembly import construct_paths, find_pipelines, resolve_template, select_pipeline
from .local.template import Template

#: At a Choice state, the branch a valid file takes, by state name ("default" or the rule's index).
VALID_PATH: dict[str, str | int] = {"New attempt requested?": "default", "Accepted suffix?": 0, "Valid?": 0}
#: And the branch a rejected file takes.
REJECTED_PATH: dict[str, str | int] = {**VALID_PATH, "Valid?": "default", "A new attempt?": "default"}
#: The Choice of an EXPRESS machine that hands large files to its STANDARD twin (its first branch does).
LARGE_FILE_CHOICE = "Large file?"
_MB = 1024 * 1024
#: The part size of the transform's multipart upload (MiB): etl_handlers.s3io.PART_SIZE, which tests/test_cost.py
#: holds it to (the package does not ship the handlers' S3 module as an importable one).
_PART_MB = 8
_SECONDS_PER_MONTH = 30 * 24 * 3600
#: Bytes the functions and the state machine log per file (Powertools JSON lines and EMF metrics per
#: invocation; Step Functions at LogLevel.ALL writes about two events per state, at ERROR only the failures
#: an execution met, none for a file that met none), measured on run-local's handler-logs.jsonl and a
#: vended log of this definition.
LOG_BYTES_PER_INVOCATION = 2500
LOG_BYTES_PER_TRANSITION = 700
#: The breakdown's line for S3 storage, which the report also leaves out of `without_storage`.
STORAGE = "S3 storage (a month's files and output)"
#: The JSON Lines output is about this much larger than CSV input (field names on every row).
OUTPUT_RATIO = 2.2


def prices() -> dict[str, Any]:
    """The price list shipped with the package (prices.json)."""
    data: dict[str, Any] = json.loads(resources.files(__package__).joinpath("prices.json").read_text())
    return data


@dataclass
class CostReport:
    """A month's estimate.

    Attributes:
        total: US dollars a month.
        breakdown: dollars by item, largest first.
        assumptions: what the estimate took from the template and the inputs.
        without_storage: the total less S3 storage: what the pipeline itself costs (storage is the
            files' and their output's, the same for any pipeline that keeps them).
    """

    total: float
    breakdown: dict[str, float]
    assumptions: dict[str, Any] = field(default_factory=dict)
    without_storage: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready values."""
        return asdict(self)

    def text(self) -> str:
        """The report as an aligned table."""
        width = max(len(k) for k in self.breakdown)
        lines = [f"{name:<{width}}  {amount:>12,.2f}" for name, amount in self.breakdown.items()]
        rule = "-" * (width + 14)
        totals = [
            f"{'total (USD a month)':<{width}}  {self.total:>12,.2f}",
            f"{'  without S3 storage':<{width}}  {self.without_storage:>12,.2f}",
        ]
        return "\n".join([*lines, rule, *totals]) + "\n"


@dataclass(frozen=True)
class PipelineShape:
    """What the estimate needs from a template.

    Attributes:
        state_machine_type: "STANDARD" or "EXPRESS".
        valid_transitions: states a valid file's execution enters.
        rejected_transitions: states a rejected file's execution enters.
        functions: (memory MB, architecture, traced) of the validate and transform functions.
        alarm_metrics: metrics the alarms watch (an alarm on a metric-math expression counts each).
        dashboards: CloudWatch dashboards.
        keys: customer-managed KMS keys.
        sweep_per_month: scheduled sweep invocations a month.
        archive: whether an event archive keeps the matched events.
        traced_machine: whether the state machine sends X-Ray traces.
        large_file_bytes: files larger than this are handed to a STANDARD twin, if the machine has one.
        large_valid_transitions: states a valid file's execution enters on the twin.
        large_rejected_transitions: states a rejected file's execution enters on the twin.
        hand_over_transitions: states the rule's machine enters to hand a file over.
        logs_every_state: whether the rule's machine logs at ALL (below it, a file that meets no failure
            logs nothing: ERROR logs only failures).
        twin_logs_every_state: the same, for the STANDARD twin.
    """

    state_machine_type: str
    valid_transitions: int
    rejected_transitions: int
    functions: tuple[tuple[int, str, bool], ...]
    alarm_metrics: int = 0
    dashboards: int = 0
    keys: int = 0
    sweep_per_month: int = 0
    archive: bool = False
    traced_machine: bool = False
    large_file_bytes: int | None = None
    large_valid_transitions: int = 0
    large_rejected_transitions: int = 0
    hand_over_transitions: int = 0
    logs_every_state: bool = True
    twin_logs_every_state: bool = True


def shape_of(path: Path | str, stack: str | None = None, pipeline: str | None = None) -> PipelineShape:
    """The shape of the pipeline in a template file or cloud assembly folder."""
    template = Template.load(resolve_template(Path(path), stack))
    spec = select_pipeline(find_pipelines(template), pipeline, str(path))
    machine = template.resources[spec.state_machine_id]["Properties"]
    definition = json.loads(template.resolve(machine["DefinitionString"]))
    functions = []
    for logical_id in spec.function_ids:
        props = template.resources[logical_id]["Properties"]
        functions.append(
            (
                int(props.get("MemorySize", 128)),
                (props.get("Architectures") or ["x86_64"])[0],
                (props.get("TracingConfig") or {}).get("Mode") == "Active",
            )
        )
    _, paths = construct_paths(template)
    prefix = spec.path + "/"
    mine = {lid for lid, path in paths.items() if path.startswith(prefix)}

    def owned(kind: str) -> list[dict[str, Any]]:
        """The pipeline's resources of `kind` (every one of the template's, when it has no construct paths)."""
        found = template.of_type(kind)
        return [r for lid, r in found.items() if lid in mine] if mine else list(found.values())

    alarms = owned("AWS::CloudWatch::Alarm")
    metrics = sum(max(1, len([m for m in a["Properties"].get("Metrics", []) if "MetricStat" in m])) for a in alarms)
    sweeps = 0
    for rule in owned("AWS::Events::Rule"):
        found = re.fullmatch(
            r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", str(rule["Properties"].get("ScheduleExpression", ""))
        )
        if found:
            unit = {"minute": 60, "hour": 3600, "day": 86400}[found.group(2).rstrip("s")]
            sweeps += _SECONDS_PER_MONTH // (int(found.group(1)) * unit)
    twin: dict[str, Any] = {}
    if spec.large_file_machine_id:
        twin_machine = template.resources[spec.large_file_machine_id]["Properties"]
        twin_definition = json.loads(template.resolve(twin_machine["DefinitionString"]))
        twin = {
            "twin_logs_every_state": _logs_every_state(twin_machine),
            "large_file_bytes": _size_threshold(definition),
            "large_valid_transitions": count_transitions(twin_definition, VALID_PATH),
            "large_rejected_transitions": count_transitions(twin_definition, REJECTED_PATH),
            "hand_over_transitions": count_transitions(definition, {LARGE_FILE_CHOICE: 0}),
        }
    return PipelineShape(
        **twin,
        state_machine_type=str(machine.get("StateMachineType", "STANDARD")),
        valid_transitions=count_transitions(definition, VALID_PATH),
        rejected_transitions=count_transitions(definition, REJECTED_PATH),
        functions=tuple(functions),
        alarm_metrics=metrics,
        dashboards=len(owned("AWS::CloudWatch::Dashboard")),
        keys=len(owned("AWS::KMS::Key")),
        sweep_per_month=sweeps,
        archive=bool(owned("AWS::Events::Archive")),
        traced_machine=bool((machine.get("TracingConfiguration") or {}).get("Enabled")),
        logs_every_state=_logs_every_state(machine),
    )


def _logs_every_state(machine: Mapping[str, Any]) -> bool:
    """Whether a state machine's properties log every state (LogLevel ALL)."""
    return (machine.get("LoggingConfiguration") or {}).get("Level") == "ALL"


def _size_threshold(definition: Mapping[str, Any]) -> int | None:
    """The size (bytes) above which the definition's first Choice hands a file over, if it has one."""
    for choice in definition["States"].get(LARGE_FILE_CHOICE, {}).get("Choices", []):
        for condition in choice.get("And", [choice]):
            if condition.get("Variable") == "$.size" and "NumericGreaterThan" in condition:
                return int(condition["NumericGreaterThan"])
    return None


def count_transitions(definition: Mapping[str, Any], path: Mapping[str, str | int]) -> int:
    """The states an execution enters from `StartAt` to its end, taking at each Choice the branch `path` names
    (the default branch when it names none). Raise ValueError on a loop."""
    states = definition["States"]
    name = definition["StartAt"]
    seen: list[str] = []
    while True:
        if name in seen:
            raise ValueError(f"the path loops at {name!r}")
        seen.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            branch = path.get(name, "default")
            name = state["Default"] if branch == "default" else state["Choices"][int(branch)]["Next"]
            continue
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            return len(seen)
        name = state["Next"]


SEED = PipelineShape(
    state_machine_type="STANDARD",
    valid_transitions=4,
    rejected_transitions=4,
    functions=((3008, "x86_64", False), (3008, "x86_64", False)),
)


#: X-Ray's default sampling rule: the first request each second, then 5% of the others; the decision is
#: made once, at the root of a trace, and the services downstream honour it ("parent-based").
#: https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html
XRAY_RESERVOIR_PER_SECOND = 1.0
XRAY_FIXED_RATE = 0.05
SECONDS_PER_MONTH = 30 * 24 * 3600


def xray_traces(executions: float, shape: PipelineShape) -> float:
    """Traces recorded in a month under the default sampling rule, files arriving evenly (the most it records).

    A traced state machine is the root: each execution is one trace, its functions' segments within it
    (a function with active tracing honours the header Step Functions passes). Without it, each traced
    function's invocation is a root of its own.
    """
    roots = executions if shape.traced_machine else executions * sum(1 for *_, traced in shape.functions if traced)
    reservoir = XRAY_RESERVOIR_PER_SECOND * SECONDS_PER_MONTH
    return min(roots, reservoir) + XRAY_FIXED_RATE * max(0.0, roots - reservoir)


def estimate(
    shape: PipelineShape,
    files_per_month: float,
    mean_size_mb: float,
    rejected_share: float = 0.01,
    region: str = "us-east-1",
    seed: bool = False,
) -> CostReport:
    """A month of `files_per_month` files of `mean_size_mb` MB (CSV), `rejected_share` of them rejected."""
    table = prices()
    if region not in table["regions"]:
        raise ValueError(f"no prices for {region}; prices.json has {', '.join(sorted(table['regions']))}")
    p = table["regions"][region]
    speed = table["throughput"]
    n, size = float(files_per_month), float(mean_size_mb)
    valid, rejected = n * (1 - rejected_share), n * rejected_share
    cost: dict[str, float] = {}

    # Functions: CPU seconds from the bench, at the share of a vCPU the memory buys; one vCPU is all a
    # single-threaded core uses, whatever the memory.
    durations = []
    for index, (memory, arch, _) in enumerate(shape.functions):
        per_mb = (
            speed["seed_cpu_seconds_per_mb"] / 2
            if seed
            else (speed["validate_cpu_seconds_per_mb"] if index == 0 else speed["transform_cpu_seconds_per_mb"])
        )
        vcpu = min(1.0, memory / speed["full_vcpu_memory_mb"])
        seconds = speed["per_invocation_seconds"] + size * per_mb / vcpu
        calls = n if index == 0 else valid
        durations.append(seconds)
        rate = p[f"lambda_{arch.replace('-', '_')}_per_gb_second"]
        cost[f"Lambda compute ({'validate' if index == 0 else 'transform'}, {memory} MB {arch})"] = (
            calls * seconds * memory / 1024 * rate
        )
    invocations = n * 2 + (0 if seed else shape.sweep_per_month)
    cost["Lambda requests"] = invocations / 1e6 * p["lambda_per_million_requests"]

    transitions = valid * shape.valid_transitions + rejected * shape.rejected_transitions
    handed_over = shape.large_file_bytes is not None and size * _MB > shape.large_file_bytes
    logged = not seed and (shape.twin_logs_every_state if handed_over else shape.logs_every_state)
    if shape.state_machine_type == "EXPRESS":
        # An EXPRESS execution runs the file, or (a large one) hands it over in a moment to the STANDARD twin.
        seconds = 0.2 * shape.hand_over_transitions if handed_over else sum(durations) + 0.2 * shape.valid_transitions
        cost["Step Functions Express requests"] = n / 1e6 * p["step_functions_express_per_million_requests"]
        cost["Step Functions Express duration"] = n * seconds * 64 / 1024 * p["step_functions_express_per_gb_second"]
    if handed_over:
        transitions = valid * shape.large_valid_transitions + rejected * shape.large_rejected_transitions
    if handed_over or shape.state_machine_type != "EXPRESS":
        cost["Step Functions state transitions"] = (
            transitions / 1000 * p["step_functions_standard_per_1000_transitions"]
        )

    # The ledger: RECEIVED put and four updates, each also written to the status index (an update that moves
    # the index key is a delete and a put there); the seed wrote three times and kept no index.
    writes = n * 3 if seed else valid * (5 + 1 + 2 * 4) + rejected * (3 + 1 + 2 * 2)
    cost["DynamoDB writes"] = writes / 1e6 * p["dynamodb_per_million_write_units"]
    cost["DynamoDB storage"] = n * 2 * 1024 / 1024**3 * p["dynamodb_storage_per_gb_month"]

    # S3: the functions read the file (a GET each); the transform writes its output to its final key (one PUT,
    # or a multipart upload of 8 MiB parts: create, parts, complete); storage of a month's raw files and output.
    # The seed's shape is priced with two PUT-class requests a file, whatever its size.
    output_mb = size * OUTPUT_RATIO
    parts = 1 if output_mb <= _PART_MB else math.ceil(output_mb / _PART_MB) + 2
    puts = 2 if seed else parts
    gets = n * 2
    cost["S3 requests"] = gets / 1000 * p["s3_get_per_1000"] + valid * puts / 1000 * p["s3_put_copy_list_per_1000"]
    cost[STORAGE] = n * size * (1 + OUTPUT_RATIO) / 1024 * p["s3_standard_per_gb_month"]

    if shape.archive:
        cost["EventBridge archive"] = n * 1.5 / 1024**2 * p["eventbridge_archive_per_gb"]
    if not seed:
        cost["CloudWatch alarms"] = shape.alarm_metrics * p["cloudwatch_alarm_per_metric_month"]
        cost["CloudWatch dashboards"] = shape.dashboards * p["cloudwatch_dashboard_per_month"]
        cost["CloudWatch custom metrics"] = 7 * p["cloudwatch_custom_metric_per_month"]
        log_bytes = n * 2 * LOG_BYTES_PER_INVOCATION + (transitions * LOG_BYTES_PER_TRANSITION if logged else 0)
        cost["CloudWatch Logs ingestion"] = log_bytes / 1024**3 * p["cloudwatch_logs_ingestion_per_gb"]
        cost["KMS keys"] = shape.keys * p["kms_key_per_month"]
        cost["X-Ray traces"] = xray_traces(n, shape) / 1e6 * p["xray_per_million_traces"]
    breakdown = dict(sorted(((k, round(v, 2)) for k, v in cost.items()), key=lambda kv: -kv[1]))
    return CostReport(
        total=round(math.fsum(cost.values()), 2),
        without_storage=round(math.fsum(v for k, v in cost.items() if k != STORAGE), 2),
        breakdown=breakdown,
        assumptions={
            "region": region,
            "prices_date": table["date"],
            "files_per_month": n,
            "mean_size_mb": size,
            "rejected_share": rejected_share,
            "state_machine_type": "STANDARD (handed over by size)" if handed_over else shape.state_machine_type,
            "transitions_valid_file": shape.valid_transitions,
            "transitions_rejected_file": shape.rejected_transitions,
            "states_logged": "none" if seed else "every state" if logged else "failures only",
            "function_seconds": [round(d, 3) for d in durations],
            "shape": "seed" if seed else "template",
        },
    )
