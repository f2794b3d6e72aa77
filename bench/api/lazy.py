"""Names a package exports from its modules, loaded on first use (a name -> module map, as
lm-evaluation-harness keeps one): ``import`` of the package stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: dict[str, Any], homes: dict[str, tuple[str, ...]]
                 ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for the package whose ``globals()`` is ``package``: each name of
    ``homes`` (module -> names) is imported from its module when first asked for, then kept as an attribute."""
    where = {name: module for module, names in homes.items() for name in names}
    exported = sorted(where)

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        package[name] = value  # once loaded, a plain attribute
        return value

    def dir_() -> list[str]:
        return sorted({*package, *exported})

    return exported, getattr_, dir_
