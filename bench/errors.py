"""User-facing errors: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class BenchError(Exception):
    """Bad input or an unmet precondition the user can fix (exit code 2, no traceback)."""

    exit_code = 2


class NetworkError(BenchError):
    """A remote (the Hugging Face Hub) could not be reached."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name if the message is empty), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
