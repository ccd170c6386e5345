"""The emulation's environment variables, changed in Python's view only, never in the C library's.

`os.environ[name] = value` also calls the C library's `setenv`, and `del` calls `unsetenv`. glibc
documents both as unsafe while another thread reads the environment ("MT-Unsafe const:env",
https://www.gnu.org/software/libc/manual/html_node/Environment-Access.html): `setenv` may move
the array that `getenv` is walking. In a local run, moto's threads and the handlers' loggers call
`time.localtime`, which reads `TZ` through `getenv`, at any moment.

Everything the emulation and the handlers read (botocore, moto, Powertools, our settings) reads
`os.environ`, Python's own mapping, so a change to that mapping alone is all they need. A child
process would not see it; a local run starts none.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

# os.environ keeps its values in `_data`, encoded; writing there skips `putenv`/`unsetenv` (CPython's
# os._Environ, stable since Python 3.2).
_data = os.environ._data  # type: ignore[attr-defined]
_key = os.environ.encodekey
_value = os.environ.encodevalue


def set_variables(values: Mapping[str, str | None]) -> None:
    """Set each variable in `values` (None removes it) in `os.environ` only; the C environment is untouched."""
    for name, value in values.items():
        if value is None:
            _data.pop(_key(name), None)
        else:
            _data[_key(name)] = _value(value)


@contextmanager
def variables(values: Mapping[str, str | None]) -> Iterator[None]:
    """`set_variables(values)` for the block; the earlier values (or their absence) are restored after it."""
    saved = {name: os.environ.get(name) for name in values}
    set_variables(values)
    try:
        yield
    finally:
        set_variables(saved)
