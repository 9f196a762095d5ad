"""Domain exceptions. Pages catch ``RecsysError`` only; anything else is a real bug."""

from __future__ import annotations

from dataclasses import dataclass


class RecsysError(Exception):
    """Base class of every error a user can cause and fix."""


class NotFoundError(RecsysError):
    """A dataset, split or run id that does not exist."""


class ConfigError(RecsysError):
    """A bad argument or configuration value (the message names it and the value)."""


class ConflictError(RecsysError):
    """A transaction lost to a concurrent one (e.g. two sessions saving the same name)."""


class FitCancelled(RecsysError):
    """``fit`` stopped because ``should_stop()`` returned True (the user cancelled)."""


class DatabaseLockedError(RecsysError):
    """The DuckDB file is held by another process (usually the running app server)."""


@dataclass(frozen=True)
class Problem:
    """One validation finding, located as precisely as we can.

    Attributes:
        severity: ``"error"`` blocks the load; ``"warning"`` does not.
        file: the file name as the user gave it.
        message: what is wrong, in plain words.
        line: 1-based line of the file (a header is line 1), or None for the whole file.
        column: the column name as in the file, or None.
    """

    severity: str
    file: str
    message: str
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


class ValidationError(RecsysError):
    """Input files failed validation; nothing was written.

    Attributes:
        problems: every error and warning found, errors first.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: p.severity != "error")
        errors = [p for p in self.problems if p.severity == "error"]
        head = str(errors[0]) if errors else "validation failed"
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        super().__init__(head + more)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
