"""The edge server's Prometheus metrics (``GET /metrics``)."""

from __future__ import annotations


class Metrics:
    """The server's Prometheus metrics (its own registry, so several servers can live in one process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        buckets = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
        self.queue = Histogram("bench_serve_queue_seconds", "chunk received -> inference start", buckets=buckets,
                               registry=self.registry)
        self.inference = Histogram("bench_serve_inference_seconds", "inference of the chunk's batch",
                                   buckets=buckets, registry=self.registry)
        self.server = Histogram("bench_serve_server_seconds", "chunk received -> verdict sent", buckets=buckets,
                                registry=self.registry)
        self.batch = Histogram("bench_serve_batch_size", "chunks per inference batch",
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=self.registry)
        self.chunks = Counter("bench_serve_chunks", "chunks answered with a verdict", ["mode"], registry=self.registry)
        self.errors = Counter("bench_serve_errors", "error frames sent", ["code"], registry=self.registry)
        self.rejected = Counter("bench_serve_rejected_connections", "connections refused", ["reason"],
                                registry=self.registry)
        self.sessions = Gauge("bench_serve_sessions", "open calls", registry=self.registry)
        self.swaps = Counter("bench_serve_model_swaps", "hot swaps to a newly promoted version",
                             registry=self.registry)
        self.swap_failures = Counter("bench_serve_model_swap_failures", "promoted versions that failed to load",
                                     registry=self.registry)
        self.model = Gauge("bench_serve_model_info", "the model new calls get", ["model", "model_version"],
                           registry=self.registry)

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()
