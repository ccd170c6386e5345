"""Where moto's S3 holds whole objects in memory, and the patches that make it stream.

moto keeps each object's bytes in a `SpooledTemporaryFile`: in memory up to about 5 MB, on disk
past that. But some operations read a whole object into one `bytes` to serve it, so run-local's
peak memory grew with the size of the files (a 1M-row file, 61 MB in and 190 MB out, went past
1.3 GB). While `streaming_s3()` is open:

- GetObject answers with a body read from the object's file as the reader asks for it, where moto
  reads `FakeKey.value` whole (and botocore wraps it in a BytesIO). A Range request slices the
  body without reading it.
- UploadPartCopy (boto3's managed `copy` of an object over 8 MB, ten threads at once) reads only
  the range it copies, in blocks, where moto reads the whole source in every thread to cut out
  one range. CopyObject writes the copy block by block from the source's file too.
- CompleteMultipartUpload writes the new object's file from the parts' files block by block, and
  computes its checksum as the blocks go by, where moto joins the parts in a bytearray, joins them
  again for the checksum and makes `bytes` of both: four copies of the object.
- An object written so (a copy, a part copy) gets its ETag, the MD5 of its bytes, as it is
  written, where moto reads the file back in 16 MB blocks, in each of the ten threads.
- Each request moto serves in-process becomes a werkzeug `Request` whose environ refers back to it
  (`environ["werkzeug.request"]`, which only werkzeug's debugger reads). The cycle keeps the
  request's body, and two copies of it, alive until a full garbage collection, which a process
  holding as many long-lived objects as moto's seldom runs: a file uploaded in 8 MB parts kept
  every part in memory until the upload completed. The reference is dropped once the request is
  made, so a request is freed as soon as it has been served.

An object's file is read through a duplicate of its descriptor with positional reads, so a body
being read is not disturbed by another request on the same object, and stays readable after the
object is deleted (as a GET in flight completes in S3). Objects small enough to stay in memory,
and every other operation, are served by moto unchanged.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from moto.core import botocore_stubber
from moto.core.compat import HAS_CRT
from moto.core.request import normalize_request as _normalize_request
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
from moto.s3.models import FakeKey, FakeMultipart, MultipartChecksumBuilder, S3Backend
from moto.s3.responses import S3Response
from moto.settings import S3_UPLOAD_PART_MIN_SIZE
from moto.utilities.utils import md5_hash

#: The moto internals patched here; tests/constructs/local/test_streaming.py checks they still exist.
KEY_VALUE_HOOK = (FakeKey, "value")
GET_OBJECT_HOOK = (S3Response, "get_object")
PART_COPY_HOOK = (S3Backend, "upload_part_copy")
COPY_HOOK = (S3Backend, "copy_object")
COMPLETE_HOOK = (FakeMultipart, "complete")
RAW_RESPONSE_HOOK = (botocore_stubber, "MockRawResponse")
PROCESS_REQUEST_HOOK = (botocore_stubber.BotocoreStubber, "process_request")
NORMALIZE_REQUEST_HOOK = (botocore_stubber, "normalize_request")
#: How much is read or written at a time.
BLOCK_SIZE = 1 << 20
#: The most `aws s3 cp` (boto3's transfer manager) sends in one PutObject, and its part size past that.
MULTIPART_THRESHOLD = 8 * 1024 * 1024

_lazy = threading.local()


class _Descriptor:
    """A duplicate of a file's descriptor, closed when no body refers to it any more."""

    fd = -1

    def __init__(self, fd: int) -> None:
        self.fd = os.dup(fd)

    def __del__(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)


class FileBody:
    """Bytes `start` to `stop` of an object's file, read when asked: stands for `FakeKey.value`.

    It has the parts of `bytes` that moto's handling of a body uses: `len`, slicing (a Range
    request), truth; `bytes(body)` reads it whole.
    """

    def __init__(self, descriptor: _Descriptor, start: int, stop: int) -> None:
        self._descriptor = descriptor
        self.start = start
        self.stop = stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, part: slice) -> FileBody:
        start, stop, step = part.indices(len(self))
        if step != 1:
            raise ValueError("a body is sliced in steps of one byte")
        return FileBody(self._descriptor, self.start + start, self.start + max(start, stop))

    def read_at(self, offset: int, size: int) -> bytes:
        """At most `size` bytes from `offset` (counted from the body's start)."""
        size = max(0, min(size, len(self) - offset))
        return os.pread(self._descriptor.fd, size, self.start + offset) if size else b""

    def blocks(self) -> Iterator[bytes]:
        """The body in blocks of at most `BLOCK_SIZE` bytes."""
        for offset in range(0, len(self), BLOCK_SIZE):
            yield self.read_at(offset, BLOCK_SIZE)

    def __bytes__(self) -> bytes:
        return self.read_at(0, len(self))


