"""The results document: one JSON per (detector, generator, corpus) run, versioned with pydantic.

Field names follow mteb's result JSON in spirit (task/model metadata beside scores); the
schema version is bumped on any incompatible change and checked on load.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bench.data.taxonomy_version import TAXONOMY_VERSION, check_version
from bench.errors import BenchError, first_line, validation_line
from bench.fileio import read_json, write_atomic

SCHEMA_VERSION = "1.2"
#: older schemas load_result upgrades in memory (mteb-style: results migrated on load)
UPGRADABLE = ("1.1",)
#: a challenge's own ranking is reported only when its AUROC 95% CI is at most this wide on each side
MAX_CI_HALFWIDTH = 0.10


class Estimate(BaseModel):
    """A point estimate with its bootstrap confidence interval (None when undefined)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


class Metrics(BaseModel):
    """One set of samples' metrics; every estimate carries a stratified bootstrap 95% CI.

    ``accuracy``, ``f1``, ``precision`` and ``recall`` (fake = positive) are taken at ``threshold``;
    ``min_dcf`` is the normalised minimum detection cost with ASVspoof 5's parameters
    (:data:`~bench.evaluation.detection_metrics.ASVSPOOF5_DCF`); ``act_dcf``, ``cllr`` and ``min_cllr`` are given only
    when the detector declares log-likelihood-ratio-like scores (``llr_scores``), as ASVspoof 5 assumes.
    """

    n_bona_fide: int
    n_fake: int
    auroc: Estimate
    eer: Estimate
    accuracy: Estimate | None = None
    f1: Estimate | None = None
    precision: Estimate | None = None
    recall: Estimate | None = None
    min_dcf: Estimate | None = None
    act_dcf: Estimate | None = None
    cllr: Estimate | None = None
    min_cllr: Estimate | None = None
    threshold: float | None = None
    mean_score_bona_fide: float | None = None
    mean_score_fake: float | None = None


class Spread(BaseModel):
    """A metric over the seeds of a multi-seed model: each seed's value, their mean and sample std (ddof 1)."""

    mean: float | None
    std: float | None
    values: list[float | None]


class SeedSpread(BaseModel):
    """How much a multi-seed model's metrics vary with the training seed (each seed's model scored alone)."""

    seeds: list[int]
    auroc: Spread
    eer: Spread
    per_challenge_auroc: dict[int, Spread] = Field(default_factory=dict)
    note: str = ("the metrics elsewhere in this result score each sample with the mean of the seeds' scores (an "
                 "ensemble); here each seed's model is scored alone, on the same samples")


class ChallengeResult(Metrics):
    challenge: int
    key: str
    name: str
    paper_auroc: float | None = Field(None, description="quoted from the paper (see Result.paper), never measured "
                                                         "here")

    @property
    def ci_halfwidth(self) -> float | None:
        """Half the width of the AUROC's 95% CI (None without a CI)."""
        a = self.auroc
        return None if a.ci_low is None or a.ci_high is None else (a.ci_high - a.ci_low) / 2


class PaperComparison(BaseModel):
    """Which of the paper's figures a result is shown beside (quoted, never measured here)."""

    detector: str = Field(description="the paper's name for the system, e.g. pitch, lfcc-lcnn")
    system: str
    generator: str
    source: str
    average_auroc: float | None = None
    top10: list[int] = Field(default_factory=list, description="the paper's top-10 challenges (Table 4)")
    top10_auroc: float | None = Field(None, description="Table 3's 'Average (top-10)' AUROC (how the paper "
                                                        "averaged is not stated: the mean of its rows is 88.3)")
    no_challenge_auroc: float | None = None


class Ranking(BaseModel):
    """Our own per-challenge ranking, given only where the data can carry it."""

    rule: str = ("ranked: the AUROC's bootstrap 95% CI half-width, and the widest one the sample sizes allow "
                 "(1.96 sqrt((n0 + n1 + 1) / (12 n0 n1))), are both at most max_ci_halfwidth")
    max_ci_halfwidth: float = MAX_CI_HALFWIDTH
    ranked: list[int] = Field(default_factory=list, description="challenges whose CI half-width is within the limit")
    too_wide: list[int] = Field(default_factory=list, description="challenges not ranked: CI too wide")


class RunPart(BaseModel):
    """A part of a run as its result records it: the detector, one of its components, or the generator."""

    name: str
    version: str = ""
    config: dict[str, Any] = Field(default_factory=dict)


Component = RunPart  # bench 0.1's name, which read like bench.api.Component (the detector part that scores)


