"""One run at a time in an output folder: an exclusive lock held for the whole run.

The lock is ``fcntl.flock`` on the folder itself (not on a file inside it): nothing is added
to the folder (a fresh folder stays empty until the command claims it), ``--overwrite``
emptying the folder cannot remove it, and the kernel drops it when the process ends however
it ends (crash, kill -9), so a stale lock never has to be cleared by hand.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.errors import BenchError


@contextmanager
def folder_lock(folder: str | os.PathLike, command: str) -> Iterator[Path]:
    """Create ``folder`` if needed and hold an exclusive lock on it while the ``with`` block runs; a second
    holder (another process, or this one) gets a one-line BenchError naming ``command`` at once."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BenchError(f"another {command} is running in {folder}; wait for it to finish") from None
        yield folder
    finally:
        os.close(fd)  # releases the lock
