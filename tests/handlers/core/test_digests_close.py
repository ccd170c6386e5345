"""The duplicate-id check's spill file is deleted when a file's checking ends, however it ends."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from etl_handlers.core import rules
from etl_handlers.core.config import DEFAULT_CONFIG
from etl_handlers.core.digests import DigestSet
from etl_handlers.core.rules import RecordChecker

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")

IDS = [f"id-{i:06d}" for i in range(10_000)]  # past 4096 ids some chunks are written to the file


def open_spill_files(folder: Path) -> list[str]:
    """The files under `folder` this process holds open (a spill file has no name: `#123 (deleted)`)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used, closed since
            continue
        if target.startswith(f"{folder}{os.sep}"):
            found.append(target)
    return found


@pytest.fixture
def spilling(monkeypatch, tmp_path):
    """The record checker's id set spills to `tmp_path` from the first id."""
    monkeypatch.setattr(rules, "DigestSet", functools.partial(DigestSet, in_memory_bytes=0, spill_dir=str(tmp_path)))
    return tmp_path


def test_the_spill_file_is_deleted_when_the_check_completes(spilling):
    with RecordChecker(DEFAULT_CONFIG) as checker:
        assert checker.check_columns({"transaction_id": IDS}, len(IDS)) == len(IDS)
        assert len(open_spill_files(spilling)) == 1
    assert open_spill_files(spilling) == []  # while `checker` is still referenced: not left to collection


def test_the_spill_file_is_deleted_when_the_check_raises(spilling):
    with pytest.raises(OSError, match="the source failed") as caught, RecordChecker(DEFAULT_CONFIG) as checker:
        assert checker.check_columns({"transaction_id": IDS}, len(IDS)) == len(IDS)
        raise OSError("the source failed")
    # The traceback holds the frame, so the checker and its set are alive: only close() deleted the file.
    assert caught.traceback
    assert open_spill_files(spilling) == []


def test_a_closed_set_never_calls_an_id_it_has_seen_new(tmp_path):
    ids = DigestSet(in_memory_bytes=1000, spill_dir=str(tmp_path))  # room for 9 ids of 10 characters
    first = [f"first-{i:04d}" for i in range(9)]
    later = [f"later-{i:04d}" for i in range(20)]  # spilled: in the index, not yet on disk
    assert ids.add_many(first) == 9
    assert ids.add_many(later) == 20
    ids.close()
    ids.close()  # twice is harmless
    assert open_spill_files(tmp_path) == []
    assert ids.add(later[5]) is False  # a closed set does not start a new, empty spill
    assert ids.add(first[3]) is False
    assert ids.add("new-0001") is True


def test_a_closed_set_refuses_an_answer_that_needs_its_file(tmp_path):
    ids = DigestSet(in_memory_bytes=0, spill_dir=str(tmp_path))
    assert ids.add_many(IDS) == len(IDS)
    ids.close()
    assert open_spill_files(tmp_path) == []
    with pytest.raises(ValueError, match="the set is closed"):
        ids.add(IDS[0])  # its chunk is on disk


class FailingSource:
    """A binary stream of a valid CSV that fails with OSError after `limit` bytes (a dropped connection)."""

    def __init__(self, rows: int, limit: int) -> None:
        lines = ["transaction_id,amount,date,account_id"] + [f"id-{i:06d},1.00,2024-01-01,a" for i in range(rows)]
        self.data = ("\n".join(lines) + "\n").encode()
        self.limit = limit
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        if self.position >= self.limit:
            raise OSError("the source failed")
        size = len(self.data) if size is None or size < 0 else size
        chunk = self.data[self.position : min(self.position + size, self.limit)]
        self.position += len(chunk)
        return chunk

    def readable(self) -> bool:
        return True


@pytest.mark.parametrize("step", ["validate", "transform"])
def test_a_source_failing_mid_file_leaves_no_spill_file_open(spilling, step):
    from etl_handlers.core import api

    source = FailingSource(rows=20_000, limit=400_000)
    with pytest.raises(OSError, match="the source failed") as caught, open(os.devnull, "wb") as sink:
        if step == "validate":
            api.validate(source, "csv", DEFAULT_CONFIG)  # type: ignore[arg-type]
        else:
            api.transform(source, sink, "csv", DEFAULT_CONFIG)  # type: ignore[arg-type]
    assert caught.traceback  # the frames, and the checker in them, are alive: only close() freed the file
    assert open_spill_files(spilling) == []
