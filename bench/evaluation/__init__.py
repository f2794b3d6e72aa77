"""Evaluation: detection metrics, their estimates with intervals, the results document, the gate."""
