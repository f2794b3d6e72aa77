"""The README's promise on bad input, for the commands that came with the detector zoo, the split detectors
and the edge server (``score``, ``train --detector``, ``models *``, ``plugins show``, ``privacy``, ``serve``,
``stream``, ``latency``, ``mlops cycle``, ``data migrate``, ``evaluate --param model=``): exit 2, one line on
stderr naming the problem, no traceback, and every file that existed before (the workspace, a user's folder
and the model store) unchanged, nothing new written.

The workspace holds a real corpus and fakes, the session's trained ``devox-small`` model in its own store, a
hand-made linear-SVM model, token files of every kind and a user's folder of their own files. Every case runs
the real CLI in this process (``tests.helpers.cli.invoke``)."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.audio import write_wav
from tests.helpers.cli import assert_bad_input, invoke, stat_snapshot


@pytest.fixture(scope="module")
def ws(devox_model, zoo_inputs, tmp_path_factory) -> dict:
    """The workspace: paths and the environment (the devox store) every case runs with."""
    root = tmp_path_factory.mktemp("contract-newer")
    droot, env, wav = devox_model
    store = Path(env["BENCH_MODEL_STORE"])
    shutil.copy(wav, root / "call.wav")
    (root / "notaudio.wav").write_bytes(b"RIFF but not really a wave file")
    (root / "empty").mkdir()
    user = root / "userdir"  # a user's own folder: never written, never deleted
    (user / "model").mkdir(parents=True)
    (user / "model" / "thesis.tex").write_text("\\chapter{mine}\n")
    (user / "upload").mkdir()
    (user / "upload" / "notes.txt").write_text("mine too\n")
    good = "0123456789abcdef0123456789abcdef"
    for name, text, mode in (("token", good, 0o600), ("token-readable", good, 0o644),
                             ("token-short", "short", 0o600), ("token-empty", "", 0o600),
                             ("token-lines", good + "\n" + good + "\n", 0o600)):
        (root / name).write_text(text)
        os.chmod(root / name, mode)
    (root / "gate-bad.toml").write_text("auroc_drop = 'lots'\n[[[\n")
    for name, sidecar in (("keep-badjson", "{not json"), ("keep-list", "[1, 2, 3]"),
                          ("keep-badlabel", '{"label": 7, "model_version": "x"}')):
        (root / name).mkdir()
        (root / name / "call.json").write_text(sidecar)
        (root / name / "call.bfm").write_bytes(b"")
    (root / "keep-symlink").mkdir()
    (root / "keep-symlink" / "call.json").symlink_to("/etc/hostname")
    from bench.countermeasures.cepstral import n_features

    svm = root / "svm-model"
    svm.mkdir()
    d = n_features("mfcc")
    buf = io.BytesIO()
    np.savez(buf, coef=np.ones((1, d)), intercept=np.zeros(1), mean=np.zeros(d), scale=np.ones(d))
    (svm / "svm.npz").write_bytes(buf.getvalue())
    import hashlib

    digest = hashlib.sha256((svm / "svm.npz").read_bytes()).hexdigest()
    (svm / "model.json").write_text(json.dumps({"name": "svmx", "detector": "svm", "params": {"features": "mfcc"},
                                                "files": {"svm.npz": digest}}))
    write_wav(root / "short.wav", np.zeros(10, np.float32))
    return {"root": root, "env": env, "store": store, "corpus": zoo_inputs / "corpus",
            "fakes": zoo_inputs / "fakes", "model": "devox-small@1", "devox": store / "devox-small" / "1"}


def _subst(args: list[str], ws: dict, case: str) -> list[str]:
    keys = {"ws": ws["root"], "corpus": ws["corpus"], "fakes": ws["fakes"], "devox": ws["devox"],
            "new": ws["root"] / f"never-made-{case}"}
    return [a.format(**{k: str(v) for k, v in keys.items()}) for a in args]


W, C, F, M = "{ws}", "{corpus}", "{fakes}", "devox-small@1"
TRAIN = ["train", "--detector", "svm", "--corpus", C, "--fakes", F]
LAT = ["latency", "--model", M, "--duration", "1", "--fast"]
CYCLE = ["mlops", "cycle", "--model", M, "--keep-dir", f"{W}/empty", "--epochs", "1"]
PRIV = ["privacy", "--model", M, "--corpus", C, "--epochs", "1"]
SERVE = ["serve", "--model", M, "--port", "0", "--token-file", f"{W}/token"]
STREAM = ["stream", f"{W}/call.wav", "--token-file", f"{W}/token", "--url"]

CASES = [
    # score
    ("score-missing-file", ["score", f"{W}/nothere.wav", "--detector", "svm", "--model", f"{W}/svm-model"],
     "no such file"),
    ("score-not-audio", ["score", f"{W}/notaudio.wav", "--detector", "svm", "--model", f"{W}/svm-model"],
     "cannot decode"),
    ("score-unknown-detector", ["score", f"{W}/call.wav", "--detector", "nosuch"], "nosuch"),
    ("score-unknown-model", ["score", f"{W}/call.wav", "--detector", "svm", "--model", "nosuch@1"], "nosuch"),
    ("score-model-of-other-detector", ["score", f"{W}/call.wav", "--detector", "lfcc-lcnn", "--model",
                                       f"{W}/svm-model"], "svm model"),
    ("score-bad-ref", ["score", f"{W}/call.wav", "--detector", "svm", "--model", "Bad Name@x"], "model reference"),
    ("score-cuda", ["score", f"{W}/call.wav", "--detector", "svm", "--model", f"{W}/svm-model", "--device", "cuda"],
     "cuda"),
    ("score-folder-not-model", ["score", f"{W}/call.wav", "--detector", "svm", "--model", f"{W}/empty"],
     "not a bench model folder"),
    ("score-silent", ["score", f"{W}/short.wav", "--detector", "svm", "--model", f"{W}/svm-model"], "short.wav"),
    ("score-needs-model", ["score", f"{W}/call.wav", "--detector", "svm"], "needs a trained model"),
    # models
    ("models-show-unknown", ["models", "show", "nosuch@3"], "nosuch"),
    ("models-show-bad-ref", ["models", "show", "UPPER@1"], "model reference"),
    ("models-promote-no-version", ["models", "promote", "devox-small"], "NAME@VERSION"),
    ("models-promote-unknown", ["models", "promote", "devox-small@99"], "no model devox-small@99"),
    ("models-remove-no-version", ["models", "remove", "devox-small"], "NAME@VERSION"),
    ("models-remove-unknown", ["models", "remove", "devox-small@99"], "no model"),
    ("models-push-neither", ["models", "push", M], "exactly one"),
    ("models-push-both", ["models", "push", M, "--repo-id", "a/b", "--to-folder", "{new}"], "exactly one"),
    ("models-push-into-user-folder", ["models", "push", M, "--to-folder", f"{W}/userdir"], "not written by bench"),
    ("models-push-into-model", ["models", "push", M, "--to-folder", "{devox}/x"], "inside the input"),
    ("models-pull-not-model", ["models", "pull", f"{W}/empty"], "model.json"),
    ("models-pull-from-with-repo", ["models", "pull", "owner/name", "--from", f"{W}/empty"], "--from is for assets"),
    ("models-pull-bad-repo-id", ["models", "pull", "a/b/c/d"], "valid Hub repo id"),
    # plugins
    ("plugins-show-unknown", ["plugins", "show", "nosuch"], "nosuch"),
    # train --detector
    ("train-unknown-detector", ["train", "--detector", "nosuch", "--corpus", C, "--fakes", F, "--out", "{new}"],
     "nosuch"),
    ("train-seed-negative", [*TRAIN, "--out", "{new}", "--seeds", "-1"], "seed"),
    ("train-seed-too-big", [*TRAIN, "--out", "{new}", "--seeds", "4294967296"], "seed"),
    ("train-seed-text", [*TRAIN, "--out", "{new}", "--seeds", "a,b"], "seed"),
    ("train-seed-repeated", [*TRAIN, "--out", "{new}", "--seeds", "1,1"], "seed"),
    ("train-unknown-setting", [*TRAIN, "--out", "{new}", "--set", "nosuch=1"], "nosuch"),
    ("train-setting-no-equals", [*TRAIN, "--out", "{new}", "--set", "C"], "KEY=VALUE"),
    ("train-setting-nan", [*TRAIN, "--out", "{new}", "--set", "C=nan"], "C"),
    ("train-setting-text", [*TRAIN, "--out", "{new}", "--set", "max_iter=abc"], "max_iter"),
    ("train-lcnn-lr-nan", ["train", "--detector", "lfcc-lcnn", "--corpus", C, "--fakes", F, "--out", "{new}",
                           "--set", "lr=nan"], "lr"),
    ("train-lcnn-epochs-text", ["train", "--detector", "lfcc-lcnn", "--corpus", C, "--fakes", F, "--out", "{new}",
                                "--set", "epochs=abc"], "epochs"),
    ("train-init-unknown", ["train", "--detector", "lfcc-lcnn", "--corpus", C, "--fakes", F, "--out", "{new}",
                            "--set", "init=nosuch@1"], "nosuch"),
    ("train-name-dotdot", [*TRAIN, "--out", "{new}", "--name", "../evil"], "name"),
    ("train-name-upper", [*TRAIN, "--out", "{new}", "--name", "UPPER"], "name"),
    ("train-out-is-corpus", [*TRAIN, "--out", C], "input"),
    ("train-out-user-folder", [*TRAIN, "--out", f"{W}/userdir"], "not written by bench"),
    ("train-not-trainable", ["train", "--detector", "pitch-lite", "--corpus", C, "--fakes", F, "--out", "{new}"],
     "pitch-lite"),
    ("train-fakes-missing", ["train", "--detector", "svm", "--corpus", C, "--fakes", f"{W}/empty", "--out", "{new}"],
     "empty"),
    # evaluate with a model
    ("evaluate-model-unknown", ["evaluate", "--detector", "svm", "--param", "model=nosuch@1", "--corpus", C,
                                "--fakes", F, "--out", "{new}"], "nosuch"),
    ("evaluate-model-other-detector", ["evaluate", "--detector", "lfcc-lcnn", "--param", f"model={W}/svm-model",
                                       "--corpus", C, "--fakes", F, "--out", "{new}"], "svm model"),
    # privacy
    ("privacy-unknown-model", ["privacy", "--model", "nosuch@1", "--corpus", C, "--out", "{new}"], "nosuch"),
    ("privacy-not-split", ["privacy", "--model", f"{W}/svm-model", "--corpus", C, "--out", "{new}"], "not split"),
    ("privacy-out-user-folder", [*PRIV, "--out", f"{W}/userdir"], "not written by bench"),
    ("privacy-out-is-corpus", [*PRIV, "--out", C], "input"),
    ("privacy-out-in-model", [*PRIV, "--out", "{devox}/privacy"], "input"),
    ("privacy-corpus-is-fakes", ["privacy", "--model", M, "--corpus", F, "--out", "{new}"], "fakes dataset"),
    ("privacy-corpus-missing", ["privacy", "--model", M, "--corpus", f"{W}/nothere", "--out", "{new}"], "nothere"),
    # serve
    ("serve-unknown-model", ["serve", "--model", "nosuch", "--port", "0", "--token-file", f"{W}/token"], "nosuch"),
    ("serve-token-missing", [*SERVE[:-1], f"{W}/nothere"], "no such token file"),
    ("serve-token-readable", [*SERVE[:-1], f"{W}/token-readable"], "chmod"),
    ("serve-token-short", [*SERVE[:-1], f"{W}/token-short"], "16 characters"),
    ("serve-token-empty", [*SERVE[:-1], f"{W}/token-empty"], "empty"),
    ("serve-token-lines", [*SERVE[:-1], f"{W}/token-lines"], "one line"),
    ("serve-keep-dir-file", [*SERVE, "--keep-dir", f"{W}/call.wav"], "not a folder"),
    ("serve-call-seconds-inf", [*SERVE, "--max-call-seconds", "inf"], "max-call-seconds"),
    ("serve-idle-nan", [*SERVE, "--idle-timeout", "nan"], "idle-timeout"),
    ("serve-loop-unknown", [*SERVE, "--loop", "trio"], "--loop"),
    ("serve-frame-bytes-huge", [*SERVE, "--max-frame-bytes", str(2**31)], "max-frame-bytes"),
    ("serve-engine-bogus", [*SERVE, "--engine", "bogus"], "engine"),
    ("serve-backend-bogus", [*SERVE, "--backend", "bogus"], "backend"),
    ("serve-tls-key-missing", [*SERVE, "--tls-cert", f"{W}/call.wav"], "--tls-key"),
    ("serve-cuda", [*SERVE, "--device", "cuda"], "cuda"),
    # stream
    ("stream-missing-audio", ["stream", f"{W}/nothere.wav", "--token-file", f"{W}/token"], "nothere.wav"),
    ("stream-bad-url", [*STREAM, "not a url"], "expected ws://"),
    ("stream-http-url", [*STREAM, "http://127.0.0.1:9/v1/call"], "use ws://"),
    ("stream-token-readable", ["stream", f"{W}/call.wav", "--token-file", f"{W}/token-readable"], "chmod"),
    ("stream-token-lines", ["stream", f"{W}/call.wav", "--token-file", f"{W}/token-lines"], "one line"),
    ("stream-bad-mode", [*STREAM[:-1], "--mode", "telepathy"], "mode"),
    ("stream-privacy-no-model", [*STREAM[:-1], "--mode", "privacy"], "model"),
    # latency
    ("latency-unknown-model", ["latency", "--model", "nosuch@1", "--out", "{new}"], "nosuch"),
    ("latency-bad-profile", [*LAT, "--profile", "moon", "--out", "{new}"], "profile"),
    ("latency-bad-engine", [*LAT, "--engine", "bogus", "--out", "{new}"], "engine"),
    ("latency-bad-backend", [*LAT, "--backend", "bogus", "--out", "{new}"], "backend"),
    ("latency-bad-mode", [*LAT, "--mode", "telepathy", "--out", "{new}"], "mode"),
    ("latency-out-user-folder", [*LAT, "--out", f"{W}/userdir"], "not written by bench"),
    ("latency-out-is-corpus", [*LAT, "--out", C], "holds the output of `bench data simulate`"),
    ("latency-out-in-model", [*LAT, "--out", "{devox}/lat"], "input"),
    ("latency-fakes-without-corpus", [*LAT, "--fakes", F, "--out", "{new}"], "corpus"),
    # mlops cycle
    ("cycle-unknown-model", ["mlops", "cycle", "--model", "nosuch", "--keep-dir", f"{W}/empty", "--out", "{new}"],
     "nosuch"),
    ("cycle-keep-missing", ["mlops", "cycle", "--model", M, "--keep-dir", f"{W}/nothere", "--out", "{new}"],
     "nothere"),
    ("cycle-keep-bad-json", ["mlops", "cycle", "--model", M, "--keep-dir", f"{W}/keep-badjson", "--out", "{new}"],
     "not valid JSON"),
    ("cycle-keep-list", ["mlops", "cycle", "--model", M, "--keep-dir", f"{W}/keep-list", "--out", "{new}"],
     "JSON object"),
    ("cycle-keep-bad-label", ["mlops", "cycle", "--model", M, "--keep-dir", f"{W}/keep-badlabel", "--out", "{new}"],
     "label must be 0"),
    ("cycle-keep-symlink", ["mlops", "cycle", "--model", M, "--keep-dir", f"{W}/keep-symlink", "--out", "{new}"],
     "symbolic link"),
    ("cycle-out-user-folder", [*CYCLE, "--out", f"{W}/userdir"], "not written by bench"),
    ("cycle-out-in-keep", [*CYCLE, "--out", f"{W}/empty/out"], "input"),
    ("cycle-gate-missing", [*CYCLE, "--out", "{new}", "--gate-config", f"{W}/nothere.toml"], "nothere.toml"),
    ("cycle-gate-invalid", [*CYCLE, "--out", "{new}", "--gate-config", f"{W}/gate-bad.toml"], "gate-bad.toml"),
    ("cycle-keep-and-fetch", [*CYCLE, "--out", "{new}", "--fetch"], "either --keep-dir"),
    # data migrate
    ("migrate-missing", ["data", "migrate", f"{W}/nothere"], "nothere"),
    ("migrate-not-bench", ["data", "migrate", f"{W}/userdir"], "userdir"),
]


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("case", "args", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_to_newer_commands_is_one_line_exit_2_and_touches_nothing(ws, capfd, case, args, needle):
    roots = (ws["root"], ws["store"], ws["corpus"].parent)
    before = [stat_snapshot(r) for r in roots]
    res = invoke(_subst(args, ws, case), capfd, env=ws["env"])
    assert_bad_input(res, needle, case)
    after = [stat_snapshot(r) for r in roots]
    assert after == before, f"{case}: files changed"
    assert not (ws["root"] / f"never-made-{case}").exists(), f"{case}: wrote its output folder"
