"""The rule's key filters, as pure functions."""

from etl_constructs.patterns import key_filters, object_created_detail


def test_without_prefix_each_suffix_is_matched_ignoring_case():
    assert key_filters("", (".csv",)) == [{"suffix": {"equals-ignore-case": ".csv"}}]


def test_with_prefix_suffixes_become_wildcards_in_both_cases():
    assert key_filters("in/", (".csv", ".json")) == [
        {"wildcard": "in/*.csv"},
        {"wildcard": "in/*.CSV"},
        {"wildcard": "in/*.json"},
        {"wildcard": "in/*.JSON"},
    ]


def test_wildcard_characters_in_the_prefix_are_escaped():
    assert key_filters("a*b/", (".csv",))[0] == {"wildcard": "a\\*b/*.csv"}


def test_detail_names_the_bucket():
    assert object_created_detail("raw", "", (".csv",))["bucket"] == {"name": ["raw"]}