class RunInfo(BaseModel):
    git_sha: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    hardware: dict[str, Any] = Field(default_factory=dict)
    command: str | None = None


class Result(BaseModel):
    """A detection result: who was evaluated on what, with which numbers."""

    schema_version: Literal["1.2"] = SCHEMA_VERSION
    kind: Literal["detection"] = "detection"
    taxonomy_version: Literal[2] = TAXONOMY_VERSION
    created: str
    detector: RunPart
    profile: str | None = None
    components: dict[str, RunPart] = Field(default_factory=dict)
    generator: RunPart
    corpus: dict[str, Any]
    fakes: dict[str, Any]
    simulated: bool
    overall: Metrics
    per_challenge: list[ChallengeResult]
    top_challenges: list[int] = Field(default_factory=list, description="our top challenges (AUROC >= "
                                      "top_threshold), among those ranking.ranked only")
    top_threshold: float = 0.70
    top_n_auroc: Estimate | None = None
    ranking: Ranking = Field(default_factory=Ranking)
    paper: PaperComparison | None = None
    paper_top10_auroc: Estimate | None = Field(None, description="ours, pooled over the paper's top-10 challenges "
                                               "present in this run (paper_top10_present)")
    paper_top10_present: list[int] = Field(default_factory=list, description="which of the paper's top-10 this "
                                           "run has (a mobile-only corpus lacks #18-#20)")
    evaluation_scope: dict[str, Any] = Field(default_factory=dict)
    seeds: SeedSpread | None = Field(None, description="multi-seed models only: the spread over training seeds")
    metric_settings: dict[str, Any] = Field(default_factory=dict, description="bootstrap size, DCF parameters and "
                                            "their source, whether scores were taken as LLRs")
    timings: dict[str, Any] = Field(default_factory=dict)
    run: RunInfo = Field(default_factory=RunInfo)
    notes: list[str] = Field(default_factory=list)

    @field_validator("timings")
    @classmethod
    def _timings_are_numbers(cls, timings: dict[str, Any]) -> dict[str, Any]:
        """The figures gates and leaderboards compare must be numbers (or absent)."""
        def number(x: Any) -> bool:
            return x is None or (isinstance(x, int | float) and not isinstance(x, bool))

        if not number(timings.get("rtfx_cpu")):
            raise ValueError("timings.rtfx_cpu must be a number")
        latency = timings.get("latency")
        if latency is not None:
            if not isinstance(latency, dict):
                raise ValueError("timings.latency must be an object")
            for key in ("p50_ms", "p95_ms", "p99_ms"):
                if not number(latency.get(key)):
                    raise ValueError(f"timings.latency.{key} must be a number")
            samples = latency.get("samples_ms", [])
            if not isinstance(samples, list) or not all(number(v) and v is not None for v in samples):
                raise ValueError("timings.latency.samples_ms must be a list of numbers")
        return timings

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, self.model_dump_json(indent=2).encode())


class Percentiles(BaseModel):
    """A latency distribution in milliseconds."""

    n: int = 0
    mean_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


#: ``bench latency`` results have their own schema version (1.2 was shared with detection results)
LATENCY_SCHEMA_VERSION = "1.3"


