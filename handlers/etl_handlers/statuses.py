"""The ledger's status vocabulary, as the functions import it; defined once in `core.statuses`."""

from .core import statuses as _core
from .core.statuses import *  # noqa: F403 - the names are the core's, listed in its __all__

__all__ = list(_core.__all__)
