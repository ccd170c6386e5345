"""The compact set behind the duplicate-id check."""

from etl_handlers.core.digests import DigestSet


def test_add_reports_repeats():
    seen = DigestSet()
    assert seen.add("a") is True
    assert seen.add("b") is True
    assert seen.add("a") is False
    assert len(seen) == 2


def test_growth_keeps_every_member():
    seen = DigestSet()
    for i in range(50_000):
        assert seen.add(f"id-{i}")
    assert all(not seen.add(f"id-{i}") for i in range(0, 50_000, 7))
    assert len(seen) == 50_000
