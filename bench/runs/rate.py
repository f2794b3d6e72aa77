"""`bench rate`: a rating page on loopback for people (issue #25; Pitch §5.2-5.3, Fig. 3, A.3).

A rater listens to each call of a subset (``bench data subset --hard``), says whether the challenge was
performed, rates realism 1-5 (ITU-T P.808 ACR), decides real or fake with a confidence, then sees the machine's
verdict (with its rationale for a random half of the calls, as in the paper) and may revise. Every answer is
appended to ``OUT/ratings.csv`` (0600) as soon as it is final, so a rater who stops resumes where they stopped;
several raters can share one folder. The machine's verdict is the result's cross-fitted one
(``bench.runs.human_report.machine_view``).

The server listens on 127.0.0.1 only, behind a random token in every path; request bodies are capped
(``MAX_BODY``), answers are validated by :class:`bench.human.ratings.Rating`, and only the current call's
answer is accepted.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from bench.api import Sample
from bench.api.registry import DETECTORS
from bench.audio import encode_wav, load_entry
from bench.challenges.taxonomy import get as get_challenge
from bench.data.corpus import open_dataset
from bench.errors import BenchError
from bench.human.ratings import Rating, read_ratings, write_ratings
from bench.outdir import claim_output
from bench.templating import html_environment

MAX_BODY = 4096


@dataclass
class Item:
    """One call to rate, with the machine's view of it."""

    sample_id: str
    challenge: int
    name: str
    instruction: str
    entry: dict
    machine_fake: bool
    confidence: float
    rationale: list[dict[str, Any]] = field(default_factory=list)


def _rationale(detector: Any, row: dict[str, Any], challenge: int) -> list[dict[str, Any]]:
    """The detector's rationale for a scored call, rebuilt from the result's per-call columns (empty when the
    detector exposes none, or the columns are not there)."""
    if detector is None or "realism.mos" not in row:
        return []
    values = {"realism": {"mos": row["realism.mos"]}, "asr": {"text": row.get("asr.text") or ""}}
    if row.get("compliance.p") is not None and not np.isnan(row["compliance.p"]):
        values["compliance"] = {"p": row["compliance.p"]}
    combined = {"content": None if row.get("content") is None or np.isnan(row["content"]) else row["content"]}
    sample = Sample(utterance_id=row["utterance_id"], label=-1, challenge=challenge, subject="", source_subject="",
                    script="", device="", audio={})
    return detector.rationale(values, combined, sample)


def load_items(subset: str | Path, result_dir: str | Path) -> tuple[list[Item], list[str]]:
    """The subset's calls with the result's cross-fitted verdicts, and the ids of those left out because they are
    outside the result's scope (the detector trained on their speakers: its verdict on them would be in-sample);
    one line when the subset has calls the result never scored."""
    from bench.evaluation.results import load_result, read_scores
    from bench.runs.human_report import cross_fit, in_scope_rows, subset_ids

    ids = subset_ids(subset)
    path = Path(result_dir) / "scores.parquet"
    if not path.is_file() or not (Path(result_dir) / "result.json").is_file():
        raise BenchError(f"{result_dir}: not a bench evaluate result (needs result.json and scores.parquet)")
    table = read_scores(path)
    view = cross_fit(in_scope_rows(pd.DataFrame(table), path)).set_index("sample_id")
    rows = {r["utterance_id"]: r for r in table}
    missing = sorted(ids - set(rows))
    if missing:
        raise BenchError(f"{subset}: {len(missing)} of its calls are not scored in {result_dir} (e.g. {missing[0]})")
    outside = sorted(ids - set(view.index))
    try:
        detector = DETECTORS.create(load_result(Path(result_dir) / "result.json").detector.name)
    except BenchError:
        detector = None
    items = []
    for part in ("corpus", "fakes"):
        for r in open_dataset(Path(subset) / part).to_list():
            if str(r["utterance_id"]) in outside:
                continue
            ch = get_challenge(int(r["challenge"]))
            v = view.loc[str(r["utterance_id"])]
            items.append(Item(str(r["utterance_id"]), ch.id, ch.name, ch.instruction, r["audio"],
                              bool(v.machine_fake), float(v.machine_confidence),
                              _rationale(detector, rows[str(r["utterance_id"])], ch.id)))
    return items, outside


