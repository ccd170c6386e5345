"""The EventBridge pattern that picks up new objects: pure functions, testable without synthesis."""

from __future__ import annotations

from typing import Any


def _escape_wildcard(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*")


def key_filters(prefix: str, suffixes: tuple[str, ...]) -> list[dict[str, Any]]:
    """Filters on `detail.object.key`: any of the suffixes, case-insensitively, under `prefix`.

    Without a prefix each suffix is matched with `equals-ignore-case`. EventBridge cannot join a
    prefix and a suffix on one field, so with a prefix each suffix becomes a wildcard, written in
    lower and in upper case; the validate function still rejects any other key as an
    unsupported format, so a mixed-case suffix under a prefix is never processed wrongly.
    """
    if not prefix:
        return [{"suffix": {"equals-ignore-case": s}} for s in suffixes]
    head = _escape_wildcard(prefix)
    variants = dict.fromkeys(v for s in suffixes for v in (s.lower(), s.upper()))
    return [{"wildcard": f"{head}*{v}"} for v in variants]


def object_created_detail(bucket_name: str, prefix: str, suffixes: tuple[str, ...]) -> dict[str, Any]:
    """The `detail` part of the rule's pattern for `Object Created` in one bucket."""
    return {"bucket": {"name": [bucket_name]}, "object": {"key": key_filters(prefix, suffixes)}}
