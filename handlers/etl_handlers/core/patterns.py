r"""Patterns for string fields: a small regular-expression syntax whose matching is always linear.

A schema may give a string field a `pattern`; every value of that field must match it as a whole.
The values come from the files being checked, which nobody vouches for, and an arbitrary regular
expression can take exponential time on a crafted value (Python's `re` backtracks: `(a+)+b`
against thirty `a`s tries about 2^30 ways to split them). So patterns use a restricted syntax, in
which every pattern matches in time linear in the value's length: each character of the value is
looked at a bounded number of times, never tried again in another way.

What a pattern is
-----------------
A sequence of items, each a single-character *atom* with an optional *quantifier*. A pattern
always matches the whole value: `[A-Z]{3}` matches `EUR`, not `EURO`. Anchors are implied.

Atoms (each matches exactly one character):

- a literal character: `a`, `7`, `-`, `_`, `é`, a space ...;
- an escaped metacharacter, for the character itself: `\.` `\\` `\-` `\[` `\]` `\{` `\}` `\(`
  `\)` `\*` `\+` `\?` `\|` `\^` `\$`;
- `.`: any character;
- `\d`: an ASCII digit, 0 to 9 (never the digits of other scripts, such as `٣`);
- `\w`: an ASCII letter, digit or underscore: `[A-Za-z0-9_]`;
- `\s`: a space or a tab;
- a character class: `[...]` matches one of the characters listed, `[^...]` one character not
  listed. Inside, write single characters, ranges such as `A-Z` or `0-9`, the escapes above and
  `\d`, `\w`, `\s`. A `-` is literal first or last in the class (`[A-Z_-]`), and `\-` anywhere.
  Other metacharacters are literal inside a class (`[.*+]`), except `[`, `]` and `\`, which are
  written `\[`, `\]` and `\\`.

Quantifiers (after an atom):

- `?` (0 or 1), `*` (0 or more), `+` (1 or more);
- `{n}` (exactly n), `{m,n}` (m to n), `{m,}` (m or more), with m <= n <= 1000.

Examples: `[A-Z]{2}-\d{4}` (`AB-1234`), `MC\d{6}`, `[A-Z0-9_]+`, `\w{1,20}`, `[^,]*`, `.*`.

What is refused, and why
------------------------
Each refusal names the 0-based position in the pattern and the text at fault.

- groups `(...)`, alternation `|`, lookarounds `(?=...)` and backreferences `\1`: they are what
  makes backtracking expensive (and backreferences cannot be matched in linear time at all);
- anchors `^` and `$`: a pattern always matches the whole value;
- escapes other than those above (`\b`, `\p{L}`, `\n` ...);
- a quantifier with nothing before it (`*a`), or after another one (`a**`; lazy `a+?` and
  possessive `a++` forms too);
- an empty class `[]`, a class that matches no character, an inverted range `[z-a]`;
- an empty pattern, or one longer than 200 characters.

One more rule keeps matching linear: an item that may repeat a varying number of times (`*`, `+`,
`?`, `{m,n}` with m < n) must not be able to match a character that the item after it could also
match, looking on past the items that may match nothing up to the first one that must match
something. So `[a-z]*z` is refused (where does the run of letters end?); write `[a-y]*z`. And `.*x`
is refused (`.` matches `x`), while `.*` at the end is fine, as is `[A-Z]{3}\d{4}` (fixed counts).
With that rule, each character of the value can only belong to one item, so a match never has to
go back and try another split, and the pattern means just what it means as an ordinary regular
expression.

How it works
------------
The pattern is compiled to a Python regular expression with possessive quantifiers (`*+`, `++`,
`?+`, `{m,n}+`, Python 3.11 and later), which never give back what they matched; the rule above
makes that give the same answers as ordinary greedy matching.

>>> compile_pattern(r"[A-Z]{2}-\d{4}").matches("AB-1234")
True
>>> compile_pattern(r"[A-Z]{2}-\d{4}").matches("AB-12345")
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The longest pattern accepted, in characters.
MAX_PATTERN_LENGTH = 200
#: The largest count a repetition `{m,n}` may give.
MAX_REPEAT = 1000

_MAX_CODE_POINT = 0x10FFFF
# Characters that stand for themselves when escaped with a backslash.
_METACHARACTERS = frozenset(".\\-[]{}()*+?|^$")
_QUANTIFIER_STARTS = frozenset("*+?{")

# A set of characters: sorted, disjoint, non-adjacent, inclusive ranges of code points.
_Ranges = tuple[tuple[int, int], ...]

_ALL: _Ranges = ((0, _MAX_CODE_POINT),)
_DIGIT: _Ranges = ((ord("0"), ord("9")),)
_WORD: _Ranges = ((ord("0"), ord("9")), (ord("A"), ord("Z")), (ord("_"), ord("_")), (ord("a"), ord("z")))
_SPACE: _Ranges = ((ord("\t"), ord("\t")), (ord(" "), ord(" ")))
_CLASS_ESCAPES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}


class PatternError(ValueError):
    """A pattern that is not in the restricted syntax: the message says what is wrong and where.

    Attributes:
        position: the 0-based position in the pattern of the text at fault.
        fragment: that text.
    """

    def __init__(self, message: str, position: int, fragment: str) -> None:
        super().__init__(message)
        self.position = position
        self.fragment = fragment


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern: `source` as written, `regex` the equivalent Python regular expression."""

    source: str
    regex: re.Pattern[str]
    #: The pattern for a column of values written one per line (values hold no line end): one pass for all.
    column: re.Pattern[str] | None = None

    def matches(self, value: str) -> bool:
        """Whether the whole of `value` matches the pattern, in time linear in its length."""
        return self.regex.fullmatch(value) is not None

    def matches_all(self, values: list[str]) -> bool:
        """Whether every value matches, none holding a line end: the same answer as `matches` on each, in one pass."""
        assert self.column is not None
        return self.column.fullmatch("\n".join(values) + "\n") is not None if values else True


