"""The ``bench`` command line: ``main()`` turns user errors into one line and exit code 2."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from bench.errors import BenchError

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as cx

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
_NoArgs = getattr(cx, "NoArgsIsHelpError", getattr(cx, "NoArgsIsHelp", ()))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``bench`` console script."""
    from bench.cli.app import app

    try:
        app(args=argv, prog_name="bench", standalone_mode=False)
    except _NoArgs:  # typer has already printed the help
        sys.exit(0)
    except cx.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        err_console.print(f"error: {exc.format_message()}{hint}", markup=False)
        sys.exit(2)
    except cx.ClickException as exc:
        err_console.print(f"error: {exc.format_message()}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("error: aborted", markup=False)
        sys.exit(130)
    except BenchError as exc:
        err_console.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted: finished items are kept; run the same command again to resume",
                          markup=False)
        sys.exit(130)
