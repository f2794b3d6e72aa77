"""The DevoX paper's figures (Sec. IV, Tables 1-3), quoted as printed, never measured by bench.

- :data:`DEVOX_TABLE2`: the MLOps cycle's stages, average of three runs (``bench mlops cycle`` shows its
  own beside them).
- :data:`DEVOX_TABLE3`: per 1-second chunk, the phone-to-edge transmission and the edge server's inference
  time (``bench latency`` and the leaderboard's latency table show theirs beside them).
- :data:`DEVOX_LATENCY`: the leaderboard's quoted DevoX row (Table 3, on Table 1's edge server, with
  Table 2's deployment time).

Every DevoX number bench shows comes from here; the text that shows them is derived from these numbers.
"""

from __future__ import annotations

from typing import Any

#: Table 1's edge server, the one Table 3 measured
EDGE_SERVER = "edge server, 1 CPU core, 8 GB"

#: DevoX Table 2, average of three runs (seconds), quoted: 302 voice recordings, 30 epochs
DEVOX_TABLE2: dict[str, Any] = {
    "source": "DevoX Table 2 (quoted)", "upload_s": 3.95, "preparation_s": 0.78, "training_s": 33.60,
    "deployment_s": 22.10, "note": "302 recordings uploaded from the edge; 30 epochs; deployment = a container "
    "image dispatched to every edge server"}

_TRANSMISSION_MS, _INFERENCE_MS = 968.0, 1150.0  # Table 3's averages
#: DevoX Table 3, quoted (1-s chunks from a phone app to a 1-core, 8 GB CPU edge server); the inference range is
#: the lowest and highest of its three runs, end to end the sum of the two averages (the text: "around 2 seconds")
DEVOX_TABLE3: dict[str, Any] = {
    "source": "DevoX Table 3 (quoted)", "transmission_ms_mean": _TRANSMISSION_MS, "inference_ms_mean": _INFERENCE_MS,
    "inference_ms_range": [320.0, 1717.0], "end_to_end_ms_mean": _TRANSMISSION_MS + _INFERENCE_MS}

#: the leaderboard's DevoX row: Table 3's figures and the deployment time in whole seconds, as the paper's text
#: gives Table 2's average ("an average time of 22 seconds")
DEVOX_LATENCY: list[dict[str, Any]] = [
    {"source": DEVOX_TABLE3["source"], "system": f"{EDGE_SERVER} (1-s chunks)",
     "transmission_ms_mean": _TRANSMISSION_MS, "inference_ms_mean": _INFERENCE_MS,
     "inference_ms_range": list(DEVOX_TABLE3["inference_ms_range"]),
     "deploy_s": float(round(DEVOX_TABLE2["deployment_s"]))},
]


def ms(value: float) -> str:
    """A quoted time in whole milliseconds, with thousands separators: ``1,150``."""
    return f"{value:,.0f}"

