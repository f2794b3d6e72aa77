"""Leaderboard plugins and tools for bench."""
