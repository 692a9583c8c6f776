"""Task name patterns: globs and `re:` expressions run on RE2 (linear time whatever the pattern), the
literal prefix every matching name starts with (what the index narrows by), and `RegexScreen`, which runs
many `re:` patterns over a name in one pass."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

_GLOB_SPECIALS = frozenset("*?[")
_REGEX_SPECIALS = frozenset(".^$*+?{}[]\\|()")


class NameRegex(Protocol):
    """What matching needs of a compiled name pattern: a full match, None when the name does not match."""

    @property
    def pattern(self) -> str: ...

    def fullmatch(self, name: str, /) -> object | None: ...


class _Re2(NamedTuple):
    module: Any  # re2._re2
    options: Any  # re2.Options
    whole: Any  # the anchor of a full match


# google-re2: `re:` patterns are written by people and matched against every task name each cycle. RE2 runs
# in time linear in the name whatever the pattern (no backtracking), so `(a+)+$` cannot freeze the daemon;
# it has no backreferences or lookaround, which a task name never needs. The low-level object is used
# directly: re2.compile's Python wrapper costs several times the match itself (bench/findings.md). Loaded
# at the first `re:` pattern: a daemon whose rules have none never maps the library (its RSS,
# bench/findings.md).
@functools.cache
def _re2() -> _Re2:
    import re2
    from re2 import _re2 as module

    options = re2.Options()
    options.never_capture = True  # only whether it matches
    options.log_errors = False  # errors are reported as file:line problems, not on stderr
    return _Re2(module, options, module.RE2.Anchor.ANCHOR_BOTH)


#: RE2's largest counted repetition; a larger count would be read as literal text (`a{4294967296}`).
RE2_MAX_REPEAT = 1000
_COUNTED_REPEAT = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")
_RE2_HINT = "task_name regexes use RE2 syntax: no backreferences, lookahead or lookbehind; \\z ends the text"


def _shortened(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LinearRegex:
    """A `re:` pattern compiled by RE2: a full match costs time linear in the name, whatever the pattern."""

    __slots__ = ("_compiled", "_required", "_whole", "pattern", "program_size")

    def __init__(self, pattern: str) -> None:
        """Raises ValueError saying what RE2 cannot run."""
        for found in _COUNTED_REPEAT.finditer(pattern):
            counts = [int(count) for count in found.groups() if count]
            if max(counts) > RE2_MAX_REPEAT:
                raise ValueError(f"repetition {found.group()} is too large (at most {{{RE2_MAX_REPEAT}}})")
        re2 = _re2()
        compiled = re2.module.RE2(pattern.encode("utf-8", "surrogatepass"), re2.options)
        if not compiled.ok():
            error = _shortened(compiled.error().decode("utf-8", "replace"))
            unsupported = error.startswith(("invalid perl operator", "invalid escape sequence"))
            raise ValueError(f"{error} ({_RE2_HINT})" if unsupported else error)
        self.pattern = pattern
        self._compiled = compiled
        self._whole = re2.whole
        #: The size of RE2's program: what an RE2 set of patterns is limited by (`NameScreen`).
        self.program_size: int = compiled.ProgramSize()
        # Text every match contains: a name without it is refused by a substring test, an order of magnitude
        # cheaper than a call into RE2 (bench/findings.md); most names of a fleet are refused so.
        self._required = _required_literal(pattern)

    def fullmatch(self, name: str, /) -> bool | None:
        if self._required not in name:
            return None
        text = name.encode("utf-8", "surrogatepass")
        return True if self._compiled.Match(self._whole, text, 0, len(text))[0][0] >= 0 else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearRegex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"LinearRegex({self.pattern!r})"


@dataclass(frozen=True)
class NamePattern:
    """A task name pattern: a glob (`prod-*`) or a regular expression after `re:`, matching the whole name.
    Globs run on Python's `re` (fnmatch's translation never backtracks badly); `re:` patterns on RE2."""

    text: str
    regex: NameRegex
    exact: str | None = None
    #: Every name the pattern matches starts with this ("" when nothing is known: a regex, a glob like
    #: `*-01`): what `match` indexes names by.
    prefix: str = ""
    #: The pattern is `<prefix>*`: it matches exactly the names that start with `prefix`.
    prefix_only: bool = False

    @classmethod
    def compile(cls, text: str) -> NamePattern:
        """Raises ValueError for an empty pattern or a regular expression RE2 cannot run."""
        if text.startswith("re:"):
            source = text.removeprefix("re:")
            if not source:
                raise ValueError("'re:' needs a regular expression after it")
            try:
                return cls(text, LinearRegex(source), prefix=_regex_prefix(source))
            except ValueError as exc:
                raise ValueError(f"bad regular expression {_shortened(source)!r}: {exc}") from None
        if not text:
            raise ValueError("an empty task_name matches nothing")
        special = next((i for i, char in enumerate(text) if char in _GLOB_SPECIALS), None)
        if special is None:
            return cls(text, re.compile(fnmatch.translate(text)), exact=text, prefix=text)
        prefix = text[:special]
        # fnmatch's `*` is `.*` under DOTALL: `prefix*` accepts any rest, newlines included.
        return cls(text, re.compile(fnmatch.translate(text)), prefix=prefix, prefix_only=text == prefix + "*")

    def matches(self, name: str) -> bool:
        if self.exact is not None:
            return name == self.exact
        return self.regex.fullmatch(name) is not None


def _regex_prefix(source: str) -> str:
    """Text that every full match of `source` starts with, or "" when unsure: its leading plain characters
    (less the last when a quantifier follows it), unless the expression has an alternative at the top level
    (`prod-.*|lab-.*`). A global flag such as `(?i)` can only come first, and then there is no prefix."""
    end = 0
    while end < len(source) and source[end] not in _REGEX_SPECIALS:
        end += 1
    if end < len(source) and source[end] in "?*{+":
        end -= 1  # `ab?` or `ab{0,2}`: the last plain character may be absent
    if end <= 0 or _has_top_level_alternative(source):
        return ""
    return source[:end]


def _required_literal(source: str) -> str:
    """The longest run of plain characters that every full match of `source` contains, or "" when unsure:
    characters outside any group, class or escape, less one followed by `?`, `*` or a counted repetition.
    Nothing for an expression with a top-level alternative or any `(?` (a flag such as `(?i)` may change
    what a character matches)."""
    if "(?" in source or _has_top_level_alternative(source):
        return ""
    best, run, depth, position, size = "", "", 0, 0, len(source)

    def ended(run: str) -> str:
        return run if len(run) > len(best) else best

    while position < size:
        char = source[position]
        if char == "\\":
            # An escape, and what may belong to it (`\\pL`, `\\x41`, `\\p{Greek}`, octal digits): skipped.
            best, run = ended(run), ""
            position += 2
            while position < size and (source[position].isalnum() or source[position] in "{}"):
                position += 1
            continue
        if char == "[":
            best, run = ended(run), ""
            position += 1
            if source.startswith("^", position):
                position += 1
            if source.startswith("]", position):
                position += 1
            while position < size and source[position] != "]":
                position += 2 if source[position] == "\\" else 1
        elif char in "?*{":
            best, run = ended(run[:-1]), ""  # the character before may be absent
            if char == "{":
                closing = source.find("}", position)
                position = closing if closing != -1 else size
        elif char in "()+.^$|":
            best, run = ended(run), ""  # `+`: the character before is there at least once
            depth += {"(": 1, ")": -1}.get(char, 0)
        elif depth == 0:
            run += char
        position += 1
    return ended(run)


def _has_top_level_alternative(source: str) -> bool:
    depth, position, size = 0, 0, len(source)
    while position < size:
        char = source[position]
        if char == "\\":
            position += 1
        elif char == "[":
            # A set runs to the first `]` not escaped, except one right after `[` or `[^`.
            position += 1
            if source.startswith("^", position):
                position += 1
            if source.startswith("]", position):
                position += 1
            while position < size and source[position] != "]":
                position += 2 if source[position] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth <= 0:
            return True
        position += 1
    return False


class RegexScreen:
    """The `re:` name tests of a rule set run as RE2 sets: one pass over a name tells which of the patterns
    match it. Built once per rule set (compiling thousands of patterns takes tens of milliseconds).

    Sets are limited by size (`SET_INSTRUCTIONS` of RE2 program each, bigger patterns left out and tested
    alone) so that their matching automaton always fits its memory: out of memory, a set would report no
    match instead of an error."""

    SET_INSTRUCTIONS = 20_000

    def __init__(self, regexes: Sequence[LinearRegex]) -> None:
        """Raises MemoryError when RE2 cannot build a set (never with sets this small): the rule set then
        tests each pattern alone."""
        self._sets: list[tuple[Any, int]] = []  # (RE2 set, index of its first pattern)
        current: Any = None
        size = 0
        for index, regex in enumerate(regexes):
            if current is None or size + regex.program_size > self.SET_INSTRUCTIONS:
                re2 = _re2()
                current, size = re2.module.Set(re2.whole, re2.options), 0
                self._sets.append((current, index))
            if current.Add(regex.pattern.encode("utf-8", "surrogatepass")) != index - self._sets[-1][1]:
                raise MemoryError(f"RE2 set refused {regex.pattern!r}")  # compiled alone: never expected
            size += regex.program_size
        for compiled, _ in self._sets:
            if not compiled.Compile():  # matching an uncompiled set crashes the process
                raise MemoryError("RE2 set too large")

    @classmethod
    def fits(cls, regex: LinearRegex) -> bool:
        return regex.program_size <= cls.SET_INSTRUCTIONS

    def hits(self, name: str) -> list[int]:
        """The indexes of the patterns that fully match `name`."""
        text = name.encode("utf-8", "surrogatepass")
        return [first + index for compiled, first in self._sets for index in compiled.Match(text)]
