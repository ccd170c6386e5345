"""The exact id set behind the duplicate-id check: both stages, the spill, and collisions of digests."""

from __future__ import annotations

import functools
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_handlers.core import digests, rules, validate
from etl_handlers.core.config import Config
from etl_handlers.core.digests import DigestSet
from etl_handlers.core.schema import Schema

STAGES = {
    "in memory": {},
    "spilled from the first id": {"in_memory_bytes": 0},
    "spilled after 1000 bytes": {"in_memory_bytes": 1000},
}


def pairs(value: str) -> int:
    """A digest under which `<x>a` and `<x>b` always collide (and nothing else is forced to)."""
    return hash(value[:-1])


@pytest.fixture(params=list(STAGES), ids=list(STAGES))
def seen(request, tmp_path):
    ids = DigestSet(spill_dir=str(tmp_path), **STAGES[request.param])
    yield ids
    ids.close()


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


def test_every_member_is_remembered(seen):
    for start in range(0, 50_000, 7_000):
        batch = [f"id-{i}" for i in range(start, min(start + 7_000, 50_000))]
        assert seen.add_many(batch) == len(batch)
    assert all(not seen.add(f"id-{i}") for i in range(0, 50_000, 7))
    assert seen.add_many([f"id-{i}" for i in range(50_000, 50_010)] + ["id-49999"]) == 10
    assert len(seen) == 50_010


def test_ids_of_the_first_stage_are_found_before_and_after_they_are_folded_into_the_index(tmp_path):
    ids = DigestSet(in_memory_bytes=100 * 104, spill_dir=str(tmp_path))  # room for 100 ids of 4 characters
    first = [f"a{i:03d}" for i in range(100)]
    assert ids.add_many(first) == 100
    assert ids.add_many([f"b{i:04d}" for i in range(300)]) == 300  # the index holds 3 times as many
    assert ids.add("a007") is False
    assert ids.add_many(["c1", "c2", "a099", "c3"]) == 2
    assert ids.add_many([f"d{i:04d}" for i in range(5000)]) == 5000  # folded, then written to the file
    assert not any(map(ids.add, first))
    assert ids.add_many(["e1", "a050"]) == 1
    assert len(ids) == 100 + 300 + 2 + 5000 + 1


def test_nothing_is_written_while_the_ids_fit_in_memory(tmp_path):
    ids = DigestSet(spill_dir=str(tmp_path))
    assert ids.add_many([f"id-{i}" for i in range(10_000)]) == 10_000
    assert ids.disk_bytes == 0


def test_spilled_ids_take_their_own_bytes_on_disk(tmp_path):
    ids = DigestSet(in_memory_bytes=0, spill_dir=str(tmp_path))
    values = [f"id-{i:06d}" for i in range(8192)]  # 32 whole chunks of 256
    assert ids.add_many(values) == 8192
    assert ids.disk_bytes == sum(len(v) + 1 for v in values) - 32  # one separator less per chunk


def test_the_spill_file_goes_to_spill_dir(tmp_path):
    ids = DigestSet(in_memory_bytes=150, spill_dir=str(tmp_path / "missing"))  # room for one id
    assert ids.add("") is True  # no spill yet
    with pytest.raises(FileNotFoundError):
        ids.add("a")
    (tmp_path / "missing").mkdir()
    assert ids.add("") is False  # the set is as it was
    assert ids.add("a") is True


def test_colliding_digests_never_reject_a_new_id(tmp_path):
    ids = DigestSet(digest=lambda value: 0, in_memory_bytes=0, spill_dir=str(tmp_path))
    values = [f"id-{i}" for i in range(4400)]
    assert ids.add_many(values[:4200]) == 4200  # the first 4096 go to the file
    assert all(ids.add(v) for v in values[4200:])
    assert ids.add("id-4399") is False
    assert ids.add_many(["fresh", "id-0"]) == 1


def test_a_collision_with_an_id_on_disk_is_not_a_repeat(tmp_path):
    ids = DigestSet(digest=pairs, in_memory_bytes=0, spill_dir=str(tmp_path))
    assert ids.add_many([f"{i}a" for i in range(10_000)]) == 10_000
    assert ids.disk_bytes > 0
    assert ids.add_many([f"{i}b" for i in range(10_000)]) == 10_000  # each collides with its `a`
    assert ids.add("5000a") is False
    assert ids.add("5000b") is False


