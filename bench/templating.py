"""Text templates shipped as package data: the leaderboard page, the Hub dataset and model cards.

A package keeps its templates in its ``templates/`` folder (listed in pyproject.toml's package data) and
reads them through :mod:`importlib.resources`, so they load the same from a checkout, a wheel or a zip.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from contextlib import AbstractContextManager
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined
from markupsafe import Markup


def template_file(package: str, name: str) -> AbstractContextManager[Path]:
    """``templates/NAME`` of ``package`` (a dotted name, e.g. ``bench.data``) as a file path while the context
    lasts (a temporary copy where the package is zipped), for APIs that take a path."""
    return as_file(files(package).joinpath(f"templates/{name}"))


def _load(package: str, name: str) -> str | None:
    path = files(package).joinpath(f"templates/{name}")
    return path.read_text(encoding="utf-8") if path.is_file() else None


def escape_like_html_module(value: Any) -> Markup:
    """A value as a page shows it: escaped as :func:`html.escape` does (``'`` -> ``&#x27;``, ``"`` -> ``&quot;``),
    as bench's pages always were; markupsafe's own escaping would write ``&#39;`` and ``&#34;``. Markup passes."""
    if hasattr(value, "__html__"):
        return Markup(value.__html__())
    return Markup(html.escape(str(value)))


def html_environment(package: str, filters: dict[str, Callable[..., Any]] | None = None) -> Environment:
    """Jinja2 over ``package``'s templates for HTML, with ``filters`` added: every ``{{ value }}`` escaped
    (:func:`escape_like_html_module`), a missing variable an error, a template's last newline kept."""
    env = Environment(loader=FunctionLoader(lambda name: _load(package, name)), autoescape=True,
                      finalize=escape_like_html_module, undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters.update(filters or {})
    return env
