"""The rule's key filters, as pure functions."""

from etl_constructs.patterns import (
    encoded_prefix,
    key_filters,
    object_created_detail,
    suffix_checked_by_rule,
    suffix_variants,
)


def test_without_prefix_each_suffix_is_matched_ignoring_case():
    assert key_filters("", (".csv",)) == [{"suffix": {"equals-ignore-case": ".csv"}}]
    assert suffix_checked_by_rule("")


def test_with_prefix_the_rule_matches_the_prefix_and_the_state_machine_the_suffix():
    assert key_filters("in/", (".csv", ".json")) == [{"prefix": "in/"}]
    assert not suffix_checked_by_rule("in/")


def test_the_prefix_is_matched_in_the_form_s3_writes_in_events():
    assert encoded_prefix("dt=2024 x/é+%/") == "dt%3D2024+x/%C3%A9%2B%25/"
    assert key_filters("a b/", (".csv",)) == [{"prefix": "a+b/"}]


def test_suffix_variants_cover_every_case_spelling():
    variants = suffix_variants((".csv", ".json"))
    assert len(variants) == 8 + 16
    assert {".csv", ".Csv", ".cSv", ".CSV", ".JsOn"} <= set(variants)


def test_detail_names_the_bucket():
    assert object_created_detail("raw", "", (".csv",))["bucket"] == {"name": ["raw"]}
