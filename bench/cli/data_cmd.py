"""`bench data`: build, import, inspect and move challenge corpora."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import console, err_console, print_corpus_summary, print_json, report_written, resolve_workers
from bench.cli.params import number, overwrite_option, scripts_option, seed_option, workers_option
from bench.errors import BenchError

app = typer.Typer(help="Challenge corpora: simulate one offline, import recordings, inspect, Hub round trip.",
                  no_args_is_help=True)

DEVICE_CHOICES = {"desktop": ("desktop",), "mobile": ("mobile",), "both": ("desktop", "mobile")}


def _devices(device: str) -> tuple[str, ...]:
    if device not in DEVICE_CHOICES:
        raise typer.BadParameter("must be desktop, mobile or both", param_hint="--device")
    return DEVICE_CHOICES[device]


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="Output corpus directory (resumes if it exists)."),
    speakers: int = typer.Option(6, min=1, help="Number of synthetic speakers."),
    sentences: int = typer.Option(2, min=1, max=10, help="Sentences per speaker and challenge (1-10)."),
    challenges: str = typer.Option("all", help="Challenges to render: 'all', ids '0,1,5-7' or keys."),
    device: str = typer.Option("desktop", help="desktop, mobile or both."),
    seed: int = seed_option("Seed: the same seed gives the same corpus, bit for bit."),
    workers: int = workers_option(),
    overwrite: bool = overwrite_option("corpus"),
    script_set: str = scripts_option(),
) -> None:
    """Simulate an offline challenge corpus (synthetic speakers; every challenge rendered)."""
    from bench.challenges.scripts import scripts_file, use_scripts
    from bench.challenges.taxonomy import parse_selection
    from bench.data.corpus import open_dataset
    from bench.runs.simulate_corpus import simulate_corpus

    selection = parse_selection(challenges, "--challenges")
    devices = _devices(device)
    use_scripts(script_set)
    manifest = simulate_corpus(out, speakers=speakers, sentences=sentences, challenges=selection, devices=devices,
                               seed=seed, workers=resolve_workers(workers), overwrite=overwrite,
                               inputs=[scripts_file()])  # --scripts or BENCH_SCRIPTS
    report_written(out, manifest)
    print_corpus_summary(open_dataset(out), manifest)


@app.command("load")
def load_local(
    src: Path = typer.Argument(..., help="Folder with metadata.csv, or SUBJECT/CHALLENGE/FILE layout."),
    out: Path = typer.Option(..., "--out", "-o", help="Output corpus directory."),
    layout: str = typer.Option("auto", help="auto, metadata or pitch."),
    trim_silence: bool = typer.Option(False, "--trim-silence", help="Trim leading/trailing silence (VAD)."),
    min_duration: float = typer.Option(0.5, "--min-duration", parser=number(0.0),
                                       help="Skip clips shorter than this many seconds (after trimming)."),
    workers: int = workers_option(),
    overwrite: bool = overwrite_option("corpus"),
) -> None:
    """Import recordings from a local folder (resampled to 16 kHz mono; bad or degenerate files are skipped)."""
    from bench.runs.import_corpus import import_local

    manifest = import_local(src, out, layout=layout, trim=trim_silence, workers=resolve_workers(workers),
                            min_duration=min_duration, overwrite=overwrite)
    report_written(out, manifest)


@app.command()
def info(
    path: Path = typer.Argument(..., help="A corpus or fakes directory."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Counts per subject, challenge and device; durations and sample rates."""
    from bench.data.corpus import open_dataset, read_manifest, summarize

    ds = open_dataset(path)
    manifest = read_manifest(path)
    summary = summarize(ds)
    if as_json:
        print_json({"path": str(path), "manifest": {k: v for k, v in manifest.items() if k != "speakers"},
                    **summary})
        return
    print_corpus_summary(ds, manifest, summary)


