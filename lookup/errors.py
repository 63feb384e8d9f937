"""Errors the package raises; each message says what is wrong and, where it can, what to do."""

__all__ = ("ExtractError", "IdError", "LookupServiceError", "RowError", "StoreError")


class LookupServiceError(Exception):
    """Base of every error raised on purpose by this package."""


class IdError(LookupServiceError, ValueError):
    """A malformed person identifier or facility code (result code 205)."""


class RowError(LookupServiceError, ValueError):
    """One extract or delta row breaks a rule of SPEC.md 1.1."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ExtractError(LookupServiceError):
    """A whole file cannot be read as an extract (empty, not CSV, wrong columns...)."""


class StoreError(LookupServiceError):
    """The data directory or a snapshot is missing, locked or inconsistent."""
