"""The ledger's status vocabulary: the handlers' core defines it (`etl_handlers.core.statuses`); the constructs
read it from there."""

from etl_handlers.core import statuses as _core
from etl_handlers.core.statuses import *  # noqa: F403 - the names are the core's, listed in its __all__

__all__ = list(_core.__all__)
