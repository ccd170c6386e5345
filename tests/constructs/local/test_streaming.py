"""moto's S3 streams with the patches: without them it reads whole objects into memory, with them it does not.

Memory is what Python allocates while the call runs (tracemalloc's peak above the level before),
on objects of tens of MB: moto alone allocates at least the object's size, the patches a few blocks.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import random
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.s3.utils import compute_checksum

from etl_constructs.local import streaming
from etl_constructs.local.streaming import BLOCK_SIZE, MULTIPART_THRESHOLD, RunningChecksum, put_file, streaming_s3

MB = 1 << 20
SIZE = 24 * MB
#: What the patches may allocate at once: a few blocks, never the object.
BOUNDED = 4 * MB
BUCKET = "bucket"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="warm-up", Body=b"x")
        client.get_object(Bucket=BUCKET, Key="warm-up")["Body"].read()  # botocore loads its models once
        yield client


def _patched(on: bool) -> AbstractContextManager[Any]:
    return streaming_s3() if on else nullcontext()


def _peak(action: Callable[[], Any]) -> tuple[int, Any]:
    """What `action` allocated at most above the level before it, and what it returned."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = action()
        return tracemalloc.get_traced_memory()[1] - before, result
    finally:
        tracemalloc.stop()


def _sha256(s3: Any, key: str, **extra: Any) -> str:
    body = s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(MB), b""):
        digest.update(chunk)
    body.close()
    return digest.hexdigest()


def _data(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("on", [False, True], ids=["moto", "streaming"])
def test_get_object_reads_an_object_on_disk_as_the_body_is_read(s3, on):
    data = _data(SIZE)
    s3.put_object(Bucket=BUCKET, Key="big", Body=data)
    with _patched(on):
        peak, digest = _peak(lambda: _sha256(s3, "big"))
    assert digest == hashlib.sha256(data).hexdigest()
    assert peak < BOUNDED if on else peak > SIZE


def test_ranges_of_a_streamed_object_are_its_bytes(s3):
    data = _data(SIZE)
    s3.put_object(Bucket=BUCKET, Key="big", Body=data)
    with streaming_s3():
        for spec, expected in [
            ("bytes=100-199", data[100:200]),
            (f"bytes={SIZE - 5}-", data[-5:]),
            ("bytes=-10", data[-10:]),
            (f"bytes=0-{SIZE + 100}", data),
        ]:
            got = s3.get_object(Bucket=BUCKET, Key="big", Range=spec)
            assert got["Body"].read() == expected, spec
            assert got["ContentLength"] == len(expected)
        with pytest.raises(ClientError, match="InvalidRange"):
            s3.get_object(Bucket=BUCKET, Key="big", Range=f"bytes={SIZE}-")


def test_a_body_being_read_survives_the_objects_deletion(s3):
    data = _data(SIZE)
    s3.put_object(Bucket=BUCKET, Key="big", Body=data)
    with streaming_s3():
        body = s3.get_object(Bucket=BUCKET, Key="big")["Body"]
        head = body.read(MB)
        s3.delete_object(Bucket=BUCKET, Key="big")
        gc.collect()  # moto closes a key's file when the key is collected
        assert head + body.read() == data


def test_small_objects_are_served_by_moto_unchanged(s3):
    s3.put_object(Bucket=BUCKET, Key="small", Body=b"hello")
    with streaming_s3():
        got = s3.get_object(Bucket=BUCKET, Key="small")
        assert type(got["Body"]._raw_stream).__name__ == "MockRawResponse"
        assert got["Body"].read() == b"hello"


def test_a_request_made_with_requests_gets_bytes(s3):
    import requests

    data = _data(SIZE)
    s3.put_object(Bucket=BUCKET, Key="big", Body=data)
    with streaming_s3():
        url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "big"})
        assert requests.get(url, timeout=30).content == data


def _multipart(s3: Any, key: str, parts: list[bytes], **create: Any) -> tuple[str, list[dict[str, Any]]]:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **create)["UploadId"]
    sent = []
    for number, part in enumerate(parts, 1):
        extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create else {}
        answer = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=part, **extra)
        sent.append({"PartNumber": number, **{k: v for k, v in answer.items() if k.startswith(("ETag", "Checksum"))}})
    return upload, sent