@app.command("field-info")
def field_info(
    dataset: str = typer.Argument(..., help="A field dataset: DIR[:SPLIT] in an official layout or of parquet "
                                            "files, or a Hub REPO_ID[:SPLIT] (docs/datasets.md)."),
    split: str = typer.Option(None, "--split", help="The split (default: the layout's evaluation split)."),
    durations: bool = typer.Option(False, "--durations", help="Also read every file's header for the audio hours "
                                   "(a streamed source is read through: for a Hub repo that downloads its audio, "
                                   "kept in bench's cache for a later `bench evaluate`)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Counts per label, attack and condition of a field dataset split, and its audio hours (the input of the
    cost model in docs/cluster.md)."""
    from bench.data.labelled import open_labelled, summarize
    from bench.models.assets import cache_root
    from bench.runs.evaluate_dataset import audio_seconds

    data = open_labelled(dataset, split, audio_cache=cache_root() if durations else None)
    summary = summarize(data, audio_seconds(data) if durations else None)
    if as_json:
        print_json(summary)
        return
    console.print(f"{summary['name']} ({summary['layout']}), split {summary['split']} of "
                  f"{', '.join(summary['splits'])}; revision {summary['revision'][:16]}", markup=False)
    console.print(f"{summary['items']} items: {summary['bona_fide']} bona fide, {summary['spoof']} spoof; "
                  f"{summary['speakers']} speakers", markup=False)
    if summary["attacks"]:
        console.print("attacks: " + ", ".join(f"{k} {v}" for k, v in summary["attacks"].items()), markup=False)
    for name, counts in summary["conditions"].items():
        console.print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), markup=False)
    if "audio" in summary:
        a = summary["audio"]
        console.print(f"audio: {a['hours']:.3f} h ({3600 * a['hours']:.0f} s) over {a['measured_items']} readable "
                      f"items (mean {a['mean_s'] or 0:.2f} s)", markup=False)


@app.command()
def pull(
    repo_id: str = typer.Argument(..., help="Hub dataset repo id (owner/name) or a local folder in Hub layout."),
    out: Path = typer.Option(..., "--out", "-o", help="Output corpus directory."),
    revision: str = typer.Option(None, help="Branch, tag or commit (default: main)."),
    overwrite: bool = overwrite_option("corpus"),
) -> None:
    """Load a corpus from the Hugging Face Hub (uses the local cache; works with HF_HUB_OFFLINE=1)."""
    from bench.challenges.taxonomy import check_ids
    from bench.data.hub import pull as hub_pull
    from bench.data.taxonomy_version import TAXONOMY_VERSION

    manifest = hub_pull(repo_id, out, revision=revision, overwrite=overwrite,
                        check=lambda ds: check_ids(ds["challenge"], repo_id))
    report_written(out, manifest)
    if manifest.get("taxonomy_version") != TAXONOMY_VERSION:
        err_console.print(f"note: {repo_id} numbers challenges with bench's old taxonomy "
                          f"{manifest.get('taxonomy_version')}; run `bench data migrate {out}` before using it",
                          markup=False)


@app.command()
def migrate(
    paths: list[Path] = typer.Argument(..., help="Corpus, fakes, result or compliance folders, or results JSON "
                                                 "files, written with an older challenge numbering."),
) -> None:
    """Renumber data written with bench's old challenge numbering to the Pitch paper's, in place."""
    from bench.runs.migrate_data import migrate as migrate_path

    for path in paths:  # an error stops before the next path; what was done stays done, a re-run finishes it
        console.print(migrate_path(path), markup=False)


@app.command()
def push(
    path: Path = typer.Argument(..., help="A corpus or fakes directory."),
    repo_id: str = typer.Option(None, "--repo-id", help="Hub dataset repo id (owner/name)."),
    to_folder: Path = typer.Option(None, "--to-folder", help="Write the Hub repo layout to a folder instead."),
    revision: str = typer.Option(None, help="Branch to push to (created if missing)."),
    private: bool = typer.Option(False, help="Create the repo as private."),
    overwrite: bool = overwrite_option("--to-folder"),
) -> None:
    """Publish a corpus to a Hub dataset repo (token from HF_TOKEN), or export the repo layout."""
    from bench.data.hub import export_folder
    from bench.data.hub import push as hub_push

    if (repo_id is None) == (to_folder is None):
        raise BenchError("give exactly one of --repo-id or --to-folder")
    if to_folder is not None:
        folder = export_folder(path, to_folder, overwrite=overwrite)
        console.print(f"wrote Hub layout to {folder}")
    else:
        url = hub_push(path, repo_id, revision=revision, private=private)
        console.print(f"pushed {path} to {url}")


@app.command()
def subset(
    hard: bool = typer.Option(False, "--hard", help="Pitch's hard balanced subset (required for now)."),
    result: Path = typer.Option(..., "--result", "-r", help="A `bench evaluate` output folder (scores.parquet)."),
    corpus: Path = typer.Option(..., "--corpus", "-c", help="The corpus that was evaluated."),
    fakes: Path = typer.Option(..., "--fakes", "-f", help="The fakes that were evaluated."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (gets corpus/ and fakes/)."),
    match: float = typer.Option(0.50, parser=number(-1.0, 1.0, what="a cosine similarity"),
                                help="Minimum speaker match (cosine, -1..1) of a fake to its target "
                                     "(Pitch: 0.25 / 0.50)."),
    min_mos: float = typer.Option(None, "--min-mos", parser=number(1.0, 5.0, what="a MOS"),
                                  help="Minimum predicted MOS (1-5) of a fake."),
    per_challenge: int = typer.Option(10, "--per-challenge", min=1,
                                      help="Fakes (and as many originals) per challenge."),
    seed: int = seed_option("Sampling seed."),
    overwrite: bool = overwrite_option("subset"),
) -> None:
    """Select a hard, balanced subset: convincing fakes (speaker match, pMOS) + originals per challenge."""
    from bench.data.subset import hard_subset

    if not hard:
        raise BenchError("only --hard subsets exist so far; pass --hard")
    summary = hard_subset(result, corpus, fakes, out, match=match, min_mos=min_mos, per_challenge=per_challenge,
                          seed=seed, overwrite=overwrite)
    console.print(f"hard subset: {summary['fakes']} fakes + {summary['originals']} originals in {out} "
                  f"(per challenge: {summary['per_challenge']})")


@app.command()
def channel(
    corpus: Path = typer.Argument(..., help="A corpus folder (original recordings; bench data simulate / load)."),
    out: Path = typer.Argument(..., help="Output folder (gets corpus/, and fakes/ with --fakes)."),
    profile: str = typer.Option(None, "--profile", "-p", help="A named channel (bench data channels lists them): "
                                "pstn-g711u, mobile-amr-nb, voip-opus-loss5..."),
    fakes: Path = typer.Option(None, "--fakes", "-f", help="Fakes of CORPUS: they go through the same channel."),
    codec: str = typer.Option(None, "--codec", help="Codec: g711u, g711a, amr-nb, opus, g722 (overrides the "
                              "profile's)."),
    rate: int = typer.Option(None, "--rate", help="The line's sample rate: 8000 or 16000 Hz."),
    band: str = typer.Option(None, "--band", help="Band limit: pstn (300-3,400 Hz)."),
    bitrate: int = typer.Option(None, "--bitrate", min=1, help="Codec bit rate (bit/s)."),
    loss: float = typer.Option(None, "--loss", parser=number(what="a loss rate"),
                               help="Mean packet loss rate, in [0, 1)."),
    burst: float = typer.Option(None, "--burst", parser=number(1.0, what="a burst length"),
                                help="Mean length of a loss burst, in packets (Gilbert-Elliott; 1 = random loss)."),
    jitter_ms: float = typer.Option(None, "--jitter-ms", parser=number(0.0, what="a jitter"),
                                    help="Mean network delay of a packet (ms, exponential)."),
    buffer_ms: float = typer.Option(None, "--buffer-ms", parser=number(0.0, what="a buffer length"),
                                    help="Playout buffer (ms): later packets are lost (default 60)."),
    noise: str = typer.Option(None, "--noise", help="Noise before the line: white, pink or babble (other "
                              "speakers of the corpus)."),
    snr_db: float = typer.Option(None, "--snr-db", parser=number(what="an SNR"), help="Signal-to-noise ratio (dB)."),
    seed: int = seed_option("Seed: the same seed gives byte-identical output."),
    workers: int = workers_option(),
    overwrite: bool = overwrite_option("channel"),
) -> None:
    """Pass a corpus (and its fakes) through a telephone channel into a new corpus of the same schema."""
    from bench.runs.channel_corpus import channel_corpus

    parts = {"codec": codec, "rate": rate, "band": band, "bitrate": bitrate, "loss": loss, "burst": burst,
             "jitter_ms": jitter_ms, "buffer_ms": buffer_ms, "noise": noise, "snr_db": snr_db}
    summary = channel_corpus(corpus, out, profile, fakes=fakes, parts=parts, seed=seed,
                             workers=resolve_workers(workers), overwrite=overwrite)
    kinds = [k for k in ("corpus", "fakes") if k in summary]
    console.print(f"channel {profile or 'of your parts'} ({summary['rate']} Hz): "
                  + ", ".join(f"{summary[k]['through_channel']} {k} recordings" for k in kinds) + f" -> {out}")


@app.command()
def channels(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The named channel profiles and what each stands for."""
    from bench.channel.profiles import PROFILES

    if as_json:
        print_json({name: chain.to_dict() for name, chain in PROFILES.items()})
        return
    for name, chain in PROFILES.items():
        console.print(f"{name:20s} {chain.note}", markup=False)
    from bench.channel.codecs import CODECS, get_codec

    console.print("\ncodecs (FFmpeg encoder / decoder; what a lost packet becomes; in this PyAV build?):", markup=False)
    for c in CODECS.values():
        try:
            have = bool(get_codec(c.name))  # the same check every channel command makes
        except BenchError:
            have = False
        lost = {"decoder": "the decoder's own concealment (libopus)", "repeat": "the last frame at half level",
                "silence": "silence"}[c.concealment]
        console.print(f"  {c.name:8s} {c.encoder} / {c.decoder}; {lost}; {'yes' if have else 'MISSING'}  "
                      f"({c.note})", markup=False)
