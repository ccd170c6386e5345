"""etl-constructs: AWS CDK v2 constructs for an auditable ingestion pipeline of transaction files.

    from etl_constructs import EtlPipeline
    pipeline = EtlPipeline(stack, "Pipeline")

The parts (`RawLanding`, `ProcessingLedger`, `ValidateTransformWorkflow`, `EtlAlarms`) can be
used alone; every default is secure and every one can be overridden through the props.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import statuses
    from .alarms import AlarmSpec, AlarmThresholds, EtlAlarms, EtlAlarmsProps
    from .data_settings import SUPPORTED_SUFFIXES, DataSettings
    from .definition import RetryPolicy
    from .errors import ConfigurationError
    from .landing import RawLanding, RawLandingProps
    from .ledger import ProcessingLedger, ProcessingLedgerProps
    from .pipeline import EtlPipeline
    from .pipeline_props import EtlPipelineProps, LandingOptions, WorkflowOptions
    from .workflow import ValidateTransformWorkflow, ValidateTransformWorkflowProps

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_SUFFIXES",
    "AlarmSpec",
    "AlarmThresholds",
    "ConfigurationError",
    "DataSettings",
    "EtlAlarms",
    "EtlAlarmsProps",
    "EtlPipeline",
    "EtlPipelineProps",
    "LandingOptions",
    "ProcessingLedger",
    "ProcessingLedgerProps",
    "RawLanding",
    "RawLandingProps",
    "RetryPolicy",
    "ValidateTransformWorkflow",
    "ValidateTransformWorkflowProps",
    "WorkflowOptions",
    "__version__",
    "statuses",
]

# Exported name -> the submodule that defines it. The constructs import aws_cdk, which starts Node.js
# (jsii); loading them on first use keeps `etl_constructs.cli` and `etl_constructs.local` free of it.
_EXPORTS = {
    "SUPPORTED_SUFFIXES": "data_settings",
    "AlarmSpec": "alarms",
    "AlarmThresholds": "alarms",
    "ConfigurationError": "errors",
    "DataSettings": "data_settings",
    "EtlAlarms": "alarms",
    "EtlAlarmsProps": "alarms",
    "EtlPipeline": "pipeline",
    "EtlPipelineProps": "pipeline_props",
    "LandingOptions": "pipeline_props",
    "ProcessingLedger": "ledger",
    "ProcessingLedgerProps": "ledger",
    "RawLanding": "landing",
    "RawLandingProps": "landing",
    "RetryPolicy": "definition",
    "ValidateTransformWorkflow": "workflow",
    "ValidateTransformWorkflowProps": "workflow",
    "WorkflowOptions": "pipeline_props",
    "statuses": "statuses",
}


def __getattr__(name: str) -> Any:
    """Import an exported name's submodule on first use (PEP 562)."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{module_name}", __name__)
    value = module if name == module_name else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily imported exports included."""
    return sorted(set(globals()) | set(__all__))
