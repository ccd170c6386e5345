"""S3 streaming: read an object version as a stream, write output as a multipart upload (visible when whole)."""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.exceptions import ClientError

PART_SIZE = 8 * 1024 * 1024


#: The version id S3 gives objects of a bucket that is not versioned.
UNVERSIONED = "null"


def is_pinned(version: str | None) -> bool:
    """True when `version` names one immutable object version (not an unversioned object)."""
    return version not in (None, "", UNVERSIONED)


def version_args(version: str | None) -> dict[str, str]:
    """`VersionId` for an S3 call when the version is pinned, nothing otherwise."""
    return {"VersionId": version} if version is not None and is_pinned(version) else {}


def open_version(s3: Any, bucket: str, key: str, version: str) -> Any:
    """The object's body as a stream (botocore StreamingBody); nothing is read yet."""
    return s3.get_object(Bucket=bucket, Key=key, **version_args(version))["Body"]


class MultipartWriter:
    """A binary sink that uploads to S3 in parts as it is written; memory holds one part at most.

    Nothing is visible under `key` until `close()` completes the upload; `abort()` discards it.
    """

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.key = key
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None

    def writable(self) -> bool:
        """Always writable."""
        return True

    def write(self, data: bytes) -> int:
        """Buffer `data`, uploading a part whenever a full one is ready."""
        self._buffer += data
        if len(self._buffer) >= PART_SIZE:
            self._upload_part()
        return len(data)

    def _upload_part(self) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType="application/x-ndjson"
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        part = self._s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )
        self._parts.append({"ETag": part["ETag"], "PartNumber": number})
        self._buffer.clear()

    def close(self) -> None:
        """Finish the object: one PUT for a small output, or the last part and the completion."""
        if self._upload_id is None:
            self._s3.put_object(
                Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), ContentType="application/x-ndjson"
            )
            self._buffer.clear()
            return
        if self._buffer:
            self._upload_part()
        self._s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
        )
        self._upload_id = None  # complete: nothing left to abort

    def abort(self) -> None:
        """Discard an upload not yet complete; safe to call at any point (after `close`, it does nothing)."""
        self._buffer.clear()
        if self._upload_id is not None:
            upload, self._upload_id = self._upload_id, None
            with contextlib.suppress(ClientError):  # the processed bucket's lifecycle rule aborts what is left
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload)


def read_latest(s3: Any, bucket: str, key: str, limit: int) -> tuple[bytes, str] | None:
    """Up to `limit` bytes of the object's current version and its version id, or None when there is none.

    S3 answers NoSuchKey only to a caller allowed s3:ListBucket; without it, a missing key is
    AccessDenied (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html), which is
    raised here, never taken for "not there yet": the validate role has ListBucket when it needs this.
    """
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    body = response["Body"]
    try:
        data: bytes = body.read(limit)
    finally:
        body.close()
    return data, str(response.get("VersionId") or UNVERSIONED)
