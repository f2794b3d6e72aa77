"""Detectors plugins and tools for bench."""
