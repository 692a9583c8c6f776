"""Loading rule files: reading a file or a directory (refusing what is not a regular file), and strict
validation reporting every problem at once as `file:line: problem`."""

from __future__ import annotations

import difflib
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_core import ErrorDetails

from monitor.rules.index import RuleSet
from monitor.rules.matcher import KEYS_BY_NAME, MATCH_KEYS, TaskMatcher
from monitor.rules.model import Location, Rule
from monitor.rules.schema import (
    KEYS_BY_SECTION,
    MatchModel,
    NamedTimeIntervalModel,
    RuleFileModel,
    RuleModel,
    SilenceModel,
    section_of,
)
from monitor.silences import Silence, SilenceOrigin
from monitor.timeintervals import (
    DayRange,
    NamedTimeInterval,
    TimeInterval,
    parse_days_of_month,
    parse_location,
    parse_months,
    parse_time_range,
    parse_weekdays,
    parse_years,
)
from monitor.yamlfile import Locator, YamlError, duplicate_keys, parse_yaml

#: Problems listed in one RuleFileError; the rest are counted in one last line.
MAX_PROBLEMS = 100
_Model = TypeVar("_Model", bound=BaseModel)


class RuleFileError(ValueError):
    """The rules cannot be used; `problems` are `file:line: problem` lines, all of them, in file order."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class _Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class _FileContents:
    rules: list[Rule] = field(default_factory=list)
    silences: list[tuple[Silence, Location]] = field(default_factory=list)
    #: (name, where) of every rule item with a text name, valid or not, to find duplicates across files.
    names: list[tuple[str, Location]] = field(default_factory=list)
    intervals: list[NamedTimeInterval] = field(default_factory=list)
    #: (name, where) of every time interval item with a text name, valid or not.
    interval_names: list[tuple[str, Location]] = field(default_factory=list)
    #: (name, where, who) of every time interval a rule or silence refers to.
    interval_refs: list[tuple[str, Location, str]] = field(default_factory=list)
    problems: list[_Problem] = field(default_factory=list)


def load_rules_text(text: str, filename: str = "<rules>") -> RuleSet:
    """Parse and validate one rule file's text. Raises RuleFileError listing every problem."""
    return _assemble([_parse_file(text, filename)], files=[filename])


#: What a rules directory reads: `*.yaml` and `*.yml` (hidden files skipped).
RULE_FILE_SUFFIXES = (".yaml", ".yml")
#: A rule file larger than this is refused unread (a typo'd path to a log, a link to a disk image).
MAX_RULE_FILE_BYTES = 16 * 1024 * 1024


