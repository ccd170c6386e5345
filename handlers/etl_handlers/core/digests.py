"""An exact set of transaction ids for finding repeated ids in big files: in memory, then about 5 bytes an id.

Every answer is exact. A digest match is only a *candidate*: the id it points to is read back and
compared before an id is called a repeat. So a collision of digests never rejects a valid file, and
the result depends neither on the digest function (Python's `hash`, keyed per process) nor on the run.

Two stages:

1. While the ids take at most `in_memory_bytes` (estimated as 100 bytes per id plus its length;
   see `in_memory_budget`: in a Lambda function a quarter of its memory, shared by the unique
   fields, 192 MiB or about 1.8 million ids of 11 characters at 768 MB for one; elsewhere 32 MiB,
   about 300,000), they are kept in a Python set of the ids themselves: exact, checked a whole
   batch at a time in C (about 0.25 microseconds an id), nothing written to disk. Most files end
   here.
2. Beyond, new ids are spilled in arrival order to an unnamed temporary file in `spill_dir` (by
   default the temporary directory: Lambda's /tmp), and memory keeps a compact index of 4 bytes per
   id: 2^17 buckets, chosen by the top 17 bits of the id's 64-bit digest, each a `bytes` of 4-byte
   entries. An entry is 16 more bits of the digest (the fingerprint) and the number, modulo 2^16, of
   the id's *chunk* in the spill file (a chunk is 256 consecutive ids; the byte offset of each chunk
   is kept, 8 bytes per chunk). An id whose bucket has no entry with its fingerprint is new: the
   common case, which a batch of ids goes through with `map` over C functions (`bytes.find`,
   `bytes.__add__`) rather than a Python loop. The others are looked at one by one: each chunk that
   an entry with their fingerprint names is read back (one `pread`) and searched for the id itself.
   Found, it is a repeat; not found, the digests merely collided. At 14.3 million ids, 1 id in 300
   is looked at and 1 in 1,200 costs a read. The last chunks read are kept, so repeats in the order
   of their originals (a file sent twice in one) cost no read. The set of the first stage goes on
   answering for its own ids until the index holds four times as many; then they are moved into the
   index and the set is dropped (a file of up to five times the set's ids never pays the index for
   them). A set given a function's share of memory (more than 32 MiB) answers to the end.

A bucket is replaced whole on each insert (a new `bytes` one entry longer) rather than grown in
place: growing 131,072 buffers step by step fragments the heap (18 MB more at 14 million ids).

Costs of the second stage, per id: about 5 bytes of memory (a validate of 14.3 million rows peaks
at 93 MB with a first stage of 32 MiB, against 414 MB before the index, and at 260 MB with the
192 MiB of a 768 MB function); about 1 microsecond at 1 million ids and 1.4 at 14 million
(against 0.25 for the inexact set of digests and 0.7 for the inexact table it replaces); and on disk
the id's UTF-8 bytes plus one, a backslash or a line feed written as two (171 MB at 14.3 million ids
of 11 characters, 37 bytes per UUID). So the spill file can outgrow the file checked: never a JSON
file (which escapes both), but up to twice a CSV file of ids made of backslashes. Memory cannot be
constant while each answer is exact and given on the spot at this speed: every id keeps its
fingerprint and its chunk in memory. A full disk raises `OSError`: a fault, not the data's.

Measured and rejected (bench/handler_memory.py, 14 million ids): a set of digests (64 bytes per id:
415 MB); an open-addressing table of 4-byte slots filled by a Python loop (no faster, and rebuilt
from the spill file at each doubling); one flat bucketed table searched with `bytearray.find` (no
faster, the same rebuilds); `bytearray` buckets grown in place (6% faster, 18 MB more); 2^18 buckets
(8% faster, 10 MB more); sorted runs merged on disk (no answer until the end of the file); zlib on the
spill file (0.3 to 0.9 microseconds per id).
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain, compress, repeat
from operator import and_, rshift
from typing import IO

#: Bytes of ids (estimated as 100 per id plus its length) kept exactly in memory before spilling,
#: outside a Lambda function (see `in_memory_budget`), and the least a function's share may be.
IN_MEMORY_BYTES = 32 * 1024 * 1024
#: In a Lambda function, the ids may take this fraction of its memory before spilling.
LAMBDA_MEMORY_SHARE = 4  # a quarter
_ID_OVERHEAD = 100
_FOLD_RATIO = 4  # the set is folded into the index once the index holds this many times as many ids
_BUCKET_BITS = 17
_BUCKET_SHIFT = 64 - _BUCKET_BITS  # a signed 64-bit digest >> this is a valid (possibly negative) list index
_CHUNK_BITS = 8  # 256 ids per chunk
_CHUNK_IDS = 1 << _CHUNK_BITS
_CHUNK_WRAP = 1 << 16  # chunk numbers are stored modulo this
_FLUSH_CHUNKS = 16
_CACHED_CHUNKS = 4
_CACHE_CHUNK_BYTES = 64 * 1024
_READ_BYTES = 1 << 20
_M64 = (1 << 64) - 1
_SIGN = 1 << 63


def in_memory_budget(environ: Mapping[str, str] = os.environ, sets: int = 1) -> int:
    """Bytes of ids each of `sets` `DigestSet`s keeps in memory before it spills, for the process it runs in.

    In a Lambda function (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, its memory in MB, which Lambda sets:
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime):
    a quarter of that memory shared by the `sets` (a file's checker has one set per unique field), and
    at least `IN_MEMORY_BYTES` each. Lambda bills the memory a function is given, not the memory it
    uses, so ids kept in memory up to that share cost nothing, and each costs about a quarter of the
    time of a spilled one. Elsewhere (the CLI, a test), `IN_MEMORY_BYTES` each.
    """
    try:
        megabytes = int(environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""))
    except ValueError:
        return IN_MEMORY_BYTES
    return max(IN_MEMORY_BYTES, (megabytes << 20) // LAMBDA_MEMORY_SHARE // max(1, sets))


class DigestSet:
    """Remembers which strings were seen, exactly: in memory at first, then spilled to a file.

    `digest` maps a string to an int, of which the low 64 bits are used. Default: `hash`. It decides
    the speed, never an answer: a poor one (a constant) makes every id collide, as tests do.
    `in_memory_bytes`: how much of the ids (estimated as 100 bytes per id plus its length) is kept
    in memory, exactly, before the set spills. Default: `in_memory_budget(sets=sharing)`, read when
    the set is made; 0 spills at the first id.
    `sharing`: how many sets made together share the default budget (one per unique field). Default: 1.
    `spill_dir`: where the spill file is made. Default: `tempfile.gettempdir()`.
    """

    __slots__ = (
        "_buckets",
        "_cache",
        "_digest",
        "_exact",
        "_exact_bytes",
        "_file",
        "_flushed",
        "_in_memory_bytes",
        "_offsets",
        "_pending",
        "_spill_dir",
    )

    def __init__(
        self,
        digest: Callable[[str], int] | None = None,
        in_memory_bytes: int | None = None,
        spill_dir: str | None = None,
        sharing: int = 1,
    ) -> None:
        if digest is None or digest is hash:
            self._digest: Callable[[str], int] = hash
        else:
            self._digest = lambda value: ((digest(value) & _M64) ^ _SIGN) - _SIGN
        self._in_memory_bytes = in_memory_budget(sets=sharing) if in_memory_bytes is None else in_memory_bytes
        self._spill_dir = spill_dir
        self._exact: set[str] | None = set()
        self._exact_bytes = 0
        self._buckets: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._offsets = array("Q", [0])  # chunk c of the spill file is [offsets[c], offsets[c + 1])
        self._flushed = 0  # chunks written
        self._pending: list[str] = []  # ids of chunks not written yet, from chunk `_flushed` on
        self._cache: dict[int, list[bytes]] = {}

    def __len__(self) -> int:
        return (len(self._exact) if self._exact is not None else 0) + self._indexed()

    @property
    def in_memory_bytes(self) -> int:
        """Bytes of ids (estimated as 100 per id plus its length) this set keeps in memory before it spills."""
        return self._in_memory_bytes

    @property
    def disk_bytes(self) -> int:
        """Bytes written to the spill file so far (0 while every id is in memory)."""
        return self._offsets[-1]

    def close(self) -> None:
        """Delete the spill file (it is deleted anyway when the set is garbage or the process ends).

        A spilled set that is closed raises `ValueError` when an answer needs the file, rather than
        start afresh: it never calls an id new that it has seen.
        """
        if self._file is not None:
            self._file.close()  # the closed file stays: the set still counts as spilled

    def add(self, value: str) -> bool:
        """Add `value`; return False when it was already there."""
        exact = self._exact
        if exact is not None:
            if value in exact:
                return False
            if self._file is None:
                if self._exact_bytes + _ID_OVERHEAD + len(value) <= self._in_memory_bytes:
                    exact.add(value)
                    self._exact_bytes += _ID_OVERHEAD + len(value)
                    return True
                self._spill()
        digest = self._digest(value)
        key = digest >> _BUCKET_SHIFT
        bucket = self._buckets[key]
        fingerprint = (digest & 0xFFFF).to_bytes(2)
        if bucket.find(fingerprint) >= 0 and self._seen(value, bucket, fingerprint):
            return False
        self._buckets[key] = bucket + fingerprint + _chunk_bytes(self._indexed() >> _CHUNK_BITS)
        self._append([value])
        self._fold_when_outgrown()
        return True

    def add_many(self, values: Sequence[str]) -> int:
        """Add `values` in order until one repeats; return how many were added (len(values) if none)."""
        exact = self._exact
        if exact is not None and self._file is None:
            size = _ID_OVERHEAD * len(values) + sum(map(len, values))
            if self._exact_bytes + size <= self._in_memory_bytes:
                if exact.isdisjoint(values):
                    before = len(exact)
                    exact.update(values)
                    if len(exact) - before == len(values):
                        self._exact_bytes += size
                        return len(values)
                    exact.difference_update(values)  # none was there before: a repeat within the batch
                for position, value in enumerate(values):  # a repeat in this batch: find where
                    if value in exact:
                        return position
                    exact.add(value)
                    self._exact_bytes += _ID_OVERHEAD + len(value)
                return len(values)  # pragma: no cover - isdisjoint said there was a repeat
            self._spill()
        if exact is not None and not exact.isdisjoint(values):
            values = values[: next(p for p, value in enumerate(values) if value in exact)]
        added = self._add_spilled(values)
        self._fold_when_outgrown()
        return added

    def _spill(self) -> None:
        """Start the spill file and the compact index; the ids of the set stay in it for now."""
        self._file = tempfile.TemporaryFile(dir=self._spill_dir, buffering=0)  # noqa: SIM115 - closed by close()
        self._buckets = [b""] * (1 << _BUCKET_BITS)

    def _fold_when_outgrown(self) -> None:
        """Move the ids of the set into the index once the index holds many more (to free the set's memory).

        Until then the set answers for its ids at C speed, so a file a few times bigger than the
        set pays the index only for the ids beyond it. A set given more than `IN_MEMORY_BYTES` (a
        function's share) is never folded: its memory is the function's to use, and moving its ids
        costs more time than it saves. Measured at 14.3 million ids (bench/README.md), validate took
        33.0 s with 192 MiB kept to the end, 35.1 s folded, and 33.2 s with 32 MiB folded.
        """
        exact = self._exact
        if exact is None or self._in_memory_bytes > IN_MEMORY_BYTES or self._indexed() <= _FOLD_RATIO * len(exact):
            return
        self._exact = None
        values = list(exact)
        for start in range(0, len(values), 4096):
            self._add_spilled(values[start : start + 4096])

    def _indexed(self) -> int:
        """How many ids the index holds."""
        return self._flushed * _CHUNK_IDS + len(self._pending)

    def _add_spilled(self, values: Sequence[str]) -> int:
        count = len(values)
        if not count:
            return 0
        digests = list(map(self._digest, values))
        keys = list(map(rshift, digests, repeat(_BUCKET_SHIFT)))
        buckets = list(map(self._buckets.__getitem__, keys))
        fingerprints = list(map(int.to_bytes, map(and_, digests, repeat(0xFFFF)), repeat(2)))
        # `find`, not `in`: `bytes.__contains__` first tries its argument as an int, and the exception
        # that raises and clears costs more than the search.
        found = list(map(bytes.find, buckets, fingerprints))
        # The last id of this batch for each bucket it takes; with as many buckets as ids, no two have one digest.
        last = dict(zip(keys, range(count), strict=True))
        added = count
        if max(found) >= 0 or (len(last) != count and len(set(digests)) != count):
            hits = [at >= 0 for at in found]
            added = self._first_repeat(values, digests, buckets, fingerprints, hits)
            last = dict(zip(keys[:added], range(added), strict=True))
        entries = list(map(bytes.__add__, fingerprints, _chunk_numbers(self._indexed(), added)))
        # Buckets are bytes, replaced whole: exact-size objects, no slack, no growing buffers to fragment
        # the heap. When a bucket takes two ids of this batch, the last one replaces it here from the
        # bucket as it was, and the others are added to that result one at a time.
        table = self._buckets
        if len(last) == added:
            deque(map(table.__setitem__, keys, map(bytes.__add__, buckets, entries)), maxlen=0)
        else:
            winners = list(last.values())
            deque(
                map(
                    table.__setitem__,
                    map(keys.__getitem__, winners),
                    map(bytes.__add__, map(buckets.__getitem__, winners), map(entries.__getitem__, winners)),
                ),
                maxlen=0,
            )
            for position in set(range(added)).difference(winners):
                table[keys[position]] += entries[position]
        self._append(values[:added] if added < count else values)
        return added

    def _first_repeat(
        self,
        values: Sequence[str],
        digests: list[int],
        buckets: list[bytes],
        fingerprints: list[bytes],
        hits: list[bool],
    ) -> int:
        """The position of the first value that repeats an earlier one (len(values) if none), exactly.

        Only suspects are looked at one by one: the values whose bucket holds their fingerprint, and
        those whose digest an earlier value of the batch has.
        """
        suspects = list(compress(range(len(values)), hits))
        same: dict[int, list[int]] = {}
        if len(set(digests)) != len(digests):
            for position, digest in enumerate(digests):
                same.setdefault(digest, []).append(position)
            later = (position for positions in same.values() for position in positions[1:])
            suspects = sorted(set(suspects).union(later))
        for position in suspects:
            value = values[position]
            if hits[position] and self._seen(value, buckets[position], fingerprints[position]):
                return position
            if value in (values[p] for p in same.get(digests[position], ()) if p < position):
                return position
        return len(values)

    def _seen(self, value: str, bucket: bytes, fingerprint: bytes) -> bool:
        """Whether an entry of `bucket` with `fingerprint` is `value` itself (read back from its chunk)."""
        chunks = set()
        at = bucket.find(fingerprint)
        while at >= 0:
            if not at & 3:  # a match across two entries is no match
                chunks.add(int.from_bytes(bucket[at + 2 : at + 4], "little"))
            at = bucket.find(fingerprint, at + 1)
        last = (self._indexed() - 1) >> _CHUNK_BITS
        return any(
            self._in_chunk(value, candidate)
            for chunk in sorted(chunks)
            for candidate in range(chunk, last + 1, _CHUNK_WRAP)  # every chunk with that number modulo 2^16
        )

    def _in_chunk(self, value: str, chunk: int) -> bool:
        if chunk >= self._flushed:
            start = (chunk - self._flushed) * _CHUNK_IDS
            return value in self._pending[start : start + _CHUNK_IDS]
        key = _escape(value).encode("utf-8", "surrogatepass")
        lines = self._cache.get(chunk)
        if lines is not None:
            return key in lines
        start, end = self._offsets[chunk], self._offsets[chunk + 1]
        if end - start > _CACHE_CHUNK_BYTES:
            return key in _stream_lines(self._fileno(), start, end)
        lines = os.pread(self._fileno(), end - start, start).split(b"\n")
        if len(self._cache) >= _CACHED_CHUNKS:
            del self._cache[next(iter(self._cache))]
        self._cache[chunk] = lines
        return key in lines

    def _append(self, values: Sequence[str]) -> None:
        pending = self._pending
        pending.extend(values)
        if len(pending) < _FLUSH_CHUNKS * _CHUNK_IDS:
            return
        full = len(pending) >> _CHUNK_BITS << _CHUNK_BITS
        parts = []
        offsets = self._offsets
        end = offsets[-1]
        for start in range(0, full, _CHUNK_IDS):
            chunk = pending[start : start + _CHUNK_IDS]
            text = "\n".join(chunk).replace("\\", "\\\\")
            if text.count("\n") != _CHUNK_IDS - 1:  # an id holds a line break: escape it
                text = "\n".join(map(_escape, chunk))
            data = text.encode("utf-8", "surrogatepass")
            parts.append(data)
            end += len(data)
            offsets.append(end)
        _write_all(self._fileno(), b"".join(parts), offsets[self._flushed])
        self._flushed += full >> _CHUNK_BITS
        del pending[:full]

    def _fileno(self) -> int:
        if self._file is None or self._file.closed:
            raise ValueError("the set is closed")
        return self._file.fileno()


def _chunk_numbers(seq: int, count: int) -> Iterator[bytes]:
    """The 2-byte chunk number of each of `count` ids numbered from `seq` on."""
    first, last = seq >> _CHUNK_BITS, (seq + count - 1) >> _CHUNK_BITS
    runs = [repeat(_chunk_bytes(first), min(count, (first + 1) * _CHUNK_IDS - seq))]
    runs += [repeat(_chunk_bytes(c), _CHUNK_IDS) for c in range(first + 1, last)]
    if last > first:
        runs.append(repeat(_chunk_bytes(last), seq + count - last * _CHUNK_IDS))
    return chain.from_iterable(runs)


def _chunk_bytes(chunk: int) -> bytes:
    return (chunk % _CHUNK_WRAP).to_bytes(2, "little")


def _escape(value: str) -> str:
    """The id as stored: backslash and line feed escaped, so that ids are the file's lines."""
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _stream_lines(fd: int, start: int, end: int) -> Iterator[bytes]:
    """The lines of [start, end) of a file, read a piece at a time (for chunks of very long ids)."""
    rest = b""
    while start < end:
        piece = os.pread(fd, min(_READ_BYTES, end - start), start)
        if not piece:
            raise OSError(f"the spill file ends at {start}, before {end}")
        start += len(piece)
        lines = (rest + piece).split(b"\n")
        rest = lines.pop()
        yield from lines
    yield rest


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
