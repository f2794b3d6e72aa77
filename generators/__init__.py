"""Generators plugins and tools for bench."""
