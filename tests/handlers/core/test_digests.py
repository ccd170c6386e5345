"""The digest set behind the duplicate-id check: both stages, and the move between them."""

import pytest

from etl_handlers.core import digests
from etl_handlers.core.digests import DigestSet


@pytest.fixture(params=[1 << 20, 1000], ids=["fast stage", "compact table past 1000"])
def seen(request, monkeypatch):
    monkeypatch.setattr(digests, "FAST_LIMIT", request.param)
    return DigestSet()


def test_add_reports_repeats(seen):
    assert seen.add("a") is True
    assert seen.add("b") is True
    assert seen.add("a") is False
    assert len(seen) == 2


def test_batches_stop_at_the_first_repeat(seen):
    assert seen.add_many([f"id-{i}" for i in range(5000)]) == 5000
    assert seen.add_many(["new-1", "new-2", "id-17", "new-3"]) == 2
    assert seen.add("new-2") is False  # added before the repeat
    assert seen.add("new-3") is True  # not added: it came after the repeat


def test_a_repeat_inside_one_batch(seen):
    assert seen.add_many(["x", "y", "x", "z"]) == 2


def test_every_member_survives_growth_and_the_move_to_the_table(seen):
    for start in range(0, 50_000, 7_000):
        assert seen.add_many([f"id-{i}" for i in range(start, min(start + 7_000, 50_000))]) == min(
            7_000, 50_000 - start
        )
    assert all(not seen.add(f"id-{i}") for i in range(0, 50_000, 7))
    assert len(seen) == 50_000
