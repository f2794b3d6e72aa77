"""Plugin registries: decorator registration, metadata, and third-party entry points."""

from __future__ import annotations

import sys
import textwrap

import pytest

from bench.api import BenchError, PluginMeta, Registry


def test_register_create_and_metadata():
    reg: Registry = Registry("widget", "bench.test-widgets")

    @reg.register(PluginMeta(name="echo", version="1.2", license="MIT", parameters={"gain": 1.0}))
    class Echo:
        def __init__(self, gain: float = 1.0):
            self.gain = gain

    assert reg.names() == ["echo"] and "echo" in reg
    assert reg.create("echo", gain=2.0).gain == 2.0
    assert reg.meta("echo").license == "MIT" and Echo.meta.version == "1.2"
    with pytest.raises(BenchError, match="unknown widget 'nope'; available: echo"):
        reg.create("nope")
    with pytest.raises(ValueError):
        reg.register(PluginMeta(name="echo"))(lambda: None)


def test_entry_point_plugins_are_discovered(tmp_path, monkeypatch):
    pkg = tmp_path / "extplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from bench.api.registry import PluginMeta

        class Reverse:
            meta = PluginMeta(name="reverse", version="0.1", license="Apache-2.0")
    """))
    dist = tmp_path / "extplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench.test-gens]\nreverse = extplug:Reverse\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry = Registry("generator", "bench.test-gens")
    assert reg.names() == ["reverse"]
    assert reg.meta("reverse").source == "extplug:Reverse"
    sys.modules.pop("extplug", None)
