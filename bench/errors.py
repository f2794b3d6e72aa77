"""User-facing errors: the CLI prints each as one line on stderr and exits with its code.

Exit codes: 0 success, 1 a run that finished but produced nothing usable (or a gate
regression), 2 bad input or an unmet precondition the user can fix, 130 interrupted.
"""

from __future__ import annotations


class BenchError(Exception):
    """Bad input or an unmet precondition the user can fix (exit code 2, no traceback)."""

    exit_code = 2


class NetworkError(BenchError):
    """A remote (the Hugging Face Hub) could not be reached."""


class FatalError(BenchError):
    """Raised inside a work item when every other item would fail the same way (a plugin whose model
    cannot load, say): the run stops at once instead of recording the error on every row."""


class RunFailed(BenchError):
    """A run went through its items but none succeeded (exit code 1); what was written is kept."""

    exit_code = 1


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name if the message is empty), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def validation_line(exc: BaseException) -> str:
    """The first problem of a pydantic ``ValidationError`` as ``field.path: message`` (any other error: its
    :func:`first_line`), for one-line errors about a validated file."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return first_line(exc)
    first = errors()[0]
    return f"{'.'.join(map(str, first.get('loc', ())))}: {first.get('msg', '')}".strip(": ")