@dataclass(frozen=True)
class _Item:
    chars: _Ranges
    low: int
    high: int | None  # None: no upper bound
    position: int
    text: str  # the atom and its quantifier, as written
    atom: str  # the atom alone

    @property
    def varies(self) -> bool:
        return self.low != self.high


def compile_pattern(source: str) -> Pattern:
    """Compile a pattern of the restricted syntax (see the module's documentation).

    Raises `PatternError` for anything outside the syntax, naming the position and the text at fault.
    """
    if not isinstance(source, str):
        raise PatternError(f"a pattern is a string, not {type(source).__name__}", 0, repr(source))
    if not source:
        raise PatternError("a pattern cannot be empty (to accept any value, write `.*`)", 0, "")
    if len(source) > MAX_PATTERN_LENGTH:
        excess = source[MAX_PATTERN_LENGTH : MAX_PATTERN_LENGTH + 10]
        raise PatternError(
            f"a pattern is at most {MAX_PATTERN_LENGTH} characters and this one has {len(source)}: "
            f"`{excess}` at {MAX_PATTERN_LENGTH} is beyond the limit",
            MAX_PATTERN_LENGTH,
            excess,
        )
    items = _Parser(source).items()
    _check_deterministic(items)
    regex = "".join(_regex_chars(item.chars) + _regex_quantifier(item.low, item.high) for item in items)
    # The same items with the line end taken out of each set (a value holds none), each value ended by one:
    # no item can run past its value, so the column matches exactly when every value does.
    parts = []
    for item in items:
        chars = _without_line_end(item.chars)
        if chars:
            parts.append(_regex_chars(chars) + _regex_quantifier(item.low, item.high))
        elif item.low > 0:  # only a line end would do, and no value holds one
            parts = ["(?!)"]
            break
    column = re.compile(f"(?:{''.join(parts)}\n)*+", re.DOTALL)
    return Pattern(source, re.compile(regex, re.DOTALL), column)


def _without_line_end(chars: _Ranges) -> _Ranges:
    """`chars` without the line end (U+000A); empty when that was all it held."""
    kept: list[tuple[int, int]] = []
    for low, high in chars:
        if low <= _LINE_END <= high:
            if low < _LINE_END:
                kept.append((low, _LINE_END - 1))
            if high > _LINE_END:
                kept.append((_LINE_END + 1, high))
        else:
            kept.append((low, high))
    return tuple(kept)


