"""What validation and transformation report: row errors, counts and the bounded error list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RowError:
    """One error: `row` is the 1-based data record (None for a file error), `field` the field or None."""

    row: int | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The error as the contract's `{"row", "field", "message"}` object."""
        return {"row": self.row, "field": self.field, "message": self.message}


class FileError(Exception):
    """The file cannot be read further; the reader stops and the whole file is rejected.

    A file error has `row` None, as the contract says; its message names the record where it can.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.error = RowError(None, field, message)


@dataclass
class ErrorLog:
    """Keeps the first `limit` errors and counts all of them."""

    limit: int
    errors: list[RowError] = field(default_factory=list)
    count: int = 0

    def add(self, error: RowError) -> None:
        """Record one error."""
        self.count += 1
        if len(self.errors) < self.limit:
            self.errors.append(error)


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of `validate`: counts and errors (the first `max_errors`, and `error_count` in all)."""

    rows_total: int
    rows_valid: int
    rows_rejected: int
    errors: tuple[RowError, ...]
    error_count: int
    bytes_read: int

    @property
    def ok(self) -> bool:
        """True when the file has data records and no error at all."""
        return self.error_count == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "rows_total": self.rows_total,
            "rows_valid": self.rows_valid,
            "rows_rejected": self.rows_rejected,
            "error_count": self.error_count,
            "errors": [e.to_dict() for e in self.errors],
            "bytes_read": self.bytes_read,
        }


@dataclass(frozen=True)
class TransformResult(ValidationResult):
    """The outcome of `transform`: as `ValidationResult`, plus what was written."""

    rows_written: int = 0
    bytes_written: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        data = super().to_dict()
        data.update(rows_written=self.rows_written, bytes_written=self.bytes_written)
        return data
