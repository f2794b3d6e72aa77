"""Human ratings (issue #25): the ratings file, Pitch's human tables from it, and simulated raters."""
