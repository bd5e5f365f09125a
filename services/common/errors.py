"""Errors the domain raises, each naming the field at fault.

Pure Python: the gateway maps the class name to a gRPC status code, so these names are part of
the contract between services and the gateway (see gateway/errors.py).
"""


class DomainError(Exception):
    status = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidArgument(DomainError):
    status = "INVALID_ARGUMENT"


class FailedPrecondition(DomainError):
    status = "FAILED_PRECONDITION"


class NotFound(DomainError):
    status = "NOT_FOUND"


class AlreadyExists(DomainError):
    status = "ALREADY_EXISTS"


class PermissionDenied(DomainError):
    status = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    status = "UNAUTHENTICATED"


class Unavailable(DomainError):
    """A third party (population database, payment intermediary...) could not be reached."""

    status = "UNAVAILABLE"


class ResourceExhausted(DomainError):
    """A limit on how often something may be asked was reached (sign-ins, one-time codes, guesses at one
    dossier's public lookup); the message says when to try again."""

    status = "RESOURCE_EXHAUSTED"


STATUS_BY_ERROR_NAME = {
    cls.__name__: cls.status
    for cls in (InvalidArgument, FailedPrecondition, NotFound, AlreadyExists, PermissionDenied,
                Unauthenticated, Unavailable, ResourceExhausted)
}
