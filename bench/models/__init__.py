"""Detector models: the local store of trained models (``store``), their Hub round trip (``hub``), and the
assets a user supplies (``assets``: bench 0.1's ``bench.models`` module, whose names this package still
exports)."""

from bench.models.assets import (  # noqa: F401 - bench 0.1's `bench.models` names
    NISQA_ENV,
    NISQA_LICENSE,
    ChecksumError,
    ModelAsset,
    cache_root,
    download,
    install_file,
    model_dir,
    pull,
    pull_nisqa,
    sha256_file,
    status,
)
