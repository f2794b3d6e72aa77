"""The WebSocket upgrade's authentication: the server token (a bearer header or a subprotocol) and the
subprotocol the server answers with (docs/serve.md)."""

from __future__ import annotations

import hmac
from typing import Any

from bench.serve.protocol import SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX


def token_matches(headers: Any, token: str) -> bool:
    """Whether the upgrade request carries ``token``: ``Authorization: Bearer TOKEN`` (the scheme name in any case,
    RFC 7235) or, for browsers, the subprotocol ``bearer.TOKEN`` offered beside :data:`SUBPROTOCOL`. Compared in
    constant time."""
    given = []
    scheme, _, value = headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        given.append(value.strip())
    offered = offered_subprotocols(headers)
    if SUBPROTOCOL in offered:
        given += [p[len(TOKEN_SUBPROTOCOL_PREFIX):] for p in offered if p.startswith(TOKEN_SUBPROTOCOL_PREFIX)]
    ok = False
    for g in given:
        ok |= hmac.compare_digest(g.encode(), token.encode())
    return ok


def offered_subprotocols(headers: Any) -> list[str]:
    """The subprotocols a WebSocket upgrade offers (every ``Sec-WebSocket-Protocol`` header, comma-separated)."""
    return [p.strip() for value in headers.get_all("Sec-WebSocket-Protocol") for p in value.split(",") if p.strip()]


def select_subprotocol(_connection: Any, offered: Any) -> str | None:
    """The subprotocol the server answers with: :data:`SUBPROTOCOL` when offered (never the token), else none."""
    return SUBPROTOCOL if SUBPROTOCOL in offered else None
