"""Integration tests: several parts together (a simulated corpus, training, a server on loopback); all slow."""