class RatingSession:
    """One rater's pass over the items, in a seeded order; answers saved as each call is final."""

    def __init__(self, items: list[Item], rater: str, ratings_path: Path, seed: int = 0) -> None:
        self.rater, self.path, self.seed = rater, ratings_path, seed
        self.rows = read_ratings(ratings_path) if ratings_path.is_file() else []
        known = {i.sample_id for i in items}
        stray = next((r.sample_id for r in self.rows if r.sample_id not in known), None)
        if stray is not None:
            raise BenchError(f"{ratings_path} rates {stray!r}, which is not in this subset: another subset's ratings")
        order = np.random.default_rng([seed, int(hashlib.sha256(rater.encode()).hexdigest()[:8], 16)])
        self.items = [items[i] for i in order.permutation(len(items))]
        self.pending: dict[str, Any] | None = None
        self.lock = threading.Lock()
        self.outside: list[str] = []  # the subset's calls left out: outside the result's scope

    def _done(self) -> set[str]:
        return {r.sample_id for r in self.rows if r.rater == self.rater}

    def current(self) -> Item | None:
        """The next call this rater has not rated (None when all are)."""
        done = self._done()
        return next((i for i in self.items if i.sample_id not in done), None)

    def status(self) -> dict[str, Any]:
        """What the page shows next."""
        item, done = self.current(), len(self._done())
        if item is None:
            return {"done": True, "rated": done, "total": len(self.items)}
        return {"done": False, "rated": done, "total": len(self.items), "index": self.items.index(item),
                "sample_id": item.sample_id, "challenge": f"#{item.challenge} {item.name}",
                "instruction": item.instruction}

    def with_rationale(self, sample_id: str) -> bool:
        """Whether this rater sees the rationale for this call: a seeded coin, the same on resume."""
        digest = hashlib.sha256(f"{self.seed}:{self.rater}:{sample_id}".encode()).digest()
        return bool(digest[0] & 1)

    def initial(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The initial answer for the current call; returns the machine's verdict (and rationale, or not)."""
        with self.lock:
            item = self._check(answer)
            fields = {k: answer.get(k) for k in ("compliance", "realism", "initial_decision", "initial_confidence")}
            Rating(sample_id=item.sample_id, rater=self.rater, **fields)  # validates
            shown = self.with_rationale(item.sample_id)
            self.pending = {"sample_id": item.sample_id, **fields, "rationale_shown": int(shown)}
            return {"verdict": "fake" if item.machine_fake else "real", "confidence": round(item.confidence, 2),
                    "rationale": [r["detail"] for r in item.rationale] if shown else None}

    def final(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The final answer for the current call: saved at once; returns the next status."""
        with self.lock:
            item = self._check(answer)
            if self.pending is None or self.pending["sample_id"] != item.sample_id:
                raise ValueError("no initial answer for this call yet")
            rating = Rating(rater=self.rater, machine_verdict="fake" if item.machine_fake else "real",
                            final_decision=answer.get("final_decision"),
                            final_confidence=answer.get("final_confidence"), **self.pending)
            write_ratings(self.path, [*self.rows, rating])
            self.rows.append(rating)
            self.pending = None
            return self.status()

    def _check(self, answer: dict[str, Any]) -> Item:
        item = self.current()
        if item is None or answer.get("sample_id") != item.sample_id:
            raise ValueError("not the call being rated")
        return item


def _page(token: str) -> bytes:
    env = html_environment("bench.human")
    return env.get_template("rate.html.j2").render(token=token).encode()


def make_server(session: RatingSession, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """The rating server on 127.0.0.1 (``port`` 0: any free port) and its URL (with the token); it shuts itself
    down once the last call's answer is saved."""
    token = secrets.token_urlsafe(16)
    page = _page(token)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet: the terminal shows progress, not requests
            pass

        def _send(self, code: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, obj: Any) -> None:
            self._send(code, json.dumps(obj).encode())

        def _route(self) -> str | None:
            prefix = f"/{token}/"
            return self.path[len(prefix):] if self.path.startswith(prefix) else None

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            route = self._route()
            if route is None:
                return self._json(403, {"error": "forbidden"})
            if route == "":
                return self._send(200, page, "text/html; charset=utf-8")
            if route == "api/status":
                return self._json(200, session.status())
            if route.startswith("audio/") and route.endswith(".wav"):
                item = session.current()
                if item is None or route != f"audio/{session.items.index(item)}.wav":
                    return self._json(404, {"error": "only the current call's audio is served"})
                return self._send(200, encode_wav(load_entry(item.entry)), "audio/wav")
            return self._json(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            route = self._route()
            if route not in ("api/initial", "api/final"):
                return self._json(403 if route is None else 404, {"error": "forbidden" if route is None else
                                                                  "not found"})
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                n = -1
            if not 0 < n <= MAX_BODY:
                return self._json(413, {"error": f"a body of 1-{MAX_BODY} bytes is expected"})
            try:
                answer = json.loads(self.rfile.read(n))
                if not isinstance(answer, dict):
                    raise ValueError("an object is expected")
                out = session.initial(answer) if route == "api/initial" else session.final(answer)
            except ValidationError as e:
                err = e.errors()[0]
                return self._json(400, {"error": f"{'.'.join(map(str, err['loc']))}: {err['msg']}"})
            except (ValueError, BenchError) as e:
                return self._json(400, {"error": str(e)})
            self._json(200, out)
            if out.get("done"):  # every call rated: stop serving (the answer above has gone out)
                threading.Thread(target=server.shutdown, daemon=True).start()
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    return server, f"http://127.0.0.1:{server.server_address[1]}/{token}/"


def open_session(subset: str | Path, result_dir: str | Path, out: str | Path, rater: str, seed: int = 0,
                 overwrite: bool = False) -> RatingSession:
    """Check the inputs, claim ``out`` (shared by raters of the same subset, result and seed) and open the
    rater's session, resuming from ``out/ratings.csv``."""
    items, outside = load_items(subset, result_dir)
    if not items:
        raise BenchError(f"{subset}: no calls to rate ({len(outside)} outside {result_dir}'s scope)")
    try:
        Rating(sample_id="x", rater=rater, compliance=1, realism=3, initial_decision="real", initial_confidence=50)
    except ValidationError:
        raise BenchError("--rater must be a pseudonymous id of 1-100 characters") from None
    params = {"subset": str(Path(subset).resolve()), "result": str(Path(result_dir).resolve()), "seed": seed}
    claim_output(out, "rate", params, inputs=[subset, result_dir], overwrite=overwrite)
    session = RatingSession(items, rater, Path(out) / "ratings.csv", seed)
    session.outside = outside
    return session