def load_rules(path: str | Path) -> RuleSet:
    """Load a rule file, or every `*.yaml` and `*.yml` file of a directory in name order (hidden files
    skipped). In a directory, an entry that cannot be read (a broken symbolic link, a directory or device
    named `x.yaml`, no permission) is a problem with its path, never skipped; a symbolic link out of the
    directory is followed to a regular file only, and the problems of such a file do not show its content
    (it may be anything readable by the daemon's user)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            entry
            for entry in path.iterdir()
            if entry.name.endswith(RULE_FILE_SUFFIXES) and not entry.name.startswith(".")
        )
        if not files:
            raise RuleFileError([f"{path}: no *.yaml or *.yml rule files in this directory"])
        parsed = [_read_entry(file, path) for file in files]
    else:
        files = [path]
        parsed = [_read_named(path)]
    return _assemble(parsed, files=[str(file) for file in files])


def _read_named(path: Path) -> _FileContents:
    """The one rule file named (`rules:` or `--rules`): a regular file, or a problem unread (a FIFO would
    block the read for ever, /dev/zero fill the memory)."""
    try:
        status = path.stat()
    except OSError:
        return _read_file(path)  # says why (no such file, no permission)
    if not stat.S_ISREG(status.st_mode):
        return _FileContents(
            problems=[_Problem(Location(str(path)), "not a regular file: a rule file must be a regular file")]
        )
    return _read_file(path, size=status.st_size)


def _read_entry(entry: Path, directory: Path) -> _FileContents:
    """One entry of a rules directory (see `load_rules`)."""

    def refused(problem: str) -> _FileContents:
        return _FileContents(problems=[_Problem(Location(str(entry)), problem)])

    try:
        target = entry.resolve(strict=True)
        status = target.stat()
    except FileNotFoundError:
        return refused("a broken symbolic link: what it points to does not exist")
    except RuntimeError:  # a loop of symbolic links (Python 3.11)
        return refused("a loop of symbolic links")
    except OSError as exc:
        return refused(f"cannot be read: {exc.strerror or type(exc).__name__}")
    if not stat.S_ISREG(status.st_mode):
        what = "a directory" if stat.S_ISDIR(status.st_mode) else "not a regular file"
        return refused(f"{what}: a rule file must be a regular file")
    contents = _read_file(entry, size=status.st_size)
    outside = not target.is_relative_to(directory.resolve())
    if outside and contents.problems:
        # Whatever the link points to is reported by its lines only: never a quote of its content.
        lines = sorted({problem.location.line or 1 for problem in contents.problems})
        shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
        return _FileContents(
            problems=[
                _Problem(
                    Location(str(entry), lines[0]),
                    f"not a valid rule file (problems on lines {shown}); it links outside the rules "
                    "directory, so its content is not shown: run `check --rules` on the file itself",
                )
            ]
        )
    return contents


def _read_file(path: Path, size: int | None = None) -> _FileContents:
    if size is not None and size > MAX_RULE_FILE_BYTES:
        problem = f"{size:,} bytes: larger than a rule file can be ({MAX_RULE_FILE_BYTES:,})"
        return _FileContents(problems=[_Problem(Location(str(path)), problem)])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problem = "no such file or directory"
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        problem = f"cannot read: {exc.strerror or exc}"
    else:
        return _parse_file(text, str(path))
    return _FileContents(problems=[_Problem(Location(str(path)), problem)])


def compile_match(spec: Mapping[str, Any], *, where: str) -> TaskMatcher:
    """A matcher from a `match:` mapping given at runtime (a `/tasks silence`, a stored silence).

    Raises RuleFileError with problems prefixed by `where`."""
    try:
        return _compiled_matcher(MatchModel.model_validate(spec))
    except ValidationError as exc:
        raise RuleFileError(
            [
                f"{where}: match.{_dotted(error['loc'])}: {_explain(error, ('match', *error['loc'][:-1]))}"
                for error in exc.errors()
            ]
        ) from None


def _parse_file(text: str, filename: str) -> _FileContents:
    try:
        data, locator = parse_yaml(text, filename)
    except YamlError as exc:
        return _FileContents(problems=[_Problem(Location(filename, exc.line), _yaml_problem(exc.problem))])
    if data is None:
        shape = "empty rule file: expected `rules:` and/or `silences:`"
    elif not isinstance(data, dict):
        shape = f"a rule file is a mapping with `rules:` and/or `silences:`, not {_yaml_type(data)}"
    else:
        contents = _validated(data, locator)
        contents.problems.extend(_duplicate_keys(locator))
        return contents
    return _FileContents(problems=[_Problem(Location(filename, 1), shape)])


def _validated(data: dict[str, Any], locator: Locator) -> _FileContents:
    """The rules and silences of one parsed file, the valid ones compiled, every problem located."""
    filename = locator.filename
    contents = _FileContents()
    raw_rules, raw_silences = _list_at(data, "rules"), _list_at(data, "silences")
    raw_intervals = _list_at(data, "time_intervals")
    _restore_clock_texts(raw_intervals, locator)
    for index, raw in enumerate(raw_rules):
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            contents.names.append(
                (raw["name"], Location(filename, locator.line_of(("rules", index, "name"))))
            )
    for index, raw in enumerate(raw_intervals):
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            where = Location(filename, locator.line_of(("time_intervals", index, "name")))
            contents.interval_names.append((raw["name"], where))
    try:
        file_model = RuleFileModel.model_validate(data)
        rule_models = list(enumerate(file_model.rules))
        silence_models = list(enumerate(file_model.silences))
        interval_models = list(enumerate(file_model.time_intervals))
    except ValidationError as exc:
        contents.problems.extend(_located(error, data, locator) for error in exc.errors())
        # Keep the valid items, so that checks across rules (shadowing) still run on them.
        rule_models = _valid_items(RuleModel, raw_rules)
        silence_models = _valid_items(SilenceModel, raw_silences)
        interval_models = _valid_items(NamedTimeIntervalModel, raw_intervals)
    for index, rule_model in rule_models:
        contents.rules.append(
            _compiled_rule(rule_model, Location(filename, locator.line_of(("rules", index))))
        )
        for key in ("mute_time_intervals", "active_time_intervals"):
            where = Location(filename, locator.line_of(("rules", index, key)))
            who = f"rule {rule_model.name!r} {key}"
            contents.interval_refs.extend((name, where, who) for name in getattr(rule_model, key))
    for index, silence_model in silence_models:
        where = Location(filename, locator.line_of(("silences", index)))
        names_line = Location(filename, locator.line_of(("silences", index, "rule")))
        contents.silences.append((_file_silence(silence_model, where), names_line))
        refs_line = Location(filename, locator.line_of(("silences", index, "time_intervals")))
        contents.interval_refs.extend(
            (name, refs_line, "silence time_intervals") for name in silence_model.time_intervals or ()
        )
    contents.intervals.extend(_compiled_interval(model) for _, model in interval_models)
    return contents


#: The keys of a time interval whose values may be clock times or `a:b` ranges.
_CLOCK_KEYS = ("times", "weekdays", "days_of_month", "months", "years")


def _restore_clock_texts(raw_intervals: list[Any], locator: Locator) -> None:
    """Put back the text of `22:00` and `1:7` where YAML 1.1 read a base-60 number (1320, 427): Alertmanager's
    YAML reads them as text, and so must we, in place, before validation."""

    def restore(value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, dict):
            return {key: restore(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [restore(item, (*path, index)) for index, item in enumerate(value)]
        if isinstance(value, int) and not isinstance(value, bool):
            text = locator.scalar_text(path)
            if text is not None and ":" in text:
                return text
        return value

    for index, named in enumerate(raw_intervals):
        items = named.get("time_intervals") if isinstance(named, dict) else None
        for position, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, dict):
                for key in _CLOCK_KEYS:
                    if key in item:
                        item[key] = restore(
                            item[key], ("time_intervals", index, "time_intervals", position, key)
                        )


def _compiled_interval(model: NamedTimeIntervalModel) -> NamedTimeInterval:
    def ranges(texts: Sequence[str] | None, parse: Callable[[str], DayRange]) -> tuple[DayRange, ...] | None:
        return None if texts is None else tuple(parse(text) for text in texts)

    return NamedTimeInterval(
        model.name,
        tuple(
            TimeInterval(
                times=None
                if item.times is None
                else tuple(parse_time_range(r.start_time, r.end_time) for r in item.times),
                weekdays=ranges(item.weekdays, parse_weekdays),
                days_of_month=ranges(item.days_of_month, parse_days_of_month),
                months=ranges(item.months, parse_months),
                years=ranges(item.years, parse_years),
                location=parse_location(item.location) if item.location else ZoneInfo("UTC"),
            )
            for item in model.time_intervals
        ),
    )


def _file_silence(model: SilenceModel, where: Location) -> Silence:
    return Silence(
        id=str(where),
        matcher=_compiled_matcher(model.match),
        until=model.until,
        comment=model.comment,
        created_by="rule file",
        rules=frozenset(model.rule or ()),
        origin=SilenceOrigin.RULE_FILE,
        time_intervals=tuple(model.time_intervals or ()),
    )


def _list_at(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _valid_items(model: type[_Model], raw_items: Sequence[object]) -> list[tuple[int, _Model]]:
    valid = []
    for index, raw in enumerate(raw_items):
        try:
            valid.append((index, model.model_validate(raw)))
        except ValidationError:
            continue
    return valid


def _assemble(parsed: Sequence[_FileContents], *, files: Sequence[str]) -> RuleSet:
    problems = [problem for contents in parsed for problem in contents.problems]
    first_use: dict[str, Location] = {}
    for contents in parsed:
        for name, where in contents.names:
            if name in first_use:
                problems.append(_Problem(where, f"rule name {name!r} is already used at {first_use[name]}"))
            else:
                first_use[name] = where
    rules = [rule for contents in parsed for rule in contents.rules]
    problems.extend(_unreachable_rules(rules))
    for contents in parsed:
        for silence, where in contents.silences:
            for name in sorted(silence.rules - first_use.keys()):
                problems.append(_Problem(where, f"silence names rule {name!r}, which does not exist"))
    problems.extend(_interval_problems(parsed))
    if not problems and not rules:
        problems.append(_Problem(Location(files[-1], 1), "no rules: nothing would ever alert"))
    if problems:
        file_order = {filename: position for position, filename in enumerate(files)}
        problems.sort(key=lambda p: (file_order.get(p.location.filename, 0), p.location.line or 0))
        raise RuleFileError(_capped(problems))
    silences = tuple(silence for contents in parsed for silence, _ in contents.silences)
    intervals = tuple(interval for contents in parsed for interval in contents.intervals)
    return RuleSet(tuple(rules), silences, tuple(files), time_intervals=intervals)


def _interval_problems(parsed: Sequence[_FileContents]) -> Iterable[_Problem]:
    """Time interval names used twice (across files too), and references to names defined nowhere."""
    defined: dict[str, Location] = {}
    for contents in parsed:
        for name, where in contents.interval_names:
            if name in defined:
                yield _Problem(where, f"time interval name {name!r} is already used at {defined[name]}")
            else:
                defined[name] = where
    for contents in parsed:
        for name, where, who in contents.interval_refs:
            if name not in defined:
                known = f" (defined: {', '.join(sorted(defined))})" if defined else " (none is defined)"
                yield _Problem(
                    where,
                    f"{who}: no time interval named {name!r} under time_intervals:{known}"
                    + _did_you_mean(name, defined),
                )


def _capped(problems: Sequence[_Problem]) -> list[str]:
    """The first MAX_PROBLEMS problems, then one line saying how many more there are (at the location of the
    first left out): past a hundred, nobody reads on, and a generated file can hold millions."""
    shown = [str(problem) for problem in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        shown.append(
            f"{problems[MAX_PROBLEMS].location}: and {more:,} more problems (fix the ones above first)"
        )
    return shown


def _unreachable_rules(rules: Sequence[Rule]) -> Iterable[_Problem]:
    # Only a rule that checks no details and does not continue can shadow a later one: 5,000 rules with
    # name patterns are then checked in linear time, not against every earlier rule.
    catch_alls: list[Rule] = []
    for rule in rules:
        for earlier in catch_alls:
            # A rule repeated under the same name is reported as a duplicate, not twice.
            if earlier.name != rule.name and earlier.matcher.covers(rule.matcher):
                yield _Problem(
                    rule.location,
                    f"rule {rule.name!r} can never match: rule {earlier.name!r} ({earlier.location}) comes "
                    "first, matches every task this one would, and has no `continue: true`",
                )
                break
        if not rule.continue_matching and not rule.matcher.checks_details:
            catch_alls.append(rule)


def _duplicate_keys(locator: Locator) -> Iterable[_Problem]:
    # PyYAML keeps the last of two equal keys silently; in a rule that hides half of what was written.
    for duplicate in duplicate_keys(locator):
        yield _Problem(Location(locator.filename, duplicate.line), str(duplicate))


def _yaml_problem(problem: str) -> str:
    if "'\\t'" in problem:
        return "invalid YAML: a tab character; indent with spaces"
    return problem.splitlines()[0]  # PyYAML may append a second line quoting "<unicode string>"


def _located(error: ErrorDetails, data: Mapping[str, Any], locator: Locator) -> _Problem:
    loc = error["loc"]
    where = Location(locator.filename, locator.line_of(loc))
    # "unknown key 'chanel'" already names the key: the context is its owner.
    context = _context(loc[:-1] if error["type"] == "extra_forbidden" else loc, data)
    message = _explain(error, loc[:-1])
    return _Problem(where, f"{context}: {message}" if context else message)


def _context(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """`rule 'prod-reboots': match.task_type` for ("rules", 0, "match", "task_type", 1)."""
    if len(loc) >= 2 and loc[0] in ("rules", "silences", "time_intervals") and isinstance(loc[1], int):
        section, index, rest = loc[0], loc[1], loc[2:]
        item = data[section][index]
        if section == "rules" and isinstance(item, dict) and isinstance(item.get("name"), str):
            owner = f"rule {item['name']!r}"
        elif section == "time_intervals" and isinstance(item, dict) and isinstance(item.get("name"), str):
            owner = f"time interval {item['name']!r}"
        else:
            owner = f"{section}[{index}]"
        return f"{owner}: {_dotted(rest)}" if _dotted(rest) else owner
    return _dotted(loc)


def _dotted(loc: Sequence[int | str]) -> str:
    # List positions are dropped: the line already points at the item.
    return ".".join(part for part in loc if isinstance(part, str))


def _explain(error: ErrorDetails, parent: Sequence[int | str]) -> str:
    kind, value = error["type"], error.get("input")
    key = next((part for part in reversed(error["loc"]) if isinstance(part, str)), "")
    if kind == "extra_forbidden":
        return f"unknown key {key!r}" + _did_you_mean(key, KEYS_BY_SECTION[section_of(parent)])
    if kind == "missing":
        return "missing (required)"
    if kind == "too_short":
        return "an empty list: give at least one item, or remove the key"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
        match_key = KEYS_BY_NAME.get(key) if "match" in parent else None
        why = next((why for never, why in match_key.never if never == value), None) if match_key else None
        if why is not None:
            return why
        return f"{value!r} is not one of {', '.join(options)}" + _did_you_mean(str(value), options)
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_yaml_type(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_yaml_type(value)}"
    if kind == "string_type":
        return f"expected text, got {_yaml_type(value)} (quote it)"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {_yaml_type(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value), got {_yaml_type(value)}"
    if kind in ("timezone_aware", "datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"expected a date and time with a zone, like 2026-12-31T00:00:00Z, got {value!s}"
    return error["msg"].removeprefix("Value error, ")


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _yaml_type(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime):
        return f"the time {value.isoformat()}"
    return type(value).__name__


def _compiled_matcher(model: MatchModel) -> TaskMatcher:
    """The matcher of a validated `match:`: each key given, compiled as its row says."""
    given = [(key, getattr(model, key.name)) for key in MATCH_KEYS]
    return TaskMatcher(tuple((key, key.compile(value)) for key, value in given if value is not None))


def _compiled_rule(model: RuleModel, location: Location) -> Rule:
    return Rule(
        name=model.name,
        matcher=_compiled_matcher(model.match),
        location=location,
        channel=model.channel,
        severity=model.severity,
        repeat_interval=model.repeat_interval,
        notify_resolved=model.notify_resolved,
        continue_matching=model.continue_,
        group_by=tuple(model.group_by),
        mention=model.mention,
        mute_time_intervals=tuple(model.mute_time_intervals),
        active_time_intervals=tuple(model.active_time_intervals),
        min_failures=model.min_failures,
        pagerduty=model.pagerduty,
        runbook_url=model.runbook_url,
        overdue_after=model.overdue_after,
    )