ODD_IDS = ["a\nb", "a\\nb", "a\\", "a\\\\", "\\", "\n", "a", "b", "ab", "é", "\ud800", "a\r\nb", "a\x00b", "🙂"]
FILLER = [f"f{i}" for i in range(5000)]  # pushes what came before it to the spill file


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_id_read_back_from_the_file_is_found_whatever_its_characters(tmp_path, value):
    ids = DigestSet(digest=lambda value: 0, in_memory_bytes=0, spill_dir=str(tmp_path))
    assert ids.add_many([value, *FILLER]) == 5001
    assert ids.add(value) is False


@pytest.mark.parametrize("value", ODD_IDS)
def test_no_id_read_back_from_the_file_passes_for_another(tmp_path, value):
    ids = DigestSet(digest=lambda value: 0, in_memory_bytes=0, spill_dir=str(tmp_path))
    others = [v for v in ODD_IDS if v != value]
    assert ids.add_many(others + FILLER) == len(others) + 5000
    assert ids.add(value) is True


def test_very_long_ids_are_read_back_in_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(digests, "_READ_BYTES", 1000)
    ids = DigestSet(digest=pairs, in_memory_bytes=0, spill_dir=str(tmp_path))
    values = [f"{i:0300d}a" for i in range(5000)]  # chunks of about 77 KB: streamed, not cached
    assert ids.add_many(values) == 5000
    assert ids.add(f"{1234:0300d}b") is True
    assert not any(ids.add(v) for v in values[1024:1280])  # a whole chunk, ids across pieces included


def test_chunk_numbers_that_wrap_still_find_the_original(tmp_path, monkeypatch):
    monkeypatch.setattr(digests, "_CHUNK_WRAP", 4)  # as past 2^16 chunks (16.7 million ids)
    ids = DigestSet(digest=pairs, in_memory_bytes=0, spill_dir=str(tmp_path))
    assert ids.add_many([f"{i}a" for i in range(6000)]) == 6000
    assert all(ids.add(f"{i}b") for i in range(0, 6000, 97))
    assert not any(ids.add(f"{i}a") for i in range(0, 6000, 97))