class LatencyResult(BaseModel):
    """A ``bench latency`` run: the edge server under a profile, driven by simulated callers.

    Schema 1.3 names the two references a chunk's time is read against: ``isolated_inference_ms`` (the model
    scoring one chunk alone in the server process) and ``compute_floor_ms`` (the MACs to score one chunk over
    the processor's measured peak MAC rate, :mod:`bench.serve.compute_floor`). A 1.2 file's ``compute_floor_ms`` was
    the isolated inference time: it is read as ``isolated_inference_ms`` (its MAC floor unknown), see
    :meth:`upgrade_1_2`.
    """

    schema_version: Literal["1.3"] = LATENCY_SCHEMA_VERSION
    kind: Literal["latency"] = "latency"
    created: str
    detector: Component  # name, version, config {"model": NAME@VERSION}
    model_version: str
    profile: str  # edge-cpu | core-gpu
    profile_settings: dict[str, Any] = Field(default_factory=dict, description="cores, server cpus, inference "
                                             "threads, memory cap, device")
    engine: Literal["batched", "naive"] = "batched"
    mode: Literal["raw", "privacy"] = "raw"
    realtime: bool = True
    callers: int
    duration_s: float
    chunk_seconds: float = 1.0
    chunks_sent: int
    verdicts: int
    dropped: int = Field(description="chunks sent that got no verdict (error frame or no answer)")
    errors: dict[str, int] = Field(default_factory=dict)
    throughput_chunks_per_s: float
    parts: dict[str, Percentiles] = Field(description="transmission, queueing, inference, server, reply, "
                                          "end_to_end: per chunk")
    batch_size: dict[str, float] = Field(default_factory=dict)
    isolated_inference_ms: float | None = Field(None, description="median ms to score one chunk alone in the "
                                                "server process (batch 1), measured at load")
    compute_floor_ms: float | None = Field(None, description="MACs to score one chunk as the server does (all its "
                                           "windows) / the server core's measured peak float32 MAC rate; None "
                                           "when unknown (a model that is not torch, a schema 1.2 file)")
    all_connected: dict[str, Any] = Field(default_factory=dict, description="end-to-end n/mean/p50/p95/p99/max "
                                          "(ms) of the chunks sent once every caller was connected (from_s: "
                                          "seconds after the first connection); empty in older files")
    server_cpu: dict[str, Any] = Field(default_factory=dict, description="the server's CPU while the callers ran: "
                                       "inference_ms_per_chunk (its inference threads scoring), "
                                       "outside_inference_ms_per_chunk (the rest of the process: event loop, "
                                       "frames, JSON, hand-over), cores_busy (CPU s / wall s); empty in files "
                                       "written before it was measured")
    compute_floor: dict[str, Any] = Field(default_factory=dict, description="macs_per_chunk, peak_macs_per_s, "
                                          "device: what compute_floor_ms is made of")
    end_to_end_over_isolated: dict[str, float | None] = Field(default_factory=dict, description="end-to-end "
                                                              "p50/p95/p99 over isolated_inference_ms")
    end_to_end_over_floor: dict[str, float | None] = Field(default_factory=dict, description="end-to-end "
                                                           "p50/p95/p99 over compute_floor_ms")
    alerts: dict[str, Any] = Field(default_factory=dict, description="time from the start of a fake segment to "
                                   "the first alert, over calls that turn fake, beside the false alarms before "
                                   "it and the chunk-level AUROC of the streamed calls")
    server_peak_rss_mb: float | None = None
    corpus: dict[str, Any] = Field(default_factory=dict)
    simulated: bool = True
    line: dict[str, Any] = Field(default_factory=dict, description="the phone line the calls went through (bench "
                                 "latency --channel): profile (None: clean), chain, seed, encoding on the wire "
                                 "(pcm_s16le, pcm_mulaw, pcm_alaw) and sample_rate; empty in files written "
                                 "before it was recorded (clean 16-bit PCM at 16 kHz)")
    paper: list[dict[str, Any]] = Field(default_factory=list, description="DevoX Table 3, quoted")
    timings: dict[str, Any] = Field(default_factory=dict, description="latency: end-to-end p50/p95/p99 and "
                                    "samples, read as a detection result's timings.latency is (gate, leaderboard)")
    run: RunInfo = Field(default_factory=RunInfo)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def upgrade_1_2(cls, data: Any) -> Any:
        """Schema 1.2 -> 1.3 in memory: its ``compute_floor_ms`` (the isolated inference time) becomes
        ``isolated_inference_ms`` and ``end_to_end_over_floor`` ``end_to_end_over_isolated``; the MAC floor,
        the false-alarm calls and the chunk AUROC were not measured (absent); a note says so."""
        if not isinstance(data, dict) or data.get("schema_version") != "1.2":
            return data
        out = {**data, "schema_version": LATENCY_SCHEMA_VERSION, "isolated_inference_ms": data.get("compute_floor_ms"),
               "compute_floor_ms": None, "end_to_end_over_isolated": data.get("end_to_end_over_floor") or {},
               "end_to_end_over_floor": {}}
        alerts = data.get("alerts")
        if isinstance(alerts, dict) and "false_alarm_chunks_before_the_fake" in alerts:
            alerts = {**alerts}
            alerts["false_alarm_chunks"] = alerts.pop("false_alarm_chunks_before_the_fake")
            out["alerts"] = alerts
        if isinstance(data.get("notes", []), list):
            out["notes"] = [*data.get("notes", []), "read from latency schema 1.2: its compute_floor_ms was the "
                            "isolated inference time (now isolated_inference_ms); no MAC floor, false-alarm calls "
                            "or chunk AUROC were measured"]
        return out

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, self.model_dump_json(indent=2).encode())


