"""Aggregated errors (k8s.io/apimachinery/pkg/util/errors): one step of a sync that fails for several
objects (pods, claims, adoptions) reports all of them, and the sync is retried."""
from __future__ import annotations


def error_message(e: BaseException) -> str:
    """What Go's err.Error() prints: an API error's message, otherwise the exception text."""
    msg = getattr(e, "message", None)
    return msg if isinstance(msg, str) and msg else str(e)


class AggregateError(Exception):
    """Several errors from one step (utilerrors.Aggregate): the message lists them like Go's."""

    def __init__(self, errors: list[BaseException]) -> None:
        self.errors = list(errors)
        msgs = [error_message(e) for e in self.errors]
        super().__init__(msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]")

    @staticmethod
    def of(errors: list[BaseException]) -> BaseException | None:
        """None for no errors, the error itself for one, an AggregateError for several."""
        if not errors:
            return None
        if len(errors) == 1:
            return errors[0]
        return AggregateError(errors)


def flatten(e: BaseException) -> list[BaseException]:
    """The leaf errors of (nested) aggregates, so a worker can report API errors as such."""
    if isinstance(e, AggregateError):
        return [leaf for sub in e.errors for leaf in flatten(sub)] or [e]
    return [e]


__all__ = ["AggregateError", "error_message", "flatten"]
