"""`bench rate`: the rating page for people, served on loopback."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import console
from bench.cli.params import overwrite_option


def rate(
    subset: Path = typer.Option(..., "--subset", help="The calls to rate: a bench data subset folder (e.g. --hard)."),
    result: Path = typer.Option(..., "--result", "-r", help="The bench evaluate result scoring those calls (the "
                                                            "machine's verdicts and rationale)."),
    rater: str = typer.Option(..., "--rater", help="A pseudonymous rater id (no names)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for ratings.csv, shared by this subset's raters; a "
                                                      "rater who comes back resumes where they stopped."),
    port: int = typer.Option(0, min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
    seed: int = typer.Option(0, min=0, help="Seed of the call order and of who sees the rationale."),
    overwrite: bool = overwrite_option("ratings"),
) -> None:
    """Serve the rating page on 127.0.0.1 until every call is rated or Ctrl-C: listen, answer (task performed,
    realism 1-5, real or fake and how sure), see the machine's verdict (with its rationale for half the calls),
    revise or keep; each answer is saved at once. Open the printed address in a browser."""
    from bench.runs.rate import make_server, open_session

    session = open_session(subset, result, out, rater, seed=seed, overwrite=overwrite)
    status = session.status()
    if session.outside:
        console.print(f"{len(session.outside)} calls of {subset} are left out: the detector trained on their "
                      "speakers, so its verdict on them would be in-sample", markup=False, highlight=False)
    server, url = make_server(session, port)
    console.print(f"rater {rater}: {status['rated']} of {status['total']} calls rated so far; open {url}",
                  markup=False, highlight=False)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    done = session.status()
    console.print(f"rater {rater}: {done['rated']} of {done['total']} rated; ratings in {out / 'ratings.csv'}",
                  markup=False, highlight=False)
