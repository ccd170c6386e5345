"""IAM's policy language, as far as run-local evaluates it: wildcards and condition operators.

One implementation for the key-policy check before a run (`key_check.py`) and the authorization of
each call during it (`authorization.py`). A condition is True or False when its key's value is known
and its operator is one of `TESTS`; otherwise None, and the caller decides (run-local never refuses
what AWS might allow: an Allow so conditioned applies, a Deny does not).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any


def as_list(value: Any) -> list[Any]:
    """A policy element as a list: a single value in one, None as none."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def glob(text: str, pattern: str) -> bool:
    """Whether `pattern` (with IAM's `*` and `?`) matches `text`; a `*` in `text` is a plain character."""
    return _pattern(pattern).fullmatch(text) is not None


def arn_like(actual: str, pattern: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts matched on its own, with wildcards."""
    if pattern == "*":
        return True
    parts, patterns = actual.split(":", 5), pattern.split(":", 5)
    return len(parts) == len(patterns) == 6 and all(glob(a, p) for a, p in zip(parts, patterns, strict=True))


#: The condition operators evaluated (each also with `Not`, `IfExists`, `ForAnyValue:`/`ForAllValues:`).
TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda a, v: a == v,
    "StringEqualsIgnoreCase": lambda a, v: a.lower() == v.lower(),
    "StringLike": glob,
    "ArnEquals": arn_like,
    "ArnLike": arn_like,
    "Bool": lambda a, v: a.lower() == v.lower(),
}


def conditions_met(conditions: Any, context: Mapping[str, tuple[str, ...]]) -> bool | None:
    """True or False when every condition can be evaluated with `context` (lower-case keys); None when one cannot."""
    if not conditions:
        return True
    if not isinstance(conditions, dict):
        return None
    result: bool | None = True
    for operator, block in conditions.items():
        if not isinstance(block, dict):
            result = None
            continue
        for key, values in block.items():
            outcome = condition(str(operator), str(key).lower(), values, context)
            if outcome is False:
                return False
            if outcome is None:
                result = None
    return result


def condition(operator: str, key: str, values: Any, context: Mapping[str, tuple[str, ...]]) -> bool | None:
    """One condition: True, False, or None when its operator or its key's value is unknown."""
    operator = operator.split(":", 1)[1] if operator.startswith(("ForAnyValue:", "ForAllValues:")) else operator
    operator = operator.removesuffix("IfExists")
    negated = "Not" in operator
    test = TESTS.get(operator.replace("Not", "", 1))
    wanted = as_list(values)
    if test is None or key not in context or not all(isinstance(v, str | int | bool) for v in wanted):
        return None
    hit = any(
        test(actual, str(v).lower() if isinstance(v, bool) else str(v)) for actual in context[key] for v in wanted
    )
    return not hit if negated else hit
