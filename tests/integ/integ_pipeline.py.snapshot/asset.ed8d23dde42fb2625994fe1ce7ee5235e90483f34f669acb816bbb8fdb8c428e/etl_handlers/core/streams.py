"""Byte streams: a counting reader over any object with `read(n)`, and buffered text on top of it."""

from __future__ import annotations

import io
from typing import Protocol

READ_BUFFER = 256 * 1024


class Readable(Protocol):
    """Anything with `read(n)`: a file, a BytesIO, botocore's StreamingBody."""

    def read(self, size: int = ..., /) -> bytes:
        """Read up to `size` bytes."""
        ...


class CountingReader(io.RawIOBase):
    """A raw stream over `source` that counts the bytes read through it."""

    def __init__(self, source: Readable) -> None:
        super().__init__()
        self._source = source
        self.bytes_read = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill `buffer` from the source."""
        data = self._source.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.bytes_read += size
        return size


def text_stream(raw: CountingReader) -> io.TextIOWrapper:
    """UTF-8 text over `raw`, a leading byte-order mark dropped, line ends kept as they are."""
    return io.TextIOWrapper(
        io.BufferedReader(raw, buffer_size=READ_BUFFER), encoding="utf-8-sig", errors="strict", newline=""
    )
