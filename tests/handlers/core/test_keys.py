"""Keys as S3 writes them in events, decoded and encoded; derived keys within S3's 1,024 bytes, apart."""

from __future__ import annotations

import doctest
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_handlers.core import keys
from etl_handlers.core.keys import DIGEST_MARK, MAX_KEY_BYTES, derived_key, event_key, object_key, utf8_head

# S3 keys are UTF-8: any character a string can hold except the surrogates UTF-8 cannot encode.
characters = st.characters(exclude_categories=("Cs",))
awkward = st.sampled_from(["%", "+", " ", "?", "#", "=", "&", "/", "é", "数", "😀", "%2B", "%25", "+%20", "~"])
key_text = st.lists(st.one_of(characters, awkward), max_size=80).map("".join)


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def s3_keys(max_bytes: int = MAX_KEY_BYTES) -> st.SearchStrategy[str]:
    """Keys S3 accepts: non-empty, at most `max_bytes` UTF-8 bytes."""
    return st.one_of(
        key_text.filter(lambda k: 0 < _utf8(k) <= max_bytes),
        st.tuples(key_text, st.integers(0, max_bytes)).map(lambda t: utf8_head((t[0] or "k") * max_bytes, t[1] or 1)),
    ).filter(bool)


def test_the_module_examples_hold():
    assert doctest.testmod(keys).failed == 0


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("in/a b.csv", "in/a+b.csv"),
        ("in/a+b.csv", "in/a%2Bb.csv"),
        ("in/100%.csv", "in/100%25.csv"),
        ("in/what?.csv", "in/what%3F.csv"),
        ("in/#1.csv", "in/%231.csv"),
        ("in/k=v.csv", "in/k%3Dv.csv"),
        ("in/café.csv", "in/caf%C3%A9.csv"),
        ("in/数据.csv", "in/%E6%95%B0%E6%8D%AE.csv"),
        ("in/plain-name_1.csv", "in/plain-name_1.csv"),
    ],
)
def test_a_key_is_encoded_as_s3_writes_it_in_an_event(raw, encoded):
    assert event_key(raw) == encoded
    assert object_key(encoded) == raw


@given(s3_keys())
def test_decoding_the_encoded_key_gives_the_key_back(key):
    assert object_key(event_key(key)) == key


@given(s3_keys())
def test_an_encoded_key_holds_a_plus_only_for_a_space_and_a_percent_only_as_an_escape(key):
    encoded = event_key(key)
    assert (" " in key) == ("+" in encoded)
    assert " " not in encoded
    assert "%" not in re.sub("%[0-9A-F]{2}", "", encoded)


@given(s3_keys(), st.integers(0, 64))
def test_a_derived_key_and_what_is_added_to_it_fit_in_an_s3_key(key, reserve):
    derived = derived_key("quarantine/3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY/", key, ".v1.jsonl", reserve=reserve)
    assert _utf8(derived) + reserve <= MAX_KEY_BYTES
    assert derived.startswith("quarantine/") and derived.endswith(".v1.jsonl")


@given(s3_keys(), s3_keys())
def test_two_different_keys_never_give_the_same_derived_key(first, second):
    if first != second:
        assert derived_key("processed/", first, ".jsonl", 40) != derived_key("processed/", second, ".jsonl", 40)


@given(st.text(characters, min_size=1, max_size=8), st.text(characters, min_size=1, max_size=8))
def test_long_keys_that_differ_only_at_the_end_stay_apart(end_one, end_two):
    head = "in/" + "é" * 600
    if end_one != end_two:
        assert derived_key("p/", head + end_one) != derived_key("p/", head + end_two)


def test_a_key_that_fits_is_kept_whole():
    assert derived_key("quarantine/v1/", "in/a b+c.csv", reserve=12) == "quarantine/v1/in/a b+c.csv"


def test_a_key_too_long_keeps_a_readable_head_and_a_digest_of_the_whole():
    key = "in/" + "数" * 400 + ".csv"  # 1,207 bytes
    derived = derived_key("quarantine/v1/", key, reserve=12)
    assert MAX_KEY_BYTES - 12 - 3 < _utf8(derived) <= MAX_KEY_BYTES - 12  # at most a character short
    assert derived.startswith("quarantine/v1/in/数数数")
    assert DIGEST_MARK in derived


def test_a_key_shaped_like_a_shortened_one_is_never_taken_for_it():
    long_key = "in/" + "x" * 1100
    shortened = derived_key("p/", long_key)
    mimic = shortened.removeprefix("p/")  # a real key spelled exactly like the shortened form
    assert derived_key("p/", mimic) != shortened


def test_a_prefix_that_leaves_no_room_is_refused():
    with pytest.raises(ValueError, match="no room"):
        derived_key("p" * 1000, "in/" + "a" * 100 + ".csv", ".jsonl")


@given(key_text, st.integers(0, 200))
def test_a_utf8_head_never_splits_a_character(text, limit):
    head = utf8_head(text, limit)
    assert text.startswith(head)
    assert _utf8(head) <= limit
    assert _utf8(head) > limit - 4 or head == text
