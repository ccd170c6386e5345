"""Object keys: as S3 writes them in its events, and keys derived from them within S3's length limit.

S3 writes the key of an `Object Created` EventBridge event (`detail.object.key`), as it does in
its event notifications (`s3.object.key`), URL-encoded in form style: a space becomes `+`, `+`
becomes `%2B`, `%` becomes `%25`, a non-ASCII character its UTF-8 bytes as `%XX`, and `/` is kept.
Sources: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
("The s3 key provides information about the bucket and object involved in the event. The object
key name value is URL encoded."), and AWS Lambda Powertools, which decodes `detail.object.key`
with `urllib.parse.unquote_plus` (`S3EventBridgeNotificationObject.key` in
`aws_lambda_powertools/utilities/data_classes/s3_event.py`).

S3 does not document which ASCII punctuation it leaves unencoded. Decoding does not depend on it:
`unquote_plus` reads `%XX` and a literal character alike, so only `+` versus space matters, and
that is the form encoding's rule. The encoder here, used where S3 must be emulated (run-local,
tests), is `quote_plus(key, safe="/")`: the form encoding with `/` kept, as S3 does.

>>> event_key("in/März 2024+1%.csv")
'in/M%C3%A4rz+2024%2B1%25.csv'
>>> object_key("in/M%C3%A4rz+2024%2B1%25.csv")
'in/März 2024+1%.csv'
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote_plus, unquote_plus

#: The longest object key S3 accepts, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: What ends the shortened part of a derived key, before the digest of the whole key.
DIGEST_MARK = "~sha256-"
#: Hex digits of SHA-256 kept (128 bits): two keys share them with probability about 2^-128.
DIGEST_HEX = 32
_DIGESTED = re.compile(re.escape(DIGEST_MARK) + f"[0-9a-f]{{{DIGEST_HEX}}}\\Z")


def object_key(event_key: str) -> str:
    """The object's key from the key as S3 writes it in an event (form-style URL-encoded)."""
    return unquote_plus(event_key)


def event_key(object_key: str) -> str:
    """The key as S3 writes it in an event for the object `object_key` (the inverse of `object_key`)."""
    return quote_plus(object_key, safe="/")


def utf8_length(text: str) -> int:
    """How many bytes `text` takes in UTF-8, the measure of S3's key limit."""
    return len(text.encode("utf-8"))


def utf8_head(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` that is at most `max_bytes` UTF-8 bytes (never half a character)."""
    return text.encode("utf-8")[: max(max_bytes, 0)].decode("utf-8", "ignore")


def derived_key(head: str, key: str, tail: str = "", reserve: int = 0) -> str:
    """`head + key + tail`, shortened when needed so it and `reserve` more bytes fit in an S3 key.

    When the whole key would be longer than `MAX_KEY_BYTES - reserve` UTF-8 bytes (`reserve` is for
    what is later added to the derived key: a report suffix, a staging prefix), `key` is replaced
    by its longest UTF-8-safe head that fits followed by `~sha256-` and 32 hex digits of the
    SHA-256 of the whole key. A key that already ends like that is given a digest of its own even
    when it fits, so a shortened key can never equal the derived key of another key kept whole:
    for one `head` and `tail`, two different keys give two different derived keys unless their
    digests collide (about 2^-128). The result is deterministic, so a retry writes the same key.

    Raises ValueError when `head` and `tail` alone leave no room for the digest.
    """
    budget = MAX_KEY_BYTES - reserve - utf8_length(head) - utf8_length(tail)
    if utf8_length(key) <= budget and not _DIGESTED.search(key):
        return f"{head}{key}{tail}"
    digest = DIGEST_MARK + hashlib.sha256(key.encode("utf-8")).hexdigest()[:DIGEST_HEX]
    room = budget - utf8_length(digest)
    if room < 0:
        raise ValueError(f"no room for a derived key: {head!r} and {tail!r} leave {budget} of {MAX_KEY_BYTES} bytes")
    return f"{head}{utf8_head(key, room)}{digest}{tail}"