class JoinedBody:
    """Bodies one after another (a completed multipart upload's parts), read when asked."""

    def __init__(self, parts: Sequence[FileBody | bytes]) -> None:
        self.parts = list(parts)

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def blocks(self) -> Iterator[bytes]:
        """The parts in blocks of at most `BLOCK_SIZE` bytes."""
        for part in self.parts:
            yield from _blocks(part)


def _blocks(value: FileBody | JoinedBody | bytes) -> Iterator[bytes]:
    if isinstance(value, (FileBody, JoinedBody)):
        yield from value.blocks()
    elif value:
        yield value


def key_body(key: FakeKey) -> FileBody | bytes:
    """The key's value as a `FileBody` when it is on disk; as `bytes` when it is in memory (small)."""
    buffer = key._value_buffer
    if not getattr(buffer, "_rolled", False):  # still a BytesIO in memory
        return _value_getter(key)
    with key.lock:
        buffer.flush()  # positional reads of the descriptor must see what the buffered file holds
        return FileBody(_Descriptor(buffer.fileno()), 0, key.size)


_value_property: property = FakeKey.__dict__["value"]
_value_getter: Callable[[FakeKey], bytes] = _value_property.fget  # type: ignore[assignment]
_value_setter: Callable[[FakeKey, Any], None] = _value_property.fset  # type: ignore[assignment]


def _get_value(key: FakeKey) -> FileBody | bytes:
    # Lazy only for the one read of the calls patched below (the object served or copied): what
    # moto does under them (events, a function invoked in-process) and everything else gets bytes.
    if getattr(_lazy, "armed", False):
        _lazy.armed = False
        return key_body(key)
    return _value_getter(key)


def _set_value(key: FakeKey, value: Any) -> None:
    if not isinstance(value, (FileBody, JoinedBody)):
        _value_setter(key, value)
        return
    buffer = key._value_buffer
    buffer.seek(0)
    buffer.truncate()
    if len(value) > key._max_buffer_size:
        buffer.rollover()  # straight to disk: a spooled file would first gather the blocks in memory
    md5 = md5_hash()
    size = 0
    for block in value.blocks():
        buffer.write(block)
        md5.update(block)
        size += len(block)
    key.contentsize = size
    if key._etag is None:
        key._etag = md5.hexdigest()  # what `FakeKey.etag` would read the whole file again for


@contextmanager
def _lazy_values() -> Iterator[None]:
    previous = getattr(_lazy, "armed", False)
    _lazy.armed = True
    try:
        yield
    finally:
        _lazy.armed = previous


