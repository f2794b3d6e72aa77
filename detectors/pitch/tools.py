"""Jobs the Pitch detectors offer beside scoring, registered in ``bench.api.TOOLS`` so that the runs and the
CLI find them by name (the layer rule: orchestration never imports a plugin). Heavy modules load on use."""

from __future__ import annotations

from typing import Any

from bench.api import TOOLS, PluginMeta


@TOOLS.register(PluginMeta(name="compliance-training",
                           description="train and tabulate the Pitch detectors' per-challenge compliance classifiers "
                                       "(bench train compliance, bench demo, bench data migrate)"))
class ComplianceTraining:
    """The compliance classifiers' training as the runs and the CLI use it (``TOOLS.create("compliance-training")``)."""

    def __init__(self) -> None:
        from bench.detectors.pitch import compliance

        self.TrainConfig = compliance.TrainConfig
        self.METRICS_FILE = compliance.METRICS_FILE
        self.train = compliance.train_compliance
        self.metrics_table = compliance.metrics_table


@TOOLS.register(PluginMeta(name="transcript-wil", description="transcribe clips with an ASR backend and give each "
                           "transcript's word-information loss against its script (bench privacy)"))
class TranscriptWIL:
    """An ASR backend (``asr``: a name of the ASR backend registry) and the content check's WIL."""

    def __init__(self, asr: str = "faster-whisper") -> None:
        from bench.detectors.pitch.backends import ASR

        self.backend = ASR.create(asr)

    def measure(self, clips: list[Any], scripts: list[str | None], languages: list[str | None]
                ) -> tuple[list[str], list[float]]:
        """(transcripts, word-information loss of each against its script)."""
        from bench.detectors.pitch.content import wil

        texts = [t.text for t in self.backend.transcribe(clips, languages)]
        return texts, [wil(s, t) for s, t in zip(scripts, texts, strict=True)]
