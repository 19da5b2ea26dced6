"""One domain error type with a status and a user-facing message (SPEC §4 error shape)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule violation or bad input; `message` is shown to the user as is."""

    status: int = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"message": self.message, "field": self.field}


class ValidationError(DomainError):
    status = 400


class RuleViolation(DomainError):
    status = 400


class NotAuthenticated(DomainError):
    status = 401

    def __init__(self, message: str = "Not signed in", field: str | None = None) -> None:
        super().__init__(message, field)


class Forbidden(DomainError):
    status = 403

    def __init__(self, message: str = "Not authorized", field: str | None = None) -> None:
        super().__init__(message, field)


class NotFound(DomainError):
    status = 404


class PaymentDeclined(DomainError):
    status = 402


class RateLimited(DomainError):
    status = 429


class ServiceUnavailable(DomainError):
    status = 503
