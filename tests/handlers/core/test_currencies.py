"""The ISO 4217 table: active codes with their minor units, nothing withdrawn, nothing without a unit."""

from __future__ import annotations

import pytest

from etl_handlers.core.currencies import MINOR_UNITS, PUBLISHED, SOURCE, is_active, looks_like_code, minor_unit


def test_table_size_is_that_of_list_one_without_the_na_codes():
    assert 150 <= len(MINOR_UNITS) <= 185


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("JPY", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("CLF", 4),
        ("UYW", 4),
        ("ISK", 0),
        ("KRW", 0),
        ("XOF", 0),
        ("TND", 3),
        ("UYI", 0),
        ("XCG", 2),
        ("ZWG", 2),
        ("SLE", 2),
        ("VED", 2),
    ],
)
def test_known_minor_units(code, unit):
    assert MINOR_UNITS[code] == unit
    assert minor_unit(code) == unit
    assert is_active(code)


@pytest.mark.parametrize("code", ["HRK", "CUC", "SLL", "MRO", "STD", "VEF", "ANG", "ZWL", "BGN", "DEM", "LTL"])
def test_withdrawn_codes_are_absent(code):
    assert code not in MINOR_UNITS
    assert not is_active(code)


@pytest.mark.parametrize(
    "code", ["XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA", "XTS", "XXX"]
)
def test_codes_without_a_minor_unit_are_absent(code):
    assert code not in MINOR_UNITS


def test_every_key_is_a_code_and_every_unit_a_known_one():
    assert all(looks_like_code(code) for code in MINOR_UNITS)
    assert set(MINOR_UNITS.values()) <= {0, 2, 3, 4}


def test_the_table_cannot_be_changed():
    with pytest.raises(TypeError):
        MINOR_UNITS["USD"] = 3  # type: ignore[index]
    with pytest.raises(TypeError):
        del MINOR_UNITS["USD"]  # type: ignore[attr-defined]
    assert MINOR_UNITS["USD"] == 2


def test_unknown_code_gets_the_default():
    assert minor_unit("QQQ") == 2
    assert minor_unit("QQQ", default=0) == 0
    assert minor_unit("JPY", default=5) == 0


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("USD", True),
        ("QQQ", True),
        ("usd", False),
        ("US", False),
        ("USDX", False),
        ("U5D", False),
        ("ÜSD", False),
        ("", False),
        (None, False),
        (840, False),
    ],
)
def test_looks_like_code(code, expected):
    assert looks_like_code(code) is expected


def test_source_and_date_are_stated():
    assert "ISO 4217" in SOURCE and "SIX" in SOURCE
    year, month, day = PUBLISHED.split("-")
    assert len(year) == 4 and 1 <= int(month) <= 12 and 1 <= int(day) <= 31
