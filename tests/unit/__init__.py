"""Unit tests: one module or class; no simulated corpus, no training run, no subprocess-heavy work."""
