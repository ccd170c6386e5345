"""A compact set of 64-bit digests, for finding repeated transaction ids without keeping the ids.

Memory: an open-addressing table of 8-byte slots kept at most half full, so 16 to 32 bytes per
distinct id (about 16-32 MB for a million rows) instead of the ~100 bytes a Python set of
strings would take. The digest is Python's own 64-bit string hash (SipHash, keyed per process,
cached on the string). Two different ids share it with probability about n^2 / 2^65 (3e-8 for
a million ids): such a collision would reject a valid file as a duplicate, never accept one.
"""

from __future__ import annotations

from array import array

_INITIAL_SLOTS = 1 << 12


class DigestSet:
    """Remembers which strings were seen, 8 bytes of digest apiece."""

    __slots__ = ("_count", "_mask", "_slots")

    def __init__(self) -> None:
        self._slots = array("q", bytes(8 * _INITIAL_SLOTS))
        self._mask = _INITIAL_SLOTS - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, value: str) -> bool:
        """Add `value`; return False when it (or a string with its digest) was already there."""
        digest = hash(value) | 1  # never 0, the empty slot; a signed 64-bit int
        slots, mask = self._slots, self._mask
        index = digest & mask
        while True:
            current = slots[index]
            if current == 0:
                slots[index] = digest
                self._count += 1
                if self._count * 2 > mask:
                    self._grow()
                return True
            if current == digest:
                return False
            index = (index + 1) & mask

    def add_many(self, values: list[str]) -> int:
        """Add `values` in order until one repeats; return how many were added (len(values) if none)."""
        digests = [h | 1 for h in map(hash, values)]
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
        size = len(old) * 2
        self._slots = slots = array("q", bytes(8 * size))
        self._mask = mask = size - 1
        for digest in old:
            if digest:
                index = digest & mask
                while slots[index]:
                    index = (index + 1) & mask
                slots[index] = digest