def _completed(s3: Any, on: bool, create: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    parts = [_data(6 * MB, 1), _data(6 * MB, 2), _data(MB, 3)]
    upload, sent = _multipart(s3, "joined", parts, **create)
    with _patched(on):
        peak, done = _peak(
            lambda: s3.complete_multipart_upload(
                Bucket=BUCKET, Key="joined", UploadId=upload, MultipartUpload={"Parts": sent}
            )
        )
        head = s3.head_object(Bucket=BUCKET, Key="joined", ChecksumMode="ENABLED")
        seen = {
            "etag": done["ETag"],
            "checksums": {k: v for k, v in head.items() if k.startswith("Checksum")},
            "size": head["ContentLength"],
            "sha256": _sha256(s3, "joined"),
        }
    assert seen["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    return peak, seen


@pytest.mark.parametrize(
    "create",
    [
        {},
        {"ChecksumAlgorithm": "CRC32"},
        {"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"},
        {"ChecksumAlgorithm": "SHA1"},
        {"ChecksumAlgorithm": "SHA256"},
    ],
    ids=lambda c: "-".join(c.values()) or "default",
)
def test_complete_multipart_upload_joins_parts_block_by_block_with_moto_s_etag_and_checksum(create):
    results = {}
    for on in (False, True):
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket=BUCKET)
            results[on] = _completed(s3, on, create)
    (moto_peak, moto_seen), (peak, seen) = results[False], results[True]
    assert seen == moto_seen
    assert moto_peak > 2 * seen["size"]
    assert peak < BOUNDED


def test_complete_multipart_upload_refuses_what_moto_refuses(s3):
    with streaming_s3():
        upload, sent = _multipart(s3, "k", [_data(6 * MB), _data(MB)])
        wrong = [sent[0], {**sent[1], "ETag": '"0123456789abcdef0123456789abcdef"'}]
        with pytest.raises(ClientError, match="InvalidPart"):
            s3.complete_multipart_upload(Bucket=BUCKET, Key="k", UploadId=upload, MultipartUpload={"Parts": wrong})
        upload, sent = _multipart(s3, "k", [_data(MB), _data(MB)])
        with pytest.raises(ClientError, match="EntityTooSmall"):
            s3.complete_multipart_upload(Bucket=BUCKET, Key="k", UploadId=upload, MultipartUpload={"Parts": sent})


@pytest.mark.parametrize("on", [False, True], ids=["moto", "streaming"])
def test_upload_part_copy_reads_only_its_range(s3, on):
    data = _data(SIZE)
    s3.put_object(Bucket=BUCKET, Key="source", Body=data)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="copy")["UploadId"]
    with _patched(on):
        peak, part = _peak(
            lambda: s3.upload_part_copy(
                Bucket=BUCKET,
                Key="copy",
                UploadId=upload,
                PartNumber=1,
                CopySource={"Bucket": BUCKET, "Key": "source"},
                CopySourceRange=f"bytes={MB}-{7 * MB - 1}",
            )
        )
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key="copy",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
        )
        assert _sha256(s3, "copy") == hashlib.sha256(data[MB : 7 * MB]).hexdigest()
    assert part["CopyPartResult"]["ETag"] == f'"{hashlib.md5(data[MB : 7 * MB]).hexdigest()}"'
    assert peak < BOUNDED if on else peak > SIZE


@pytest.mark.parametrize("on", [False, True], ids=["moto", "streaming"])
def test_copy_object_writes_the_copy_block_by_block(s3, on):
    data = _data(SIZE)
    s3.put_object(Bucket=BUCKET, Key="source", Body=data)
    with _patched(on):
        peak, _ = _peak(
            lambda: s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "source"})
        )
        assert _sha256(s3, "copy") == hashlib.sha256(data).hexdigest()
        assert s3.head_object(Bucket=BUCKET, Key="copy")["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert peak < BOUNDED if on else peak > SIZE


@pytest.mark.parametrize("on", [False, True], ids=["moto", "streaming"])
def test_a_served_request_is_freed_without_waiting_for_the_garbage_collector(s3, on):
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    part = _data(8 * MB)
    with _patched(on):
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload, PartNumber=1, Body=part)
            kept = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
            gc.enable()
    assert kept < MB if on else kept > len(part)


