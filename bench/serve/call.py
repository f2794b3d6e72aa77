"""One call's running state on the edge server: its chunks' verdicts accumulate into the call verdict."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.evaluation.calibration import tag_for


class Call:
    """One call's running state: its chunks' verdicts accumulate into the call verdict."""

    def __init__(self, session: str, hello: Any, alert_chunks: int, tagging: dict[str, Any] | None = None) -> None:
        self.session, self.hello, self.alert_chunks = session, hello, alert_chunks
        self.tagging = tagging  # threshold, temperature, certain_cut: Pitch's tag of the call's mean chunk score
        self.seq = 0
        self.chunks = 0
        self.fake_chunks = 0
        self.total = 0.0
        self.first_alert_seq: int | None = None
        self.errors = 0
        # the call's clock (EdgeServer._expire_calls): last frame and end (time.monotonic()), whether its handler is
        # waiting for a frame, the handler task, and why it was ended when it was
        self.last = self.ends = 0.0
        self.receiving = False
        self.task: asyncio.Task | None = None
        self.expired: tuple[str, str] | None = None

    def add(self, seq: int, score: float, fake: bool) -> dict[str, Any]:
        self.chunks += 1
        self.total += score
        if fake:
            self.fake_chunks += 1
            if self.first_alert_seq is None:
                self.first_alert_seq = seq
        return self.summary()

    def summary(self) -> dict[str, Any]:
        verdict = "fake" if self.fake_chunks >= self.alert_chunks else "bona fide"
        out = {"chunks": self.chunks, "fake_chunks": self.fake_chunks,
               "mean_score": self.total / self.chunks if self.chunks else None,
               "verdict": verdict if self.chunks else None,  # no scored chunk: no verdict, never "bona fide"
               "first_alert_seq": self.first_alert_seq, "errors": self.errors}
        if self.tagging is not None and self.chunks:
            t = self.tagging
            out.update(tag_for(out["mean_score"], t["threshold"], t["temperature"], t["certain_cut"]))
        return out
