"""bench: a benchmark for defences against real-time voice-conversion deepfakes.

One import root: the plugin and data folders of the repository (``detectors/``,
``generators/``, ``challenges/``, ``leaderboard/``) are the subpackages
``bench.detectors``, ``bench.generators``, ``bench.challenges`` and ``bench.leaderboard``.
An installed wheel has them inside ``bench/`` (setuptools ``package_dir``, see
``setup.py``); in a source checkout a small finder maps them to the sibling folders of
this package, so a checkout on ``PYTHONPATH`` always runs its own plugins.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("vc-challenge-bench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

SAMPLE_RATE = 16_000
"""The benchmark's working sample rate: every corpus is stored at 16 kHz mono."""

SUBPACKAGE_FOLDERS = ("detectors", "generators", "challenges", "leaderboard")
"""Top-level folders of the repository that are subpackages of ``bench``."""


class _CheckoutFolders(importlib.abc.MetaPathFinder):
    """Finds ``bench.<folder>`` (and everything under it) in the checkout's sibling folders."""

    def __init__(self, root: Path) -> None:
        self.roots = {f"{__name__}.{name}": str(root / name) for name in SUBPACKAGE_FOLDERS}

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        folder = self.roots.get(fullname)
        if folder is None or not (Path(folder) / "__init__.py").is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, Path(folder) / "__init__.py",
                                                      submodule_search_locations=[folder])


def _install_checkout_finder() -> None:
    here = Path(__file__).resolve().parent
    if (here / SUBPACKAGE_FOLDERS[0]).is_dir() or not (here.parent / SUBPACKAGE_FOLDERS[0] / "__init__.py").is_file():
        return  # an installed wheel (the folders are inside bench/) or no checkout around us
    if not any(isinstance(f, _CheckoutFolders) for f in sys.meta_path):
        sys.meta_path.insert(0, _CheckoutFolders(here.parent))


_install_checkout_finder()

from bench import _moved  # noqa: E402  (old import paths, kept for one release)

_moved.install()
