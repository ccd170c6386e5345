"""Checks at synth that span constructs: a pipeline must never pick up what it writes itself."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .errors import ConfigurationError


def same_bucket(scope: Construct, a: s3.IBucket, b: s3.IBucket) -> bool:
    """True when `a` and `b` are one bucket: the same construct or the same resolved name."""
    if a is b:
        return True
    resolve = Stack.of(scope).resolve
    return bool(resolve(a.bucket_name) == resolve(b.bucket_name))


def prefixes_overlap(a: str, b: str) -> bool:
    """True when some key can be under both prefixes (one is a prefix of the other; "" is every key)."""
    return a.startswith(b) or b.startswith(a)


def refuse_self_feeding(
    scope: Construct,
    raw_bucket: s3.IBucket,
    input_prefix: str,
    writes: Iterable[tuple[str, s3.IBucket, str]],
) -> None:
    """Raise ConfigurationError when a location the pipeline writes can start the pipeline again.

    `writes` holds `(setting name, bucket, prefix)` for each place the pipeline writes objects.
    Such an object would match the rule (same bucket, overlapping prefix) and loop forever.
    """
    for name, bucket, prefix in writes:
        if same_bucket(scope, bucket, raw_bucket) and prefixes_overlap(prefix, input_prefix):
            raise ConfigurationError(
                f"{name} {prefix!r} is in the raw bucket under the input prefix {input_prefix!r}: every object "
                "written there would start the pipeline again. Use another bucket, or an input_prefix "
                f"that does not overlap {prefix!r} (for example input_prefix='incoming/')"
            )
