"""Shared fixtures: synthesis helpers (one synth per module) and a default pipeline template on disk."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# The venv's Node.js 24 first, for jsii, when the tests are run without `make`: before aws_cdk starts it.
_bin = str(REPO / ".venv" / "bin")
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

pytest_plugins = ["pytester"]

StackBuilder = Callable[[cdk.Stack], Any]


def synth(build: StackBuilder, outdir: Path | None = None) -> tuple[Template, Any]:
    """Synthesize one stack made by `build`; return its template and what `build` returned."""
    app = cdk.App(outdir=str(outdir)) if outdir else cdk.App()
    stack = cdk.Stack(app, "TestStack", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    built = build(stack)
    return Template.from_stack(stack), built


@pytest.fixture(scope="session")
def synthesize() -> Callable[..., tuple[Template, Any]]:
    """The `synth` helper, for module-scoped fixtures."""
    return synth


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    """Resources of one type, logical id -> resource."""
    found: dict[str, dict[str, Any]] = template.find_resources(kind)
    return found


@pytest.fixture(scope="session")
def of_type() -> Callable[[Template, str], dict[str, dict[str, Any]]]:
    """`resources`, as a fixture."""
    return resources


@pytest.fixture(scope="session")
def default_template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default EtlPipeline (EXPRESS, its STANDARD twin for large files) synthesized to disk once per session,
    with its assets (for run-local)."""
    from etl_constructs.local import synthesize_default

    return synthesize_default(tmp_path_factory.mktemp("default-pipeline"))


@pytest.fixture(scope="session")
def standard_template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An EtlPipeline with a STANDARD data path (every file on one STANDARD machine), synthesized once per session."""
    from aws_cdk import aws_stepfunctions as sfn

    from etl_constructs import EtlPipeline, EtlPipelineProps

    out = tmp_path_factory.mktemp("standard-pipeline")
    app = cdk.App(outdir=str(out))
    stack = cdk.Stack(app, "EtlConstructsStandard")
    EtlPipeline(stack, "Pipeline", EtlPipelineProps(state_machine_type=sfn.StateMachineType.STANDARD))
    app.synth()
    return out / "EtlConstructsStandard.template.json"


def warnings_of(stack: cdk.Stack, pattern: str) -> list[str]:
    """The synth warnings on `stack` and its constructs whose text matches the regular expression `pattern`.

    Read from the cloud assembly's files rather than through `assertions.Annotations`, whose jsii
    `MetadataEntry` structs now and then fail to deserialize in a test worker ("Unknown interface:
    aws-cdk-lib.cloud_assembly_schema.MetadataEntry").
    """
    import json
    import re

    app = stack.node.root
    assert isinstance(app, cdk.App)
    folder = Path(app.synth().directory)
    artifact = json.loads((folder / "manifest.json").read_text())["artifacts"][stack.artifact_id]
    metadata = artifact.get("metadata") or {}
    if "additionalMetadataFile" in artifact:
        metadata = {**metadata, **json.loads((folder / artifact["additionalMetadataFile"]).read_text())}
    return [
        str(entry["data"])
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:warning" and re.search(pattern, str(entry["data"]))
    ]


@pytest.fixture(scope="session")
def find_warnings() -> Callable[[cdk.Stack, str], list[str]]:
    """`warnings_of`, as a fixture."""
    return warnings_of


# A test worker that crashes (a segmentation fault) takes its traceback with it: xdist reports only that
# it crashed. Each worker writes Python's fault traceback to a file, and the run's summary prints any.
_FAULTS = REPO / ".pytest_cache" / "faults"
#: The worker's open fault file, held by its config for the whole session (faulthandler keeps only its fd).
_fault_sink = pytest.StashKey[Any]()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Workers send fault tracebacks to a file of their own; the controller clears the earlier run's."""
    import faulthandler
    import shutil

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        shutil.rmtree(_FAULTS, ignore_errors=True)
        return
    _FAULTS.mkdir(parents=True, exist_ok=True)
    sink = (_FAULTS / f"{worker}-{os.getpid()}.log").open("w")
    config.stash[_fault_sink] = sink
    faulthandler.enable(file=sink, all_threads=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the fault traceback of any worker that crashed."""
    for log in sorted(_FAULTS.glob("*.log")) if _FAULTS.is_dir() else []:
        text = log.read_text(errors="replace").strip()
        if text:
            terminalreporter.write_sep("=", f"fault traceback of worker {log.stem}")
            terminalreporter.write_line(text)


# A test whose worker crashed runs once more, on a fresh worker; a second crash fails it. Why: a worker
# running the emulated pipeline (dozens of moto threads) died of a segmentation fault inside CPython's
# garbage collector about once in five full runs, in a different test each time, never twice in a row and
# never alone; the traceback above shows where. Ordinary failures are never run again.
_crashes: dict[str, int] = {}


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem: str, report: Any, sched: Any) -> None:
    """Reschedule a crashed test once (xdist's hook: the controller calls it when a worker dies in a test)."""
    _crashes[crashitem] = _crashes.get(crashitem, 0) + 1
    if _crashes[crashitem] == 1:
        sched.mark_test_pending(crashitem)
        report.outcome = "rerun"


def pytest_report_teststatus(report: Any) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """A crashed test run again is reported as "rerun", not as a failure."""
    if report.outcome == "rerun":
        return "rerun", "R", ("RERUN", {"yellow": True})
    return None