def _with_lazy_values(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _lazy_values():
            return method(*args, **kwargs)

    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


class RunningChecksum:
    """moto's `compute_checksum` of a whole object, computed block by block (same algorithms, same fallbacks)."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._crc = 0
        self._hash: Any = None
        self._crc32c: Callable[..., int] | None = None
        if algorithm == "SHA1":
            self._hash = hashlib.sha1(usedforsecurity=False)
        elif algorithm == "CRC32C":
            try:
                import crc32c  # type: ignore[import-not-found]

                self._crc32c = crc32c.crc32c
            except ImportError:  # moto falls back to CRC32 too
                pass
        elif algorithm not in ("CRC32", "CRC64NVME"):
            self._hash = hashlib.sha256(usedforsecurity=False)

    def update(self, block: bytes) -> None:
        """Add the next block of the object."""
        if self._hash is not None:
            self._hash.update(block)
        elif self._crc32c is not None:
            self._crc = self._crc32c(block, self._crc)
        elif self.algorithm == "CRC64NVME" and HAS_CRT:
            from awscrt import checksums  # type: ignore[import-not-found]

            self._crc = checksums.crc64nvme(block, self._crc)
        else:
            self._crc = binascii.crc32(block, self._crc)

    def digest(self) -> bytes:
        """The checksum's bytes."""
        if self._hash is not None:
            digest: bytes = self._hash.digest()
            return digest
        return self._crc.to_bytes(8 if self.algorithm == "CRC64NVME" and HAS_CRT else 4, "big")

    def value(self) -> str:
        """The checksum, base64-encoded, as moto records it."""
        return base64.b64encode(self.digest()).decode()


def complete(
    self: FakeMultipart, body: Iterator[tuple[int, str]]
) -> tuple[JoinedBody, str, tuple[str, str, int] | None]:
    """`FakeMultipart.complete` of moto 5.2, the parts joined lazily: the same checks, ETag and checksum.

    The parts' files are held open by the returned body, since moto disposes of the upload (and
    closes its parts) before it writes the new object.
    """
    checksum_algo: str | None = self.metadata.get("x-amz-checksum-algorithm")
    checksum_type: str | None = self.metadata.get("x-amz-checksum-type")
    decode_hex = codecs.getdecoder("hex_codec")
    md5s = bytearray()
    builder = MultipartChecksumBuilder(checksum_algo, checksum_type)
    whole = None if builder.checksum_type == "COMPOSITE" else RunningChecksum(builder.checksum_algorithm)
    parts: list[FileBody | bytes] = []
    last = None
    for pn, etag in body:
        part = self.parts.get(pn)
        part_etag = None
        if part is not None:
            part_etag = part.etag.replace('"', "")
            etag = etag.replace('"', "")
        if part is None or part_etag != etag:
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(decode_hex(part_etag)[0])  # type: ignore[arg-type]
        value = key_body(part)
        parts.append(value)
        if whole is None:  # COMPOSITE: the checksum of the parts' checksums, as `builder.addPart` makes it
            own = RunningChecksum(builder.checksum_algorithm)
            for block in _blocks(value):
                own.update(block)
            builder.checksum.extend(own.digest())
            builder.part_count += 1
        else:
            for block in _blocks(value):
                whole.update(block)
        last = part
    if not parts:
        raise MalformedXML
    full_etag = md5_hash()
    full_etag.update(bytes(md5s))
    checksum = builder.build() if whole is None else (builder.checksum_type, whole.value(), 1)
    return JoinedBody(parts), f"{full_etag.hexdigest()}-{len(parts)}", checksum


class BodyStream(io.RawIOBase):
    """A `FileBody` as the raw stream of a botocore response (what `MockRawResponse` is for bytes)."""

    def __init__(self, body: FileBody) -> None:
        super().__init__()
        self._body: FileBody | None = body
        self._offset = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def read(self, size: int | None = -1) -> bytes:
        """At most `size` bytes (all that is left when `size` is None or negative); b"" at the end."""
        if size is None or size < 0:
            return self.readall()
        if self._body is None:
            raise ValueError("read of a closed body")
        data = self._body.read_at(self._offset, size)
        self._offset += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        """Read the next bytes into `buffer`; 0 at the end."""
        if self._body is None:
            raise ValueError("read of a closed body")
        data = self._body.read_at(self._offset, len(buffer))
        buffer[: len(data)] = data
        self._offset += len(data)
        return len(data)

    def readall(self) -> bytes:
        """The rest of the body."""
        if self._body is None:
            raise ValueError("read of a closed body")
        data = self._body.read_at(self._offset, len(self._body) - self._offset)
        self._offset += len(data)
        return data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        """The rest of the body in blocks (what botocore reads a whole response with)."""
        while block := self.read(BLOCK_SIZE):
            yield block

    def close(self) -> None:
        """Release the object's file (once no other body refers to it)."""
        self._body = None
        super().close()


_raw_response = botocore_stubber.MockRawResponse
_process_request = botocore_stubber.BotocoreStubber.process_request


def _normalized(request: Any) -> Any:
    made = _normalize_request(request)
    if made is not request:
        made.environ.pop("werkzeug.request", None)  # the cycle: see the module's docstring
    return made


def _raw(body: Any) -> Any:
    return BodyStream(body) if isinstance(body, FileBody) else _raw_response(body)


def _processed(self: Any, request: Any) -> Any:
    response = _process_request(self, request)
    # Only botocore reading a streaming output takes a stream; a request made with `requests`
    # (answered through `responses`, with `stream_output=False`) takes bytes, as from moto.
    if response is not None and isinstance(response[2], FileBody) and not request.stream_output:
        status, headers, body = response
        return status, headers, bytes(body)
    return response


@contextmanager
def streaming_s3() -> Iterator[None]:
    """While open, moto's S3 streams objects on disk instead of reading them whole (see the module)."""
    with ExitStack() as stack:
        patch = stack.enter_context
        patch(mock.patch.object(*KEY_VALUE_HOOK, property(_get_value, _set_value)))
        patch(mock.patch.object(*GET_OBJECT_HOOK, _with_lazy_values(S3Response.get_object)))
        patch(mock.patch.object(*PART_COPY_HOOK, _with_lazy_values(S3Backend.upload_part_copy)))
        patch(mock.patch.object(*COPY_HOOK, _with_lazy_values(S3Backend.copy_object)))
        patch(mock.patch.object(*COMPLETE_HOOK, complete))
        patch(mock.patch.object(*RAW_RESPONSE_HOOK, _raw))
        patch(mock.patch.object(*PROCESS_REQUEST_HOOK, _processed))
        patch(mock.patch.object(*NORMALIZE_REQUEST_HOOK, _normalized))
        yield


def put_file(s3: Any, bucket: str, key: str, path: Path) -> str:
    """Upload a file as `aws s3 cp` does, and return the new version's id (`"null"` when unversioned).

    Up to `MULTIPART_THRESHOLD` bytes go in one PutObject; a larger file goes as a multipart upload
    of parts that size, read one at a time, so memory holds one part however large the file.
    """
    if path.stat().st_size <= MULTIPART_THRESHOLD:
        put = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        return str(put.get("VersionId") or "null")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts: list[dict[str, Any]] = []
    try:
        with path.open("rb") as source:
            while part := source.read(MULTIPART_THRESHOLD):
                number = len(parts) + 1
                sent = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part)
                parts.append({"ETag": sent["ETag"], "PartNumber": number})
        done = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return str(done.get("VersionId") or "null")
