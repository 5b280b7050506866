"""Kubernetes `Status` errors. Every layer above storage raises ApiError; the HTTP layer renders it."""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error that maps 1:1 onto a metav1.Status failure response."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        causes: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
        uid: str | None = None,
        continue_token: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes
        self.retry_after = retry_after
        self.uid = uid
        self.continue_token = continue_token  # the Status's metadata.continue (an expired list continuation)

    def status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:  # omitempty, as metav1.StatusDetails
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.uid is not None:
            details["uid"] = self.uid
        if self.causes:
            # metav1.StatusCause serializes its type as "reason"; helpers build causes with "type".
            details["causes"] = [
                {k: v for k, v in (("reason", c.get("reason", c.get("type"))), ("message", c.get("message")),
                                   ("field", c.get("field"))) if v}
                for c in self.causes
            ]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        st: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {"continue": self.continue_token} if self.continue_token else {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        }
        if self.reason:
            st["reason"] = self.reason
        if details:
            st["details"] = details
        return st


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(resource, group)} "{name}" not found',
                    name=name, group=group, kind=resource)


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(resource, group)} "{name}" already exists',
                    name=name, group=group, kind=resource)


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
                    name=name, group=group, kind=resource)


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid. Each cause is {"type": "FieldValueInvalid", "message": ..., "field": "spec.x"}."""
    parts: list[str] = []
    for c in causes:  # upstream's ToAggregate drops repeated messages from the summary, not from causes
        p = f"{c['field']}: {c['message']}" if c.get("field") else c["message"]
        if p not in parts:
            parts.append(p)
    if len(parts) == 1:
        summary = parts[0]
    else:
        summary = "[" + ", ".join(parts) + "]"
    return ApiError(422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {summary}',
                    name=name, group=group, kind=kind, causes=causes)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str) -> ApiError:
    return ApiError(403, "Forbidden", message)


def too_large() -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


# Cause helpers mirroring k8s.io/apimachinery/pkg/util/validation/field error types.
def required(field: str, detail: str = "") -> dict[str, str]:
    return {"type": "FieldValueRequired", "message": "Required value" + (f": {detail}" if detail else ""),
            "field": field}


def invalid_value(field: str, value: Any, detail: str) -> dict[str, str]:
    return {"type": "FieldValueInvalid", "message": f"Invalid value: {_fmt(value)}: {detail}", "field": field}


def unsupported(field: str, value: Any, valid: list[str]) -> dict[str, str]:
    quoted = ", ".join(f'"{v}"' for v in valid)
    return {"type": "FieldValueNotSupported",
            "message": f"Unsupported value: {_fmt(value)}: supported values: {quoted}", "field": field}


def forbidden_field(field: str, detail: str) -> dict[str, str]:
    return {"type": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": field}


def duplicate(field: str, value: Any) -> dict[str, str]:
    return {"type": "FieldValueDuplicate", "message": f"Duplicate value: {_fmt(value)}", "field": field}


def too_long(field: str, value: Any, limit: int) -> dict[str, str]:
    return {"type": "FieldValueTooLong", "message": f"Too long: may not be more than {limit} bytes",
            "field": field}


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)
