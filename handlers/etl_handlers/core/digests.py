"""A set of 60-bit digests, for finding repeated transaction ids without keeping the ids.

Two stages, chosen by measurement on this project's benchmark (bench/run.py):

- up to `FAST_LIMIT` (2^20) ids, a Python set of digests, checked a whole batch at a time in C
  (about 64 bytes per id: 64 MB at a million ids);
- beyond, an open-addressing table of 8-byte slots kept at most half full (16 to 32 bytes per id,
  about 256 MB for 14 million), filled by a Python loop: slower, but memory stays bounded.

The digest is Python's own string hash (SipHash, keyed per process, cached on the string), cut to
60 bits so each one is a small two-digit int. Two different ids share a digest with probability
about n^2 / 2^61 (4e-7 for a million ids): such a collision would reject a valid file as a
duplicate, never accept a duplicate.
"""

from __future__ import annotations

from array import array

_MASK60 = (1 << 60) - 1
_INITIAL_SLOTS = 1 << 12
#: Ids kept in the fast stage before moving to the compact table.
FAST_LIMIT = 1 << 20


class DigestSet:
    """Remembers which strings were seen, by digest."""

    __slots__ = ("_count", "_fast", "_mask", "_slots")

    def __init__(self) -> None:
        self._fast: set[int] | None = set()
        self._slots = array("q")
        self._mask = 0
        self._count = 0

    def __len__(self) -> int:
        return len(self._fast) if self._fast is not None else self._count

    def add(self, value: str) -> bool:
        """Add `value`; return False when it (or a string with its digest) was already there."""
        digest = hash(value) & _MASK60
        fast = self._fast
        if fast is not None:
            if digest in fast:
                return False
            if len(fast) < FAST_LIMIT:
                fast.add(digest)
                return True
            self._to_table()
        return self._table_add([digest | 1]) == 1

    def add_many(self, values: list[str]) -> int:
        """Add `values` in order until one repeats; return how many were added (len(values) if none)."""
        digests = list(map(_MASK60.__and__, map(hash, values)))
        fast = self._fast
        if fast is not None and len(fast) + len(digests) > FAST_LIMIT:
            self._to_table()
            fast = None
        if fast is None:
            return self._table_add([d | 1 for d in digests])  # | 1: never 0, the empty slot
        if fast.isdisjoint(digests) and len(set(digests)) == len(digests):
            fast.update(digests)
            return len(digests)
        for position, digest in enumerate(digests):  # a repeat in this batch: find where
            if digest in fast:
                return position
            fast.add(digest)
        return len(digests)  # pragma: no cover - isdisjoint said there was a repeat

    def _to_table(self) -> None:
        fast = self._fast or set()
        self._fast = None
        size = _INITIAL_SLOTS
        while size < 2 * (len(fast) + 1):
            size *= 2
        self._slots = array("q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0
        self._table_add([d | 1 for d in fast])

    def _table_add(self, digests: list[int]) -> int:
        while (self._count + len(digests)) * 2 > self._mask:
            self._grow()  # room for the whole batch first, so the loop below never grows
        slots, mask = self._slots, self._mask
        for position, digest in enumerate(digests):
            index = digest & mask
            current = slots[index]
            while current:
                if current == digest:
                    self._count += position
                    return position
                index = (index + 1) & mask
                current = slots[index]
            slots[index] = digest
        self._count += len(digests)
        return len(digests)

    def _grow(self) -> None:
        old = self._slots
        size = max(_INITIAL_SLOTS, len(old) * 2)
        self._slots = slots = array("q", bytes(8 * size))
        self._mask = mask = size - 1
        for digest in old:
            if digest:
                index = digest & mask
                while slots[index]:
                    index = (index + 1) & mask
                slots[index] = digest
