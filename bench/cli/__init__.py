"""The ``bench`` command line: ``main()`` keeps the exit-code promises of the README.

0 success; 1 a gate regression, or a run in which nothing succeeded; 2 bad input (one line
on stderr, no traceback, nothing already written is touched); 130 interrupted (Ctrl-C:
finished work is kept and the same command resumes); 70 an internal error (a bug: one
line, the traceback with ``BENCH_DEBUG=1``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import NoReturn

from bench.errors import BenchError

INTERRUPTED = 130
INTERNAL_ERROR = 70
_sigint_seen = False  # set by the first Ctrl-C of this run, whatever a library then does with its KeyboardInterrupt


def _say(message: str) -> None:
    """One line on stderr, whatever the message holds."""
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()


def _interrupted() -> NoReturn:
    """Ctrl-C: further ones are ignored (the process is already stopping), one line, exit 130."""
    while True:
        try:  # signal.signal first runs the handler of a Ctrl-C still pending: that one raises, and we retry
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            break
        except KeyboardInterrupt:
            continue
        except ValueError:  # not the main thread: signals are not ours to change
            break
    # asyncio tasks the Ctrl-C landed in would be reported as "exception never retrieved" when they are
    # collected on the way out: the interrupt is reported here, once
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    _say("interrupted: finished items are kept; run the same command again to resume")
    sys.exit(INTERRUPTED)


def _on_sigint(signum: int, frame: object) -> None:
    global _sigint_seen
    _sigint_seen = True
    raise KeyboardInterrupt


def _forget_unhandled_interrupt() -> None:
    """Clear CPython's record of a KeyboardInterrupt that escaped a nested ``PyRun_String``.

    Cython modules register their types with ``abc`` through ``PyRun_String`` while they are
    imported (numpy.random, pandas, scipy...). A Ctrl-C that lands there sets a process-wide
    flag, and ``python -m bench`` then kills itself with SIGINT at exit (return code -2)
    whatever exit code ``main`` chose. Every ``PyRun_String`` clears that flag on entry, so an
    empty one run here leaves the exit code ours.
    """
    try:
        import ctypes

        ctypes.pythonapi.PyRun_SimpleString(b"")
    except (ImportError, AttributeError, OSError):  # pragma: no cover - not CPython
        pass


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``bench`` console script."""
    global _sigint_seen
    _sigint_seen = False
    previous = signal.getsignal(signal.SIGINT)
    installed = False
    try:
        if previous is signal.default_int_handler:  # not when started with Ctrl-C ignored (nohup, background)
            try:
                signal.signal(signal.SIGINT, _on_sigint)
                installed = True
            except ValueError:  # not the main thread: the caller's handling stays
                pass
        _run(argv)
        if _sigint_seen:  # a library swallowed the KeyboardInterrupt (Cython module init can): still a Ctrl-C
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        _interrupted()
    finally:
        _forget_unhandled_interrupt()
        if installed:  # in-process callers (tests) get their handler back, also after _interrupted ignored Ctrl-C
            signal.signal(signal.SIGINT, previous)


def _run(argv: list[str] | None) -> None:
    try:  # typer >= 0.20 vendors click as typer._click
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click import exceptions as cx
    import typer

    from bench.cli.app import app

    no_args = getattr(cx, "NoArgsIsHelpError", getattr(cx, "NoArgsIsHelp", ()))
    try:
        # standalone_mode=False: errors reach the handlers below; typer turns Ctrl-C into a *returned* 130
        code = app(args=argv, prog_name="bench", standalone_mode=False)
    except no_args:  # typer has already printed the help
        sys.exit(0)
    except cx.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        _say(f"error: {exc.format_message()}{hint}")
        sys.exit(2)
    except cx.ClickException as exc:
        _say(f"error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        _interrupted()
    except BenchError as exc:
        _say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except OSError as exc:  # a path the user gave cannot be read or written (permissions, disk full...)
        if os.environ.get("BENCH_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _say(f"error: {where}{exc.strerror or exc}")
        sys.exit(2)
    except MemoryError:
        _say("error: out of memory; use fewer --workers or a smaller batch")
        sys.exit(1)
    except Exception as exc:  # a bug: one line unless asked for the traceback
        if os.environ.get("BENCH_DEBUG"):
            raise
        _say(f"internal error: {type(exc).__name__}: {exc} (a bug in bench: rerun with BENCH_DEBUG=1 for the "
             "traceback and report it)")
        sys.exit(INTERNAL_ERROR)
    if code == INTERRUPTED:
        _interrupted()
    if isinstance(code, int) and code:
        sys.exit(code)
