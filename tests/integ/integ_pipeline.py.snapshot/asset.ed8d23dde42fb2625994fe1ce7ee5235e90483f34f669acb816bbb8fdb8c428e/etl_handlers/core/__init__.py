"""The AWS-free core: read, check and transform transaction files by the data contract.

>>> import io
>>> from etl_handlers.core import validate
>>> validate(io.BytesIO(b"transaction_id,amount,date,account_id\\nt1,1.50,2024-03-01,a1\\n"), "csv").ok
True
"""

from .api import transform, validate
from .config import DEFAULT_CONFIG, FORMATS, SUFFIX_FORMATS, Config, ConfigError
from .results import RowError, TransformResult, ValidationResult

__all__ = [
    "DEFAULT_CONFIG",
    "FORMATS",
    "SUFFIX_FORMATS",
    "Config",
    "ConfigError",
    "RowError",
    "TransformResult",
    "ValidationResult",
    "transform",
    "validate",
]
