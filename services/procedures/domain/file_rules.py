"""Reading an import file (unit or catalogue) field by field, naming each problem by its place in the
file (`procedures[17].deadline.days`), so a file with a bad row is refused whole, every problem
listed, before anything is written.

A reader records a problem and hands back a neutral value so the rest of the file is still checked;
the caller raises `FileRejected` at the end if any problem was found and never uses what it read.
"""

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from services.common.errors import InvalidArgument

MAX_PROBLEMS = 50


class FileRejected(InvalidArgument):
    """The file breaks a rule; `problems` lists (place in the file, what is wrong), first first."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        field, message = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(field, message + more)


class Problems:
    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, place: str, message: str) -> None:
        if len(self.found) < MAX_PROBLEMS:
            self.found.append((place, message))

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_any(self) -> None:
        if self.found:
            raise FileRejected(self.found)


class Fields:
    """One JSON object of the file, at `place`."""

    def __init__(self, problems: Problems, place: str, value: Any) -> None:
        self.problems = problems
        self.place = place
        self.ok = isinstance(value, Mapping)
        self.data: Mapping[str, Any] = value if self.ok else {}
        if not self.ok:
            problems.add(place, "must be an object")

    def at(self, key: str) -> str:
        return f"{self.place}.{key}" if self.place else key

    def problem(self, key: str, message: str) -> None:
        self.problems.add(self.at(key), message)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def only(self, *allowed: str) -> None:
        """Refuse keys this format does not define: a misspelt optional field must not be ignored."""
        for key in self.data:
            if key not in allowed:
                self.problem(key, "is not a field of this format (see docs/CATALOGUE_FORMAT.md)")

    def text(self, key: str, pattern: re.Pattern[str] | None = None, required: bool = True,
             hint: str = "") -> str:
        value = self.data.get(key)
        if not required and (value is None or value == ""):
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(key, "is required (a non-empty string)" if value is None else "must be a non-empty string")
            return ""
        value = unicodedata.normalize("NFC", value.strip())
        if pattern is not None and not pattern.fullmatch(value):
            self.problem(key, f"{value!r} is not {hint or 'of the form ' + pattern.pattern}")
            return ""
        return value

    def choice(self, key: str, allowed: tuple[str, ...], required: bool = True, default: str = "") -> str:
        value = self.data.get(key)
        if value is None and not required:
            return default
        if value not in allowed:
            self.problem(key, f"{value!r} is not one of: {', '.join(allowed)}")
            return allowed[0]
        return str(value)

    def integer(self, key: str, low: int, high: int, required: bool = True, default: int = 0) -> int:
        value = self.data.get(key)
        if value is None and not required:
            return default
        # bool is an int in Python; a `true` fee is a mistake, not 1 VND
        if value is None:
            self.problem(key, f"is required (a whole number from {low} to {high})")
            return low
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.problem(key, f"must be a whole number from {low} to {high}, not {value!r}")
            return low
        return value

    def number(self, key: str, low: float, high: float, step: float) -> float:
        value = self.data.get(key)
        if value is None:
            self.problem(key, f"is required (a number from {low:g} to {high:g} in steps of {step:g})")
            return low
        if (not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high
                or (value / step) != int(value / step)):
            self.problem(key, f"must be a number from {low:g} to {high:g} in steps of {step:g}, not {value!r}")
            return low
        return float(value)

    def boolean(self, key: str, required: bool = True, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None and not required:
            return default
        if not isinstance(value, bool):
            self.problem(key, "is required (true or false)" if value is None
                         else f"must be true or false, not {value!r}")
            return default
        return value

    def strings(self, key: str, allowed: tuple[str, ...] = (), required: bool = True) -> tuple[str, ...]:
        """A list of unique non-empty strings (from `allowed` when given)."""
        value = self.data.get(key)
        if value is None and not required:
            return ()
        if not isinstance(value, list) or (required and not value):
            self.problem(key, "must be a non-empty list" if required else "must be a list")
            return ()
        found: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.problems.add(f"{self.at(key)}[{index}]", "must be a non-empty string")
            elif allowed and item not in allowed:
                self.problems.add(f"{self.at(key)}[{index}]", f"{item!r} is not one of: {', '.join(allowed)}")
            elif item in found:
                self.problems.add(f"{self.at(key)}[{index}]", f"{item!r} is listed twice")
            else:
                found.append(unicodedata.normalize("NFC", item.strip()))
        return tuple(found)

    def objects(self, key: str, required: bool = True) -> Iterator["Fields"]:
        value = self.data.get(key)
        if value is None and not required:
            return
        if not isinstance(value, list) or (required and not value):
            self.problem(key, "must be a non-empty list of objects" if required else "must be a list of objects")
            return
        for index, item in enumerate(value):
            yield Fields(self.problems, f"{self.at(key)}[{index}]", item)

    def object(self, key: str, required: bool = True) -> "Fields | None":
        value = self.data.get(key)
        if value is None and not required:
            return None
        return Fields(self.problems, self.at(key), value)
