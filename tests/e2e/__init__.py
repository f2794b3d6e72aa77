"""End-to-end tests: whole CLI pipelines and the leaderboard page in a browser; all slow."""