operations = st.lists(
    st.one_of(
        st.text(alphabet="ab\n\\", max_size=3),
        st.lists(st.text(alphabet="ab\n\\", max_size=3), max_size=12),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    operations=operations,
    digest=st.sampled_from([hash, lambda value: 0, lambda value: len(value)]),
    in_memory_bytes=st.sampled_from([0, 300, 10**9]),
)
def test_answers_are_those_of_a_plain_set(tmp_path_factory, operations, digest, in_memory_bytes):
    ids = DigestSet(digest=digest, in_memory_bytes=in_memory_bytes, spill_dir=str(tmp_path_factory.getbasetemp()))
    reference: set[str] = set()
    for operation in operations:
        if isinstance(operation, str):
            assert ids.add(operation) is (operation not in reference)
            reference.add(operation)
        else:
            added = len(operation)
            for position, value in enumerate(operation):
                if value in reference or value in operation[:position]:
                    added = position
                    break
            assert ids.add_many(operation) == added
            reference.update(operation[:added])
        assert len(ids) == len(reference)
    ids.close()


def csv_file(ids: list[str]) -> io.BytesIO:
    lines = ["transaction_id,amount,date,account_id"] + [f"{i},1.00,2024-01-01,acc" for i in ids]
    return io.BytesIO(("\r\n".join(lines) + "\r\n").encode())


@pytest.fixture
def colliding_checker(monkeypatch, tmp_path):
    """The record checker's id set spills at once, and `<x>a` and `<x>b` share a digest."""
    monkeypatch.setattr(
        rules, "DigestSet", functools.partial(DigestSet, digest=pairs, in_memory_bytes=0, spill_dir=str(tmp_path))
    )


@pytest.mark.parametrize("quoted", [False, True], ids=["plain CSV", "quoted CSV (record by record)"])
def test_validate_passes_a_file_whose_ids_collide_in_pairs(colliding_checker, quoted):
    ids = [f"{i}{side}" for i in range(6000) for side in "ab"]
    source = csv_file([f'"{i}"' for i in ids] if quoted else ids)
    result = validate(source, "csv")
    assert result.ok, result.errors[:3]
    assert result.rows_valid == 12_000


@pytest.mark.parametrize("quoted", [False, True], ids=["plain CSV", "quoted CSV (record by record)"])
def test_validate_reports_the_row_of_each_repeat_past_the_spill(colliding_checker, quoted):
    ids = [f"{i}{side}" for i in range(6000) for side in "ab"] + ["17b", "new", "5999a"]
    source = csv_file([f'"{i}"' for i in ids] if quoted else ids)
    result = validate(source, "csv")
    assert [(e.row, e.field, e.message) for e in result.errors] == [
        (12_001, "transaction_id", "repeats the transaction_id of an earlier record"),
        (12_003, "transaction_id", "repeats the transaction_id of an earlier record"),
    ]
    assert result.rows_valid == 12_001


def test_the_budget_is_a_quarter_of_a_lambda_functions_memory_and_never_below_the_default():
    mib = 1 << 20
    assert digests.in_memory_budget({}) == digests.IN_MEMORY_BYTES == 32 * mib
    assert digests.in_memory_budget({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "768"}) == 192 * mib
    assert digests.in_memory_budget({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240"}) == 2560 * mib
    assert digests.in_memory_budget({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}) == 32 * mib
    assert digests.in_memory_budget({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}) == 32 * mib


def test_a_set_made_in_a_lambda_function_keeps_its_share_of_the_memory_before_it_spills(monkeypatch, tmp_path):
    monkeypatch.setattr(digests, "IN_MEMORY_BYTES", 0)  # so the function's share alone decides
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1")  # 1 MB: a share of 262,144 bytes
    ids = DigestSet(spill_dir=str(tmp_path))
    assert ids.add_many([f"{n:010d}" for n in range(2000)]) == 2000  # 2000 * 110 estimated bytes
    assert ids.disk_bytes == 0
    # Past the share, ids are spilled (and the file written 4,096 ids at a time).
    assert ids.add_many([f"{n:010d}" for n in range(2000, 7000)]) == 5000
    assert ids.disk_bytes > 0
    assert ids.add(f"{5:010d}") is False and ids.add(f"{6500:010d}") is False
    ids.close()
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    outside = DigestSet(spill_dir=str(tmp_path))
    # No share outside Lambda: spilled from the first id.
    assert outside.add_many([f"{n:010d}" for n in range(5000)]) == 5000 and outside.disk_bytes > 0
    outside.close()


def test_the_unique_fields_of_a_checker_share_the_functions_budget(monkeypatch):
    made: list[DigestSet] = []

    class Recorded(DigestSet):  # the real set, remembered so that its budget can be read
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(rules, "DigestSet", Recorded)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1536")  # a quarter: 384 MiB
    schema = Schema.from_dict(
        {
            "fields": {
                "transaction_id": {"type": "string", "required": True, "unique": True},
                "reference": {"type": "string", "unique": True},
                "amount": {"type": "decimal", "required": True},
            },
        }
    )
    rules.RecordChecker(Config(schema=schema)).close()
    assert [s.in_memory_bytes for s in made] == [192 << 20, 192 << 20]
    made.clear()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")  # never below the floor, each
    rules.RecordChecker(Config(schema=schema)).close()
    assert [s.in_memory_bytes for s in made] == [digests.IN_MEMORY_BYTES] * 2


@pytest.mark.parametrize("kept", [False, True], ids=["folded", "kept to the end"])
def test_a_set_given_a_functions_share_answers_to_the_end_as_a_folded_one_does(monkeypatch, tmp_path, kept):
    monkeypatch.setattr(digests, "IN_MEMORY_BYTES", 250)  # a set given more is "a function's share"
    ids = DigestSet(digest=pairs, in_memory_bytes=300 if kept else 220, spill_dir=str(tmp_path))  # two ids in memory
    reference: set[str] = set()
    values = [f"{n % 3000:04d}{'ab'[n % 2]}" for n in range(0, 9000, 7)]  # repeats, and pairs that collide
    for start in range(0, len(values), 50):
        batch = values[start : start + 50]
        added = ids.add_many(batch)
        expected = next((i for i, v in enumerate(batch) if v in reference or v in batch[:i]), len(batch))
        assert added == expected
        reference.update(batch[:added])
        for value in batch[added:]:
            assert ids.add(value) is (value not in reference)
            reference.add(value)
    assert len(ids) == len(reference) > 8 * 2  # far past the point where a set is folded
    assert all(ids.add(value) is False for value in ["0000a", "0007b", *list(reference)[:100]])
    ids.close()