def load_latency(path: str | os.PathLike) -> LatencyResult:
    """Read and validate a ``bench latency`` result; one-line BenchError on any problem."""
    p = Path(path)
    if p.is_dir():
        p = p / "latency.json"
    if not p.is_file():
        raise BenchError(f"{p}: no such latency result (bench latency writes latency.json)")
    data = read_json(p, "latency result")
    if data.get("kind") != "latency":
        raise BenchError(f"{p}: not a latency result (kind {data.get('kind')!r})")
    if data.get("schema_version") not in (LATENCY_SCHEMA_VERSION, "1.2"):
        raise BenchError(f"{p}: schema version {data.get('schema_version')!r}, this bench reads latency results "
                         f"{LATENCY_SCHEMA_VERSION} and 1.2")
    return _validated(LatencyResult, data, p, "latency result")


def load_result(path: str | os.PathLike) -> Result:
    """Read and validate a results JSON; one-line BenchError on any problem."""
    p = Path(path)
    if p.is_dir():
        raise BenchError(f"{p}: a folder, not a results file (give its result.json)")
    if not p.is_file():
        raise BenchError(f"{p}: no such results file")
    data = read_json(p, "results file")
    if data.get("kind") == "dataset-detection":
        raise BenchError(f"{p}: a field-dataset result (bench evaluate --dataset); `bench leaderboard build` takes it "
                         "with --dataset")
    if data.get("schema_version") == "1.0":  # bench 0.1: the old challenge numbering
        check_version(data.get("taxonomy_version", 1), str(p))
    if data.get("schema_version") in UPGRADABLE:
        data = upgrade(data)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise BenchError(f"{p}: schema version {data.get('schema_version')!r}, this bench reads {SCHEMA_VERSION}")
    check_version(data.get("taxonomy_version"), str(p))
    return _validated(Result, data, p, "results")


def _validated(model: type[BaseModel], data: dict[str, Any], path: Path, what: str) -> Any:
    """``model`` validated from ``data``; the first problem as a one-line BenchError naming ``path``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BenchError(f"{path}: invalid {what} ({validation_line(exc)})") from None


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1.1 -> 1.2: accuracy becomes an estimate (its CI unknown); the new metrics are absent."""
    def metrics(m: Any) -> Any:
        if not isinstance(m, dict) or not isinstance(m.get("accuracy"), int | float):
            return m  # anything malformed is left for validation to report
        return {**m, "accuracy": {"value": m["accuracy"]}}

    out = {**data, "schema_version": SCHEMA_VERSION, "overall": metrics(data.get("overall"))}
    if isinstance(data.get("per_challenge"), list):
        out["per_challenge"] = [metrics(c) for c in data["per_challenge"]]
    if isinstance(data.get("notes", []), list):
        out["notes"] = [*data.get("notes", []), f"read from schema {data.get('schema_version')} (upgraded on load: "
                        "accuracy without a CI; F1, DCF and Cllr not computed)"]
    return out


SCORES_VERSION_KEY = b"bench.taxonomy_version"


def write_scores(path: str | os.PathLike, rows: list[dict[str, Any]], table: Any = None) -> None:
    """Write per-sample scores (or a ready pyarrow ``table``) atomically, tagged with today's taxonomy version."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    t = table if table is not None else pa.Table.from_pylist(rows)
    t = t.replace_schema_metadata({**(t.schema.metadata or {}), SCORES_VERSION_KEY: str(TAXONOMY_VERSION).encode()})
    tmp = p.with_name(f".{p.name}.tmp")
    pq.write_table(t, tmp)
    os.replace(tmp, p)


def scores_version(path: str | os.PathLike) -> int | None:
    """The taxonomy version a ``scores.parquet`` was written with (1: bench 0.1 tagged none)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(SCORES_VERSION_KEY)
    try:
        return int(raw) if raw is not None else 1
    except ValueError:
        return None


def read_scores(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Per-sample rows of a ``scores.parquet``; one-line BenchError if unreadable or in another numbering."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    try:
        version = scores_version(p)
        rows = pq.read_table(p).to_pylist()
    except (pa.ArrowInvalid, OSError) as exc:
        raise BenchError(f"{p}: unreadable scores ({first_line(exc)}); rerun `bench evaluate` or move the "
                         "file away") from None
    check_version(version, str(p.parent))
    return rows


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run_info(command: str | None = None) -> RunInfo:
    """Git commit, package versions and hardware of this run."""
    sha = None
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[2]).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    packages = {}
    for name in ("vc-challenge-bench", "torch", "numpy", "datasets", "faster-whisper", "ctranslate2",
                 "speechmos", "nisqa", "Resemblyzer", "pyworld-prebuilt", "espeakng-loader", "onnxruntime"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    hardware = {"machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
                "python": platform.python_version()}
    return RunInfo(git_sha=sha, packages=packages, hardware=hardware, command=command)