def test_put_file_sends_a_large_file_in_parts_and_a_small_one_in_one_put(s3, tmp_path: Path):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    large, small = tmp_path / "large.csv", tmp_path / "small.csv"
    large.write_bytes(_data(2 * MULTIPART_THRESHOLD + 5))
    small.write_bytes(b"a,b\n1,2\n")
    with streaming_s3():
        for path, etag_suffix in ((large, "-3"), (small, "")):
            version = put_file(s3, BUCKET, path.name, path)
            head = s3.head_object(Bucket=BUCKET, Key=path.name)
            assert head["VersionId"] == version
            assert head["ETag"].strip('"').endswith(etag_suffix) and ("-" in head["ETag"]) == bool(etag_suffix)
            assert _sha256(s3, path.name) == hashlib.sha256(path.read_bytes()).hexdigest()
        assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_put_file_gives_null_for_an_unversioned_bucket(s3, tmp_path: Path):
    path = tmp_path / "f.csv"
    path.write_bytes(_data(MULTIPART_THRESHOLD + 1))
    assert put_file(s3, BUCKET, "f.csv", path) == "null"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_running_checksum_is_moto_s_checksum_of_the_whole(algorithm):
    data = _data(3 * BLOCK_SIZE + 17)
    running = RunningChecksum(algorithm)
    for offset in range(0, len(data), BLOCK_SIZE):
        running.update(data[offset : offset + BLOCK_SIZE])
    assert running.value() == compute_checksum(data, algorithm).decode()


# ---------------------------------------------------------------- the moto internals patched still exist


def test_keys_hold_their_bytes_in_a_spooled_file_read_through_a_value_property():
    from moto.s3.models import FakeKey

    owner, name = streaming.KEY_VALUE_HOOK
    value = owner.__dict__[name]
    assert isinstance(value, property) and value.fget and value.fset
    source = inspect.getsource(FakeKey.__init__)
    assert "self._value_buffer = tempfile.SpooledTemporaryFile(self._max_buffer_size)" in source
    assert source.index("self._etag = etag") < source.index("self.value = value")
    spooled = FakeKey("k", b"x", account_id="123456789012", region_name="us-east-1")._value_buffer
    assert spooled._rolled is False and callable(spooled.rollover)


def test_the_operations_made_lazy_read_a_key_s_value():
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    assert "return 200, response_headers, key.value" in inspect.getsource(S3Response.get_object)
    assert ").value" in inspect.getsource(S3Backend.upload_part_copy)
    assert "multipart.set_part(part_id, src_value)" in inspect.getsource(S3Backend.upload_part_copy)
    assert "value=src_key.value" in inspect.getsource(S3Backend.copy_object)
    for hook in (streaming.GET_OBJECT_HOOK, streaming.PART_COPY_HOOK, streaming.COPY_HOOK):
        assert callable(getattr(*hook))


def test_complete_is_what_complete_multipart_upload_joins_the_parts_with():
    from moto.s3.models import S3Backend

    owner, name = streaming.COMPLETE_HOOK
    assert list(inspect.signature(getattr(owner, name)).parameters) == ["self", "body"]
    source = inspect.getsource(S3Backend.complete_multipart_upload)
    assert "value, etag, checksum_details = multipart.complete(body)" in source
    # moto disposes of the parts before it writes the object: the joined body holds their files open.
    assert source.index("del bucket.multiparts[multipart_id]") < source.index("self.put_object(")


def test_botocore_stubber_makes_requests_and_responses_through_the_names_replaced():
    from moto.core import botocore_stubber, request
    from werkzeug.wrappers import Request

    stubber = botocore_stubber.BotocoreStubber
    assert "MockRawResponse(body)" in inspect.getsource(stubber.__call__)
    assert "normalized_request = normalize_request(request)" in inspect.getsource(stubber.process_request)
    assert botocore_stubber.normalize_request is request.normalize_request
    assert 'self.environ["werkzeug.request"] = self' in inspect.getsource(Request.__init__)
    # A request made with `requests` reaches `process_request` marked as not streamed.
    prepared = inspect.getsource(stubber.process_prepared_request)
    assert "stream_output=False" in prepared and "self.process_request(aws_request)" in prepared
    assert list(inspect.signature(getattr(*streaming.PROCESS_REQUEST_HOOK)).parameters) == ["self", "request"]
