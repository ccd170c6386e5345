"""etl-constructs: AWS CDK v2 constructs for an auditable ingestion pipeline of transaction files.

    from etl_constructs import EtlPipeline
    pipeline = EtlPipeline(stack, "Pipeline")

The parts (`RawLanding`, `ProcessingLedger`, `ValidateTransformWorkflow`, `EtlAlarms`) can be
used alone; every default is secure and every one can be overridden through the props.
"""

from . import statuses
from .alarms import AlarmSpec, AlarmThresholds, EtlAlarms, EtlAlarmsProps
from .data_settings import SUPPORTED_SUFFIXES, DataSettings
from .definition import RetryPolicy
from .errors import ConfigurationError
from .landing import RawLanding, RawLandingProps
from .ledger import ProcessingLedger, ProcessingLedgerProps
from .pipeline import EtlPipeline, EtlPipelineProps
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
    "ProcessingLedger",
    "ProcessingLedgerProps",
    "RawLanding",
    "RawLandingProps",
    "RetryPolicy",
    "ValidateTransformWorkflow",
    "ValidateTransformWorkflowProps",
    "__version__",
    "statuses",
]
