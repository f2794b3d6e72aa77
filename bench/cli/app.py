"""The Typer application: command groups are added from their own modules."""

from __future__ import annotations

import typer

from bench import __version__
from bench.cli import (
    challenges_cmd,
    data_cmd,
    demo_cmd,
    evaluate_cmd,
    gate_cmd,
    generate_cmd,
    human_cmd,
    latency_cmd,
    leaderboard_cmd,
    mlops_cmd,
    models_cmd,
    plugins_cmd,
    privacy_cmd,
    rate_cmd,
    score_cmd,
    serve_cmd,
    tag_cmd,
    train_cmd,
)
from bench.cli.output import json_commands_print_json_only

app = typer.Typer(
    name="bench",
    help="Benchmark defences against real-time voice-conversion deepfakes on calls: challenge corpora, "
         "voice-conversion attacks, detectors, edge-server latency, leaderboards and CI gates.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """bench: measure how well defences catch voice-conversion deepfakes of challenge recordings."""


app.add_typer(challenges_cmd.app, name="challenges")
app.add_typer(data_cmd.app, name="data")
app.add_typer(plugins_cmd.app, name="plugins")
app.add_typer(models_cmd.app, name="models")
app.add_typer(leaderboard_cmd.app, name="leaderboard")
app.add_typer(train_cmd.app, name="train")
app.add_typer(mlops_cmd.app, name="mlops")
app.add_typer(human_cmd.app, name="human")
app.command("generate")(generate_cmd.generate)
app.command("evaluate")(evaluate_cmd.evaluate)
app.command("gate")(gate_cmd.gate)
app.command("score")(score_cmd.score)
app.command("tag")(tag_cmd.tag)
app.command("rate")(rate_cmd.rate)
app.command("demo")(demo_cmd.demo)
app.command("privacy")(privacy_cmd.privacy)
app.command("serve")(serve_cmd.serve)
app.command("stream")(serve_cmd.stream)
app.command("latency")(latency_cmd.latency)
json_commands_print_json_only(app)  # with --json, stdout is the JSON document only