class _Parser:
    def __init__(self, source: str) -> None:
        self._src = source
        self._at = 0

    def _fail(self, position: int, end: int, reason: str) -> PatternError:
        fragment = self._src[position:end]
        return PatternError(f"`{fragment}` at {position}: {reason}", position, fragment)

    def items(self) -> list[_Item]:
        src = self._src
        found: list[_Item] = []
        while self._at < len(src):
            start = self._at
            chars = self._atom()
            atom_end = self._at
            low, high = self._quantifier()
            found.append(_Item(chars, low, high, start, src[start : self._at], src[start:atom_end]))
        return found

    def _atom(self) -> _Ranges:
        src, at = self._src, self._at
        char = src[at]
        self._at = at + 1
        if char == "[":
            return self._class(at)
        if char == "\\":
            return self._escape(at, in_class=False)
        if char == ".":
            return _ALL
        if char in _QUANTIFIER_STARTS:
            raise self._fail(at, at + 1, "a quantifier has nothing before it to repeat")
        if char == "(":
            if src.startswith("(?", at):
                raise self._fail(at, at + 2, "groups and lookarounds are not supported")
            raise self._fail(at, at + 1, "groups are not supported; write `\\(` for a literal parenthesis")
        if char == ")":
            raise self._fail(at, at + 1, "groups are not supported; write `\\)` for a literal parenthesis")
        if char == "|":
            raise self._fail(
                at,
                at + 1,
                "alternation is not supported; for one character among several use a class such as [ab], "
                "and write `\\|` for a literal bar",
            )
        if char in "^$":
            raise self._fail(
                at,
                at + 1,
                f"anchors are not supported: a pattern always matches the whole value, anchors are implied; "
                f"write `\\{char}` for a literal {char}",
            )
        if char in "]}":
            raise self._fail(at, at + 1, f"unmatched `{char}`; write `\\{char}` for a literal one")
        return ((ord(char), ord(char)),)

    def _escape(self, at: int, in_class: bool) -> _Ranges:
        """The escape whose backslash is at `at` (`self._at` is past the backslash)."""
        src = self._src
        if at + 1 >= len(src):
            raise self._fail(at, at + 1, "a pattern cannot end with a lone backslash; write `\\\\` for one")
        char = src[at + 1]
        self._at = at + 2
        if char in _METACHARACTERS:
            return ((ord(char), ord(char)),)
        if char in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[char]
        if "0" <= char <= "9" and not in_class:
            raise self._fail(at, at + 2, "backreferences are not supported")
        raise self._fail(
            at,
            at + 2,
            "unknown escape: the escapes are \\d, \\w, \\s and a backslash before one of "
            ". \\ - [ ] { } ( ) * + ? | ^ $",
        )

    def _class(self, start: int) -> _Ranges:
        """The class whose `[` is at `start` (`self._at` is past it)."""
        src = self._src
        negated = src.startswith("^", self._at)
        if negated:
            self._at += 1
        first = self._at
        if src.startswith("]", first):
            raise self._fail(start, first + 1, "an empty class matches nothing; write `\\]` for a literal bracket")
        ranges: list[tuple[int, int]] = []
        while True:
            at = self._at
            if at >= len(src):
                raise self._fail(start, len(src), "the class is not closed with `]`")
            if src[at] == "]":
                self._at = at + 1
                break
            if src[at] == "-" and at != first and at + 1 < len(src) and src[at + 1] != "]":
                raise self._fail(at, at + 1, "a `-` inside a class is a range between two characters; write `\\-`")
            member = self._class_member(at)
            # A `-` after a member starts a range, unless it is the last character of the class.
            ranged = src.startswith("-", self._at) and self._at + 1 < len(src) and src[self._at + 1] != "]"
            if not ranged:
                ranges.extend(((member, member),) if isinstance(member, int) else member)
                continue
            dash = self._at
            end = self._class_member(dash + 1)
            if not isinstance(member, int) or not isinstance(end, int):
                raise self._fail(at, self._at, "a range is between two single characters")
            if end < member:
                raise self._fail(
                    at, self._at, f"the range is empty: {src[dash + 1 : self._at]} comes before {src[at:dash]}"
                )
            ranges.append((member, end))
        chars = _normalize(ranges)
        if negated:
            chars = _complement(chars)
        if not chars:
            raise self._fail(start, self._at, "this class matches no character")
        return chars

    def _class_member(self, at: int) -> int | _Ranges:
        """The class member at `at`: a code point, or the set of `\\d`, `\\w`, `\\s`."""
        src = self._src
        char = src[at]
        if char == "\\":
            chars = self._escape(at, in_class=True)
            return chars if src[at + 1] in _CLASS_ESCAPES else chars[0][0]
        if char == "[":
            raise self._fail(at, at + 1, "`[` inside a class is written `\\[`")
        self._at = at + 1
        return ord(char)

    def _quantifier(self) -> tuple[int, int | None]:
        src, at = self._src, self._at
        if at >= len(src) or src[at] not in _QUANTIFIER_STARTS:
            return 1, 1
        char = src[at]
        if char == "{":
            low, high = self._braces(at)
        else:
            self._at = at + 1
            low, high = {"?": (0, 1), "*": (0, None), "+": (1, None)}[char]
        if self._at < len(src) and src[self._at] in _QUANTIFIER_STARTS:
            raise self._fail(
                at,
                self._at + 1,
                "a quantifier cannot follow another one (there are no lazy or possessive forms); "
                "write `\\` before a literal " + src[self._at],
            )
        return low, high

    def _braces(self, at: int) -> tuple[int, int | None]:
        src = self._src
        close = src.find("}", at)
        body = src[at + 1 : close] if close != -1 else ""
        low_text, comma, high_text = body.partition(",")
        if close == -1 or not _is_number(low_text) or not (high_text == "" or _is_number(high_text)):
            end = close + 1 if close != -1 else min(len(src), at + 8)
            raise self._fail(
                at,
                end,
                f"a repetition is {{n}}, {{m,n}} or {{m,}} with numbers up to {MAX_REPEAT}; "
                "write `\\{` for a literal brace",
            )
        self._at = close + 1
        low = int(low_text)
        high = None if comma and not high_text else int(high_text or low_text)
        if low > MAX_REPEAT or (high is not None and high > MAX_REPEAT):
            raise self._fail(at, close + 1, f"a repetition count is at most {MAX_REPEAT}")
        if high is not None and low > high:
            raise self._fail(at, close + 1, "the minimum of the repetition is greater than its maximum")
        return low, high


