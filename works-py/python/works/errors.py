"""The exceptions of ``works``: one class per kind of error the core reports.

Every call of a client raises a subclass of :class:`WorksError`. Its ``str()`` is the
core's plain-English message, the same text the CLI and the HTTP API give, and
``next_action`` says what the person seeing it can do about it::

    try:
        client.orgs.get(org_id)
    except works.NotFound as e:
        print(e, "-", e.next_action)

A record that belongs to another organization is answered exactly like one that does
not exist: :class:`NotFound`, never :class:`Forbidden`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "WorksError",
    "NotFound",
    "Forbidden",
    "InvalidInput",
    "Conflict",
    "Unauthenticated",
    "RateLimited",
    "Unavailable",
    "InternalError",
    "FirstStart",
]


def _rebuild(cls: type[WorksError], message: str, attrs: dict[str, Any]) -> WorksError:
    error = cls(message)
    error.__dict__.update(attrs)
    return error


class WorksError(Exception):
    """Base class of every error Anthropy Works reports.

    Attributes:
        message: the core's plain-English description (also ``str(error)``).
        kind: the core's stable name of the kind, e.g. ``"not_found"``.
        field: the input field the error is about, or None.
        next_action: what the person seeing this can do next, in plain English.
    """

    kind: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        field: str | None = None,
        next_action: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message: str = message
        if kind is not None:
            self.kind = kind
        self.field: str | None = field
        self.next_action: str | None = next_action

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


class NotFound(WorksError):
    """No such record, or it belongs to a tenant you cannot see (answered identically)."""

    kind = "not_found"


class Forbidden(WorksError):
    """You are signed in, but your role may not do this."""

    kind = "forbidden"


class InvalidInput(WorksError):
    """A field of the request is wrong; ``field`` names it (e.g. ``"name"``)."""

    kind = "invalid_input"
    field: str | None


class Conflict(WorksError):
    """The request clashes with what exists: a duplicate name, or a state that forbids it.

    ``field`` names the clashing field when there is one.
    """

    kind = "conflict"


class Unauthenticated(WorksError):
    """No valid credential: the token or sign-in is wrong, revoked, expired or disabled."""

    kind = "unauthenticated"


class RateLimited(WorksError):
    """Too many attempts; ``retry_after`` is how many seconds to wait before trying again."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after: int | None = retry_after


class Unavailable(WorksError):
    """The server or its database cannot be reached right now; try again shortly."""

    kind = "unavailable"


class InternalError(WorksError):
    """Something the software did not expect. The message is safe to show; details are logged."""

    kind = "internal"


class FirstStart(UserWarning):
    """Warned once when ``works.open`` finds an empty database and creates the first MSP
    admin. When the password was generated, the warning (and the client's
    ``generated_admin_password``) is the only place it is ever shown."""
