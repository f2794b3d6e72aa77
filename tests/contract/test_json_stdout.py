"""With ``--json`` a command's stdout is its JSON document only: whatever the shared rich console prints
(progress, tables, 'wrote ...') goes to stderr, for every command that has ``--json`` (installed once where the
app is assembled: bench.cli.output.json_commands_print_json_only). bench latency --json, which prints progress
while it runs, is checked in tests/test_latency.py."""

from __future__ import annotations

import inspect
import json

import typer

from bench.cli.output import console, json_commands_print_json_only, print_json
from tests.helpers.cli import invoke
from tests.helpers.results import make_result


def _one_json_document(text: str) -> object:
    """The JSON value ``text`` holds, failing unless it is exactly one document."""
    return json.loads(text)  # json.loads refuses anything before or after the document


def _commands(app: typer.Typer, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    infos = [*app.registered_commands, *([app.registered_callback] if app.registered_callback else [])]
    found = [((*path, getattr(info, "name", None) or info.callback.__name__), info.callback) for info in infos
             if info.callback is not None]
    for group in app.registered_groups:
        found += _commands(group.typer_instance, (*path, group.name))
    return found


def test_every_command_with_json_is_routed(capfd):
    from bench.cli.app import app

    with_json = [(p, cb) for p, cb in _commands(app) if "as_json" in inspect.signature(cb).parameters]
    assert len(with_json) >= 17 and ("train", "_train") in [p for p, _ in with_json], with_json
    assert all(hasattr(cb, "__wrapped__") for _, cb in with_json), [p for p, cb in with_json
                                                                     if not hasattr(cb, "__wrapped__")]
    # the wrapper keeps the command's options: --json is still in its help
    res = invoke(["models", "list", "--help"], capfd)
    assert res.code == 0 and "--json" in res.stdout


def test_progress_goes_to_stderr_with_json_and_stays_on_stdout_without(capfd):
    app = typer.Typer()

    @app.command()
    def work(as_json: bool = typer.Option(False, "--json")) -> None:
        console.print("scoring 3 files", markup=False)
        if as_json:
            print_json({"scored": 3})
        else:
            console.print("scored 3", markup=False)

    @app.command()
    def other() -> None:
        console.print("no --json here", markup=False)

    json_commands_print_json_only(app)
    for args, out, err in ((["work", "--json"], {"scored": 3}, "scoring 3 files"), (["work"], None, "")):
        capfd.readouterr()
        try:
            app(args, standalone_mode=False)
        finally:
            got = capfd.readouterr()
        if out is None:
            assert "scoring 3 files" in got.out and "scored 3" in got.out and got.err == ""
        else:
            assert _one_json_document(got.out) == out and err in got.err
    assert console.stderr is False  # restored after the command


def test_real_commands_print_one_json_document(capfd, tmp_path):
    result = make_result(tmp_path / "r", 1.0)
    for args in (["models", "list", "--json"], ["challenges", "list", "--json"], ["plugins", "list", "--json"],
                 ["plugins", "show", "aasist", "--json"], ["challenges", "show", "0", "--json"],
                 ["gate", "--baseline", str(result), "--current", str(result), "--json"]):
        res = invoke(args, capfd)
        assert res.code == 0, (args, res.stderr)
        _one_json_document(res.stdout)
    assert console.stderr is False