def _is_number(text: str) -> bool:
    # ASCII digits only: str.isdigit would take other scripts' digits, which int() then reads.
    return text != "" and all("0" <= c <= "9" for c in text)


def _check_deterministic(items: list[_Item]) -> None:
    """Refuse an item of varying count that can match what may come right after it."""
    for index, item in enumerate(items):
        if not item.varies:
            continue
        for following in items[index + 1 :]:
            if following.high == 0:
                continue  # matches nothing, so it cannot take a character
            if _intersects(item.chars, following.chars):
                remainder = _intersection(item.chars, _complement(following.chars))
                if remainder:
                    hint = f"for example {_syntax_chars(remainder)}{item.text[len(item.atom) :]}"
                else:
                    hint = f"or give `{item.text}` a fixed count"
                raise PatternError(
                    f"`{item.text}` at {item.position} can also match what can follow it "
                    f"(`{following.text}` at {following.position}): make the two disjoint, {hint}",
                    item.position,
                    item.text,
                )
            if following.low >= 1:
                break


def _normalize(ranges: list[tuple[int, int]]) -> _Ranges:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _complement(chars: _Ranges) -> _Ranges:
    result: list[tuple[int, int]] = []
    next_low = 0
    for low, high in chars:
        if low > next_low:
            result.append((next_low, low - 1))
        next_low = high + 1
    if next_low <= _MAX_CODE_POINT:
        result.append((next_low, _MAX_CODE_POINT))
    return tuple(result)


def _intersection(a: _Ranges, b: _Ranges) -> _Ranges:
    result: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        low, high = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if low <= high:
            result.append((low, high))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(result)


def _intersects(a: _Ranges, b: _Ranges) -> bool:
    return bool(_intersection(a, b))


def _regex_char(code: int) -> str:
    """The code point as Python regex syntax, valid both inside and outside a class."""
    char = chr(code)
    if char.isascii() and (char.isalnum() or char == "_"):
        return char
    if char.isascii() and char.isprintable():
        return "\\" + char
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


_LINE_END = 0x0A


def _regex_ranges(chars: _Ranges) -> str:
    parts = []
    for low, high in chars:
        parts.append(_regex_char(low))
        if high > low + 1:
            parts.append("-")
        if high > low:
            parts.append(_regex_char(high))
    return "".join(parts)


def _regex_chars(chars: _Ranges) -> str:
    if chars == _ALL:
        return "."  # compiled with DOTALL
    if len(chars) == 1 and chars[0][0] == chars[0][1]:
        return _regex_char(chars[0][0])
    complement = _complement(chars)
    if len(complement) < len(chars):
        return f"[^{_regex_ranges(complement)}]"
    return f"[{_regex_ranges(chars)}]"


def _regex_quantifier(low: int, high: int | None) -> str:
    # A fixed count leaves the regex engine no choice to make, so it needs no possessive form.
    if low == high:
        return "" if low == 1 else f"{{{low}}}"
    if high is None:
        return {0: "*+", 1: "++"}.get(low, f"{{{low},}}+")
    return "?+" if (low, high) == (0, 1) else f"{{{low},{high}}}+"


def _syntax_char(code: int) -> str:
    """The code point in the pattern syntax, inside a class."""
    char = chr(code)
    return "\\" + char if char in "\\[]-^" else char


def _syntax_chars(chars: _Ranges) -> str:
    """`chars` in the pattern syntax, for a message: a character, or a class (negated when shorter)."""
    if len(chars) == 1 and chars[0][0] == chars[0][1]:
        char = chr(chars[0][0])
        return "\\" + char if char in _METACHARACTERS else char
    complement = _complement(chars)
    negated = len(complement) < len(chars)
    parts = []
    for low, high in complement if negated else chars:
        parts.append(_syntax_char(low))
        if high > low + 1:
            parts.append("-")
        if high > low:
            parts.append(_syntax_char(high))
    return ("[^" if negated else "[") + "".join(parts) + "]"
