"""ISO 4217 currency codes and their minor units (how many decimal places an amount has).

The table is ISO 4217 List One ("Current currency & funds"), as published by SIX Financial
Information, the standard's maintenance agency, in the edition dated `PUBLISHED`. It holds every
active alphabetic code whose minor unit is a number: national currencies, fund codes (BOV, CLF,
CHE, CHW, COU, MXV, USN, UYI, UYW) and supranational ones (XAF, XOF, XPF, XCD, XCG, XAD).

To update it: download List One (`list-one.xml`) from
https://www.six-group.com/en/products-services/financial-information/data-standards.html,
take each distinct `Ccy` whose `CcyMnrUnts` is a number (skip "N.A."), with that number, and
set `PUBLISHED` to the list's `Pblshd` attribute. Codes that leave List One move to List Three
(historic) and are simply dropped here.

>>> minor_unit("JPY"), minor_unit("BHD"), minor_unit("QQQ")
(0, 3, 2)
>>> is_active("HRK")
False
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Where the table comes from.
SOURCE = "ISO 4217 List One (current currency & funds), published by SIX Financial Information, maintenance agency"
#: The publication date of the edition of List One the table reproduces.
PUBLISHED = "2026-01-01"

# Left out, because List One gives them no minor unit ("N.A."): they are units of account,
# precious metals or reserved codes, not currencies an amount is paid in to a fixed number of
# decimals: XAU, XAG, XPD, XPT (metals), XDR (IMF SDR), XBA, XBB, XBC, XBD (bond market units),
# XSU (Sucre), XUA (ADB unit of account), XTS (testing), XXX (no currency).
# Withdrawn by this edition (now in List Three): ANG (replaced by XCG), BGN (Bulgaria adopted the
# euro on 2026-01-01), CUC, HRK, SLL (redenominated as SLE), ZWL (replaced by ZWG), and earlier
# ones such as MRO, STD and VEF.
_TABLE: dict[str, int] = {
    "AED": 2,
    "AFN": 2,
    "ALL": 2,
    "AMD": 2,
    "AOA": 2,
    "ARS": 2,
    "AUD": 2,
    "AWG": 2,
    "AZN": 2,
    "BAM": 2,
    "BBD": 2,
    "BDT": 2,
    "BHD": 3,
    "BIF": 0,
    "BMD": 2,
    "BND": 2,
    "BOB": 2,
    "BOV": 2,
    "BRL": 2,
    "BSD": 2,
    "BTN": 2,
    "BWP": 2,
    "BYN": 2,
    "BZD": 2,
    "CAD": 2,
    "CDF": 2,
    "CHE": 2,
    "CHF": 2,
    "CHW": 2,
    "CLF": 4,
    "CLP": 0,
    "CNY": 2,
    "COP": 2,
    "COU": 2,
    "CRC": 2,
    "CUP": 2,
    "CVE": 2,
    "CZK": 2,
    "DJF": 0,
    "DKK": 2,
    "DOP": 2,
    "DZD": 2,
    "EGP": 2,
    "ERN": 2,
    "ETB": 2,
    "EUR": 2,
    "FJD": 2,
    "FKP": 2,
    "GBP": 2,
    "GEL": 2,
    "GHS": 2,
    "GIP": 2,
    "GMD": 2,
    "GNF": 0,
    "GTQ": 2,
    "GYD": 2,
    "HKD": 2,
    "HNL": 2,
    "HTG": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "IQD": 3,
    "IRR": 2,
    "ISK": 0,
    "JMD": 2,
    "JOD": 3,
    "JPY": 0,
    "KES": 2,
    "KGS": 2,
    "KHR": 2,
    "KMF": 0,
    "KPW": 2,
    "KRW": 0,
    "KWD": 3,
    "KYD": 2,
    "KZT": 2,
    "LAK": 2,
    "LBP": 2,
    "LKR": 2,
    "LRD": 2,
    "LSL": 2,
    "LYD": 3,
    "MAD": 2,
    "MDL": 2,
    "MGA": 2,
    "MKD": 2,
    "MMK": 2,
    "MNT": 2,
    "MOP": 2,
    "MRU": 2,
    "MUR": 2,
    "MVR": 2,
    "MWK": 2,
    "MXN": 2,
    "MXV": 2,
    "MYR": 2,
    "MZN": 2,
    "NAD": 2,
    "NGN": 2,
    "NIO": 2,
    "NOK": 2,
    "NPR": 2,
    "NZD": 2,
    "OMR": 3,
    "PAB": 2,
    "PEN": 2,
    "PGK": 2,
    "PHP": 2,
    "PKR": 2,
    "PLN": 2,
    "PYG": 0,
    "QAR": 2,
    "RON": 2,
    "RSD": 2,
    "RUB": 2,
    "RWF": 0,
    "SAR": 2,
    "SBD": 2,
    "SCR": 2,
    "SDG": 2,
    "SEK": 2,
    "SGD": 2,
    "SHP": 2,
    "SLE": 2,
    "SOS": 2,
    "SRD": 2,
    "SSP": 2,
    "STN": 2,
    "SVC": 2,
    "SYP": 2,
    "SZL": 2,
    "THB": 2,
    "TJS": 2,
    "TMT": 2,
    "TND": 3,
    "TOP": 2,
    "TRY": 2,
    "TTD": 2,
    "TWD": 2,
    "TZS": 2,
    "UAH": 2,
    "UGX": 0,
    "USD": 2,
    "USN": 2,
    "UYI": 0,
    "UYU": 2,
    "UYW": 4,
    "UZS": 2,
    "VED": 2,
    "VES": 2,
    "VND": 0,
    "VUV": 0,
    "WST": 2,
    "XAD": 2,
    "XAF": 0,
    "XCD": 2,
    "XCG": 2,
    "XOF": 0,
    "XPF": 0,
    "YER": 2,
    "ZAR": 2,
    "ZMW": 2,
    "ZWG": 2,
}

#: Every active ISO 4217 code with a minor unit, and that unit (read-only).
MINOR_UNITS: Mapping[str, int] = MappingProxyType(_TABLE)


def looks_like_code(code: object) -> bool:
    """Whether `code` is a string of exactly three ASCII upper-case letters (active or not)."""
    return isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()


def is_active(code: str) -> bool:
    """Whether `code` is in the table: an active ISO 4217 code with a minor unit."""
    return code in MINOR_UNITS


def minor_unit(code: str, default: int = 2) -> int:
    """The number of decimal places of `code`, or `default` for a code outside the table."""
    return MINOR_UNITS.get(code, default)
