"""Patterns of the restricted syntax: what they match, what is refused and where, and linear matching."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_handlers.core.patterns import MAX_PATTERN_LENGTH, MAX_REPEAT, Pattern, PatternError, compile_pattern


@pytest.mark.parametrize(
    ("source", "matching", "not_matching"),
    [
        (r"[A-Z]{2}-\d{4}", ["AB-1234", "ZZ-0000"], ["AB-123", "AB-12345", "ab-1234", "AB1234", "AB-12a4", ""]),
        (r"MC\d{6}", ["MC123456"], ["MC12345", "MC1234567", "mc123456", "XMC123456"]),
        (r"[A-Z0-9_]+", ["A", "ABC_123", "_"], ["", "abc", "A-B", "A B"]),
        (r"\w{1,20}", ["a", "x" * 20, "A_9"], ["", "x" * 21, "a-b", "é"]),
        (r"[^,]*", ["", "abc", "a b;c"], [",", "a,b"]),
        (r".*", ["", "anything at all", "line\nbreak"], []),
        (r"[A-Z_-]+", ["A-B_C", "-"], ["a", ""]),
        (r"\d+\.\d{2}", ["1.50", "100.00"], ["1,50", "1.5", "1x50"]),
        (r"[\s\d]{3}", ["1 2", "\t\t9"], ["1\n2", "12"]),
        (r"a{2,}b?", ["aa", "aaab"], ["a", "ab", "aabb"]),
        (r"x{0}y", ["y"], ["xy"]),
        (r"\(\)\[\]\{\}\*\+\?\|\^\$\\\.", ["()[]{}*+?|^$\\."], ["x"]),
        (r"[.*+()|$]", list(".*+()|$"), ["a", "\\"]),
    ],
)
def test_accepted_patterns(source, matching, not_matching):
    pattern = compile_pattern(source)
    assert pattern.source == source
    for value in matching:
        assert pattern.matches(value), value
    for value in not_matching:
        assert not pattern.matches(value), value


def test_pattern_is_frozen():
    pattern = compile_pattern("a")
    assert isinstance(pattern, Pattern)
    assert isinstance(pattern.regex, re.Pattern)
    with pytest.raises(AttributeError):
        pattern.source = "b"  # type: ignore[misc]


@pytest.mark.parametrize("digit", ["\u0663", "\uff15", "\u07c2", "\u0967"])  # Arabic-Indic, fullwidth, NKo, Devanagari
def test_digit_escape_is_ascii_only(digit):
    assert digit.isdigit()
    assert not compile_pattern(r"\d").matches(digit)
    assert not compile_pattern(r"[\d]+").matches(digit)
    assert not compile_pattern(r"\w").matches(digit)


def test_space_escape_is_space_and_tab_only():
    pattern = compile_pattern(r"\s")
    assert pattern.matches(" ") and pattern.matches("\t")
    assert not any(pattern.matches(c) for c in "\n\r\f\v\u00a0\u2003")


@pytest.mark.parametrize(
    ("source", "position", "fragment", "words"),
    [
        ("", 0, "", "empty"),
        ("(ab)", 0, "(", "groups"),
        ("ab)", 2, ")", "groups"),
        ("a(?=b)", 1, "(?", "lookarounds"),
        ("a|b", 1, "|", "alternation"),
        ("^ab", 0, "^", "anchors are implied"),
        ("ab$", 2, "$", "anchors are implied"),
        (r"a\1", 1, r"\1", "backreferences"),
        (r"a\b", 1, r"\b", "unknown escape"),
        (r"\p{L}", 0, r"\p", "unknown escape"),
        (r"[\n]", 1, r"\n", "unknown escape"),
        ("a\\", 1, "\\", "lone backslash"),
        ("*a", 0, "*", "nothing before it"),
        ("{2}", 0, "{", "nothing before it"),
        ("a**", 1, "**", "cannot follow another"),
        ("ab+?", 2, "+?", "cannot follow another"),
        ("a++", 1, "++", "cannot follow another"),
        ("a{2}{3}", 1, "{2}{", "cannot follow another"),
        ("x[z-a]", 2, "z-a", "range is empty"),
        ("[]", 0, "[]", "empty class"),
        ("[^]", 0, "[^]", "empty class"),
        ("[abc", 0, "[abc", "not closed"),
        ("[a-c-e]", 4, "-", "range"),
        (r"[\d-z]", 1, r"\d-z", "two single characters"),
        ("[[]", 1, "[", "inside a class"),
        ("ab]", 2, "]", "unmatched"),
        ("a}", 1, "}", "unmatched"),
        (f"a{{{MAX_REPEAT + 1}}}", 1, f"{{{MAX_REPEAT + 1}}}", "at most 1000"),
        ("a{3,2}", 1, "{3,2}", "greater than"),
        ("a{,3}", 1, "{,3}", "{m,n}"),
        ("a{x}", 1, "{x}", "{m,n}"),
        ("a{2", 1, "{2", "{m,n}"),
        ("a{\u0661}", 1, "{\u0661}", "{m,n}"),  # an Arabic-Indic one, which int() would read
    ],
)
def test_refusals_name_position_and_text(source, position, fragment, words):
    with pytest.raises(PatternError) as caught:
        compile_pattern(source)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.position, error.fragment) == (position, fragment)
    message = str(error)
    assert words in message
    if fragment:
        assert f"`{fragment}` at {position}" in message


def test_a_pattern_is_a_string():
    with pytest.raises(PatternError, match="a pattern is a string, not int"):
        compile_pattern(5)  # type: ignore[arg-type]


def test_length_limit():
    assert compile_pattern("a" * MAX_PATTERN_LENGTH).matches("a" * MAX_PATTERN_LENGTH)
    with pytest.raises(PatternError, match=f"at most {MAX_PATTERN_LENGTH} characters") as caught:
        compile_pattern("a" * (MAX_PATTERN_LENGTH + 1))
    assert caught.value.position == MAX_PATTERN_LENGTH


def test_repeat_limit_is_inclusive():
    pattern = compile_pattern(f"a{{{MAX_REPEAT}}}b{{0,{MAX_REPEAT}}}")
    assert pattern.matches("a" * MAX_REPEAT + "b" * MAX_REPEAT)
    assert not pattern.matches("a" * MAX_REPEAT + "b" * (MAX_REPEAT + 1))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "[a-z]*z",
            "`[a-z]*` at 0 can also match what can follow it (`z` at 6): make the two disjoint, for example [a-y]*",
        ),
        (".*x", "`.*` at 0 can also match what can follow it (`x` at 2): make the two disjoint, for example [^x]*"),
        (r"\w+_", r"`\w+` at 0 can also match what can follow it (`_` at 3)"),
        ("a?b*a", "`a?` at 0 can also match what can follow it (`a` at 4)"),
        ("a{1,3}a", "`a{1,3}` at 0 can also match what can follow it (`a` at 6)"),
        (r"[0-9]*x{0}\d", r"`[0-9]*` at 0 can also match what can follow it (`\d` at 10)"),
        (r"X\d{2,4}[a0]", r"`\d{2,4}` at 1 can also match what can follow it (`[a0]` at 8)"),
    ],
)
def test_determinism_rule_refuses(source, message):
    with pytest.raises(PatternError) as caught:
        compile_pattern(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "source",
    [
        ".*",
        "[a-y]*z",
        r"[A-Z]{3}\d{4}",
        "a*b*c",  # b* may match nothing, so c follows a* too; all disjoint
        "a*ba",  # b must match, so the a after it never follows a*
        r"\d+\.\d+",
        "a{3}a{2}",  # fixed counts leave no choice
        "a*x{0}",
    ],
)
def test_determinism_rule_accepts(source):
    compile_pattern(source)


@pytest.mark.parametrize(
    ("source", "regex"),
    [
        (r"[a-z]+\d", "[a-z]++[0-9]"),
        (".*", ".*+"),
        (r"\w{1,20}", "[0-9A-Z_a-z]{1,20}+"),
        ("a?b{2,}c{3}", "a?+b{2,}+c{3}"),
    ],
)
def test_varying_counts_compile_to_possessive_quantifiers(source, regex):
    assert compile_pattern(source).regex.pattern == regex


def test_catastrophic_input_completes():
    pattern = compile_pattern(r"[a-z]+\d")
    assert not pattern.matches("a" * 50_000 + "!")
    assert pattern.matches("a" * 50_000 + "7")
    assert not compile_pattern(r"\w*-\d+").matches("a" * 50_000)


# The hypothesis properties: on every pattern the syntax accepts, the possessive compilation gives
# the answers of the same pattern read as an ordinary (greedy, backtracking) Python regex. With
# re.ASCII, \d and \w are those of the syntax; \s and `.` differ only on line breaks, which the
# alphabets below leave out. Over the small alphabet the items of a pattern overlap often, which is
# where a wrong determinism rule would show, and every value up to 6 characters is tried; the large
# alphabet covers the other escapes and classes, with values drawn at random or from the regex.
_SMALL_ATOMS = ["a", "b", "0", ".", "[ab]", "[^a]", "[b0]"]
_SMALL_VALUES = ["".join(chars) for n in range(7) for chars in itertools.product("ab0", repeat=n)]
_ATOMS = [
    *_SMALL_ATOMS,
    "-",
    "é",
    r"\d",
    r"\w",
    r"\s",
    r"\-",
    "[a0]",
    "[b-z]",
    r"[^\d]",
    r"[\w-]",
    "[-a]",
    r"[^\s\d]",
    "[0-9]",
    "[A-Z_]",
]
_ALPHABET = "ab0-_ é٣Z9\t"
_QUANTIFIERS = ["", "", "?", "*", "+", "{2}", "{0,2}", "{1,}", "{1,3}", "{0}"]


def _accepted(source: str) -> bool:
    try:
        compile_pattern(source)
    except PatternError:
        return False
    return True


def _patterns(atoms: list[str], max_items: int) -> st.SearchStrategy[str]:
    items = st.tuples(st.sampled_from(atoms), st.sampled_from(_QUANTIFIERS))
    return (
        st.lists(items, min_size=1, max_size=max_items)
        .map(lambda drawn: "".join(atom + quantifier for atom, quantifier in drawn))
        .filter(_accepted)
    )


_PROPERTY = settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)


@_PROPERTY
@given(source=_patterns(_SMALL_ATOMS, 5))
def test_possessive_matching_means_ordinary_matching(source):
    pattern, greedy = compile_pattern(source), re.compile(source, re.ASCII)
    for value in _SMALL_VALUES:
        assert pattern.matches(value) == (greedy.fullmatch(value) is not None), value


@_PROPERTY
@given(source=_patterns(_ATOMS, 6), data=st.data())
def test_possessive_matching_means_ordinary_matching_on_escapes_and_classes(source, data):
    greedy = re.compile(source, re.ASCII)
    matching = st.from_regex(greedy, fullmatch=True, alphabet=_ALPHABET)
    value = data.draw(st.one_of(st.text(alphabet=_ALPHABET, max_size=8), matching), label="value")
    assert compile_pattern(source).matches(value) == (greedy.fullmatch(value) is not None)


def test_property_alphabet_patterns_include_varying_counts():
    # Guards the property above against a grammar that compile_pattern would mostly refuse.
    accepted = [a + q for a in _ATOMS for q in _QUANTIFIERS if q in {"*", "+", "?", "{0,2}"} and _accepted(a + q)]
    assert len(accepted) == len(_ATOMS) * 4
    assert _accepted("a*b+0?") and _accepted(r"[b-z]*\d{1,3}-")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_column_matches_in_one_pass_exactly_when_each_value_does(data):
    source = data.draw(
        st.sampled_from([r"[^,]*", r".*", r"ACC-\d{5}", r"\w+", r"[a-c]{1,3}x?", r"\s?x", "a\nb?", r"[^a]+"])
    )
    pattern = compile_pattern(source)
    values = data.draw(st.lists(st.text(alphabet="abcx,ACC-0123 \t\u2003", max_size=8), max_size=6))
    assert pattern.matches_all(values) == all(pattern.matches(v) for v in values)
