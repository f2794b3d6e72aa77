"""Shared printing helpers for CLI commands (rich tables for people, JSON for machines)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# Wide output when piped (CI logs, files) so tables are not folded to 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def print_json(obj: Any) -> None:
    """Print JSON on stdout, unstyled, so it can be piped."""
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))
