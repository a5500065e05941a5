"""Errors as data: what a user got wrong, with a code and the input field it concerns."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    SLOT_UNAVAILABLE = "SLOT_UNAVAILABLE"
    INVALID_STATE = "INVALID_STATE"
    RATE_LIMITED = "RATE_LIMITED"


@dataclass(frozen=True)
class FieldError:
    code: ErrorCode
    message: str
    field: str | None = None


class ServiceError(Exception):
    """Raised by services for a user's mistake; the caller rolls back and reports the errors."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors

    @classmethod
    def one(cls, code: ErrorCode, message: str, field: str | None = None) -> ServiceError:
        return cls([FieldError(code, message, field)])


def not_found(what: str, field: str | None = None) -> ServiceError:
    return ServiceError.one(ErrorCode.NOT_FOUND, f"{what} not found", field)


def validation(message: str, field: str | None) -> FieldError:
    return FieldError(ErrorCode.VALIDATION, message, field)
