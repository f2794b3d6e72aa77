"""Plugin registries for generators and detectors, with metadata per entry.

Entries come from this project's plugin folders and from other packages. Every module
of a plugin package (``bench.detectors``, ``bench.generators``) is imported when the
registry is first asked, and registers its plugins with a decorator: a new detector is a
new file, found without editing a list (mteb scans its model files the same way). A
subpackage registers through its ``__init__``. Other packages add plugins through the
entry-point groups ``bench.generators`` and ``bench.detectors``; an entry point names
either the plugin class/factory itself or a module whose import registers plugins. A
module that cannot be imported (a missing optional dependency) is reported by
``bench plugins list`` and by any command that asks for it, and breaks nothing else.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import types
import typing
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from bench.errors import BenchError, first_line

T = TypeVar("T")


class PluginMeta(BaseModel):
    """What a registry knows about a plugin before loading it (cf. mteb's ModelMeta)."""

    name: str
    version: str = "0"
    license: str = "unknown"
    description: str = ""
    reference: str | None = None
    paper_name: str | None = Field(None, description="the name the papers' tables give this system: its quoted "
                                                     "figures are shown beside its results (e.g. pitch)")
    parameters: dict[str, Any] = Field(default_factory=dict)
    sample_rate: int = 16_000
    input_seconds: float | None = Field(None, description="the audio length the model takes (None: any length); "
                                                         "the detector's InputSpec says what happens otherwise")
    n_params: int | dict[str, int] | None = Field(None, description="trainable parameters (per architecture)")
    trained_on: str = Field("", description="what its models are trained on (or 'nothing: no training')")
    score: dict[str, Any] = Field(default_factory=dict, description="what the score means: polarity (higher = "
                                                                     "fake), scale, threshold and its source")
    devices: list[str] = Field(default_factory=lambda: ["cpu"])
    assets: list[str] = Field(default_factory=list, description="files/models the user must provide")
    offline: bool = True
    source: str = "builtin"

    def check_device(self, device: str) -> None:
        """BenchError unless this plugin supports ``device`` (cpu, cuda, cuda:N) and this machine has it."""
        family = str(device).split(":", 1)[0]
        if family not in self.devices:
            raise BenchError(f"{self.name} runs on {', '.join(self.devices)}, not {device!r}")
        if family == "cuda":
            try:
                import torch
            except ImportError:
                raise BenchError(f"device {device!r} needs torch with CUDA; use cpu") from None
            if not torch.cuda.is_available():
                raise BenchError(f"device {device!r} asked for, but this torch build sees no CUDA GPU; use cpu")


class Registry(Generic[T]):
    """A name -> (factory, metadata) map, filled by decorators and entry points."""

    def __init__(self, kind: str, group: str, package: str | None = None, modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.group = group
        self.package = package  # every module in it is imported on first use
        self.modules = modules  # and these
        self._entries: dict[str, tuple[Callable[..., T], PluginMeta]] = {}
        self.broken: dict[str, str] = {}  # entry-point name -> why it could not be imported
        self._loaded = False

    def register(self, meta: PluginMeta | None = None, /, **fields: Any
                 ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register a plugin class or factory, described by ``meta`` or by ``PluginMeta``'s fields as
        keywords. What the class already says is derived, not repeated (:func:`derive_meta`)."""
        if meta is None:
            meta = PluginMeta(**fields)
        elif fields:
            raise TypeError("give PluginMeta or its fields as keywords, not both")
        declared = meta

        def wrap(factory: Callable[..., T]) -> Callable[..., T]:
            meta = derive_meta(declared, factory)
            if meta.name in self._entries and self._entries[meta.name][0] is not factory:
                raise ValueError(f"{self.kind} {meta.name!r} is already registered")
            self._entries[meta.name] = (factory, meta)
            factory.meta = meta  # type: ignore[attr-defined]
            return factory

        return wrap

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in [*(plugin_modules(self.package) if self.package else []), *self.modules]:
            try:
                importlib.import_module(module)
            except Exception as exc:  # one plugin's missing dependency must not break the others
                self.broken[module.rsplit(".", 1)[1]] = f"{module}: {type(exc).__name__}: {first_line(exc)}"
        for ep in entry_points(group=self.group):
            before = set(self._entries)
            try:
                obj = ep.load()
            except Exception as exc:  # another package's broken plugin must not break every command
                self.broken[ep.name] = f"{ep.value}: {type(exc).__name__}: {first_line(exc)}"
                continue
            for name in set(self._entries) - before:  # registered by the decorator while the entry point loaded
                factory, meta = self._entries[name]
                self._entries[name] = (factory, meta.model_copy(update={"source": ep.value}))
            meta = getattr(obj, "meta", None)
            if isinstance(meta, PluginMeta) and meta.name not in self._entries:
                self._entries[meta.name] = (obj, meta.model_copy(update={"source": ep.value}))

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def meta(self, name: str) -> PluginMeta:
        return self._lookup(name)[1]

    def factory(self, name: str) -> Callable[..., T]:
        """The class or factory registered as ``name`` (to ask what kind of plugin it is without building it)."""
        return self._lookup(name)[0]

    def create(self, name: str, **kwargs: Any) -> T:
        """Instantiate the plugin ``name`` with ``kwargs``, checked against its signature first (unknown
        names and non-numbers for numeric settings are one-line errors, not a TypeError in a worker)."""
        factory = self._lookup(name)[0]
        _check_kwargs(self.kind, name, factory, kwargs)
        try:
            return factory(**kwargs)
        except BenchError:
            raise
        except (TypeError, ValueError) as exc:
            raise BenchError(f"{self.kind} {name}: bad settings {kwargs} ({exc})") from None

    def __iter__(self) -> Iterator[PluginMeta]:
        self._load()
        return iter(meta for _, meta in (self._entries[n] for n in sorted(self._entries)))

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def _lookup(self, name: str) -> tuple[Callable[..., T], PluginMeta]:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            if name in self.broken:
                raise BenchError(f"{self.kind} {name!r} is installed but cannot be imported "
                                 f"({self.broken[name]})") from None
            known = ", ".join(self.names()) or "none"
            raise BenchError(f"unknown {self.kind} {name!r}; available: {known}") from None


def derive_meta(meta: PluginMeta, factory: Callable[..., Any]) -> PluginMeta:
    """``meta`` completed from the class, so that nothing is said twice: ``input_seconds`` from its
    ``input_spec``, ``score`` from its ``semantics``, and each setting's default from its signature
    (``parameters`` then holds descriptions only, for settings without a default such as a model name). A field
    given anyway must agree with the class, or the plugin fails to register (ValueError): metadata cannot drift."""
    update: dict[str, Any] = {}
    spec = getattr(factory, "input_spec", None)
    if spec is not None and hasattr(spec, "samples"):
        seconds = spec.samples / meta.sample_rate if spec.samples else None
        if "input_seconds" in meta.model_fields_set and meta.input_seconds != seconds:
            raise ValueError(f"{meta.name}: input_seconds={meta.input_seconds} but its input_spec takes "
                             f"{spec.samples} samples; leave input_seconds out (it is derived)")
        update["input_seconds"] = seconds
    semantics = getattr(factory, "semantics", None)
    if semantics is not None and hasattr(semantics, "to_dict"):
        score = semantics.to_dict()
        if "score" in meta.model_fields_set and meta.score != score:
            raise ValueError(f"{meta.name}: score={meta.score} but its semantics say {score}; leave score out "
                             "(it is derived)")
        update["score"] = score
    update["parameters"] = _parameters(meta, factory)
    return meta.model_copy(update=update)


def _parameters(meta: PluginMeta, factory: Callable[..., Any]) -> dict[str, Any]:
    """Settings in signature order: the signature's default, or the declared description of a setting whose
    default says nothing (None); a declared non-text value must equal the default."""
    declared = dict(meta.parameters)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return declared
    out: dict[str, Any] = {}
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name, p in params.items():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        default = None if p.default is p.empty else p.default
        if name in declared:
            said = declared.pop(name)
            if not isinstance(said, str) and said != default:
                raise ValueError(f"{meta.name}: parameters[{name!r}]={said!r} but the signature's default is "
                                 f"{default!r}; leave it out (it is derived)")
            out[name] = said if isinstance(said, str) and said != default else default
        elif isinstance(default, _SIMPLE) and default is not None:
            out[name] = default
    if declared and not open_ended:
        raise ValueError(f"{meta.name}: parameters {sorted(declared)} are not settings of {factory.__name__}")
    return {**out, **declared}


def plugin_modules(package: str) -> list[str]:
    """The modules and subpackages of ``package`` that may hold plugins (names not starting with ``_``)."""
    pkg = importlib.import_module(package)
    return [info.name for info in sorted(pkgutil.iter_modules(pkg.__path__, package + "."), key=lambda i: i.name)
            if not info.name.rsplit(".", 1)[1].startswith("_")]


_SIMPLE = (str, int, float, bool, type(None))


def _allowed_types(annotation: Any) -> tuple[type, ...] | None:
    """The types a simple annotation (``str | None``, ``int``, ``float | None``...) admits, else None."""
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) \
        else (annotation,)
    if not args or not all(a in _SIMPLE for a in args) or bool in args:
        return None  # paths, lists, switches (plugins read "false" too), anything richer: the plugin checks it
    allowed = set(args)
    if float in allowed:
        allowed.add(int)  # 1 for 1.0
    return tuple(allowed)


def _check_kwargs(kind: str, name: str, factory: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Unknown names, wrong types (from the signature's annotations or numeric defaults) and non-finite
    numbers are one-line errors."""
    try:
        params = inspect.signature(factory, eval_str=True).parameters
    except (TypeError, ValueError, NameError):  # builtins without a signature, unresolvable annotations
        return
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        known = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            raise BenchError(f"{kind} {name}: unknown setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(known) or 'none'}")
    for key, value in kwargs.items():
        p = params.get(key)
        if p is None:
            continue
        allowed = _allowed_types(p.annotation) if p.annotation is not p.empty else None
        if allowed is None and isinstance(p.default, int | float) and not isinstance(p.default, bool):
            allowed = (int, float)
        if allowed is not None and (not isinstance(value, allowed) or (isinstance(value, bool)
                                                                        and bool not in allowed)):
            names = {str: "text", float: "a number", bool: "true/false", type(None): "null",
                     int: "a number" if float in allowed else "an integer"}
            want = " or ".join(sorted({names[t] for t in allowed}))
            raise BenchError(f"{kind} {name}: setting {key} must be {want}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise BenchError(f"{kind} {name}: setting {key} must be finite, got {value!r}")


GENERATORS: Registry[Any] = Registry("generator", "bench.generators", "bench.generators")
DETECTORS: Registry[Any] = Registry("detector", "bench.detectors", "bench.detectors")
TOOLS: Registry[Any] = Registry("tool", "bench.tools", "bench.detectors")
"""Jobs a plugin offers to the runs and the CLI beside scoring (the Pitch detectors' compliance training, a
transcript's word-information loss): orchestration finds them here by name, never by importing the plugin."""
