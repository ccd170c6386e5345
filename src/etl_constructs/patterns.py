"""The EventBridge pattern that picks up new objects: pure functions, testable without synthesis.

S3 writes the object key into its EventBridge events URL-encoded in form style (a space becomes
`+`, `=` becomes `%3D`, `/` is kept), as in its other event notifications:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html, and
AWS's own Powertools decodes `detail.object.key` of these events with `unquote_plus`
(`aws_lambda_powertools.utilities.data_classes.s3_event.S3EventBridgeNotificationObject.key`).
A prefix in a pattern is therefore matched in that encoded form.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote_plus


def encoded_prefix(prefix: str) -> str:
    """`prefix` as it appears at the start of an encoded key in an S3 event."""
    return quote_plus(prefix, safe="/")


def key_filters(prefix: str, suffixes: tuple[str, ...]) -> list[dict[str, Any]]:
    """Filters on `detail.object.key`: any of the suffixes, case-insensitively, under `prefix`.

    Without a prefix each suffix is matched with `equals-ignore-case`. EventBridge cannot join a
    prefix and a case-insensitive suffix on one field, so with a prefix the rule matches the
    prefix alone and the state machine's first state matches the suffix in every case variant
    (`suffix_variants`) before anything is recorded.
    """
    if not prefix:
        return [{"suffix": {"equals-ignore-case": s}} for s in suffixes]
    return [{"prefix": encoded_prefix(prefix)}]


def suffix_checked_by_rule(prefix: str) -> bool:
    """True when the rule alone decides the suffix; False when the state machine must check it."""
    return not prefix


def suffix_variants(suffixes: tuple[str, ...]) -> list[str]:
    """Every upper/lower-case spelling of each suffix (`.csv` -> `.csv`, `.csV`, ... `.CSV`)."""
    variants: dict[str, None] = {}
    for suffix in suffixes:
        letters = [sorted({c.lower(), c.upper()}) for c in suffix]
        variants.update(dict.fromkeys("".join(p) for p in itertools.product(*letters)))
    return list(variants)


def object_created_detail(bucket_name: str, prefix: str, suffixes: tuple[str, ...]) -> dict[str, Any]:
    """The `detail` part of the rule's pattern for `Object Created` in one bucket."""
    return {"bucket": {"name": [bucket_name]}, "object": {"key": key_filters(prefix, suffixes)}}
