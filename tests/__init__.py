"""bench's tests, by layer: ``unit``, ``integration``, ``e2e``, ``contract``; helpers in ``tests.helpers``."""
