"""devox: DevoX's deep-voice detector, wav2vec 2.0 on 8 kHz audio, split between the phone and the edge.

What DevoX (Seo et al., "DevoX: Deep Voice Detection MLOps Framework for Crime Prevention in the
Core-Edge Cloud"; ``../shared/papers/devox.txt``, Sec. III.D) says of its model:

- "implemented based on the Wav2Vec2.0 model [...] The feature extraction module is located in the
  user application to extract voice features, and the extracted data is transmitted to the edge
  cloud for inference by the encoder module. This separated design allows the utilization of
  privacy-enhanced information";
- "samples voices at 8000 Hz for both genuine and synthetic voices [...] feature extraction through
  a CNN-based module [...] a feature quantization layer in the model selects and masks crucial
  information from the extracted feature vectors. This masking involves learning against the
  transformer block output, creating a dictionary [...] The feature vector [...] proceeds through a
  transformer-based encoding module and a classifier layer";
- trained 50 epochs, 92% accuracy on its own 21 h (Sec. IV.A; Fig. 5's other values are lost in the
  text extraction). No size, pre-training, optimiser or pooling is given.

bench's reading (``network.py``): the phone runs the resampling to 8 kHz, the normalisation and
wav2vec 2.0's convolutional feature encoder; the edge runs the rest (feature projection, masking,
the Gumbel quantiser with its contrastive objective while training, the transformer, a
``Wav2Vec2ForSequenceClassification``-style head). Architectures: ``devox-base`` (wav2vec 2.0 base's
shape, 95 M parameters; random weights unless ``--set pretrained=FOLDER`` gives a local wav2vec 2.0
checkpoint, since none ships in a package here; too slow to train on 2 CPU cores) and
``devox-small`` (the default: the same modules, 64-channel convolutions, a 2-layer 128-wide
transformer; trains on 2 CPU cores in minutes). Every score goes through the feature message
(``bench.countermeasures.feature_message``): what the phone would send, per window and per seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.api import DETECTORS, BenchError, FitConfig, InputSpec, PluginMeta, SplitTorchCMDetector


@DETECTORS.register(PluginMeta(
    name="devox", version="1", license="Apache-2.0 (bench's code; transformers' wav2vec 2.0 modules: Apache-2.0)",
    description="DevoX: wav2vec 2.0 at 8 kHz, conv feature encoder on the phone, quantiser + transformer + "
                "classifier on the edge (privacy split)",
    reference="Y. Seo et al., DevoX: Deep Voice Detection MLOps Framework for Crime Prevention in the Core-Edge "
              "Cloud (Sec. III.D, IV.A); A. Baevski et al., wav2vec 2.0, NeurIPS 2020",
    paper_name="devox", sample_rate=16_000, devices=["cpu", "cuda"],
    parameters={"model": "NAME@VERSION or a model folder (bench train --detector devox)",
                "device": "cpu | cuda | cuda:N"},
    n_params={"devox-small": 457_938, "devox-base": 95_241_986},
    trained_on="your corpus + fakes (bench train)",
))
class DevoXDetector(SplitTorchCMDetector):
    """DevoX's detector; see the module docstring. Input: 1-second windows (the training crop), averaged."""

    input_spec = InputSpec(samples=16_000, shorter="tile", longer="windows", min_samples=1_600)
    architectures = {"devox-small": {"wav2vec2": "small"}, "devox-base": {"wav2vec2": "base"}}
    default_architecture = "devox-small"
    fit_defaults = FitConfig(epochs=30, batch_size=16, lr=1e-3, weight_decay=1e-4, patience=5)
    train_seconds = 1.0
    split = {"device": "16 kHz -> 8 kHz, normalisation, wav2vec 2.0 conv feature encoder",
             "server": "feature projection, masking + Gumbel quantiser (training), transformer encoder, classifier"}

    def training_defaults(self) -> dict[str, Any]:
        return {**super().training_defaults(), "contrastive_weight": 0.1, "pretrained": ""}

    def resolve_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        out = super().resolve_settings(settings)
        if not float(out["contrastive_weight"]) >= 0:
            raise BenchError("devox: contrastive_weight must be >= 0")
        if out["pretrained"] and not (Path(out["pretrained"]) / "config.json").is_file():
            raise BenchError(f"devox: pretrained={out['pretrained']}: not a local wav2vec 2.0 checkpoint folder "
                             "(config.json + weights, as save_pretrained writes; Hub ids are not downloaded)")
        return out

    def network_params(self, settings: dict[str, Any]) -> dict[str, Any]:
        from bench.detectors.devox.network import BASE, SMALL

        preset = self.architectures[settings["architecture"]]["wav2vec2"]
        w2v = dict(SMALL if preset == "small" else BASE)
        if settings["pretrained"]:
            w2v = _checkpoint_config(settings["pretrained"])
        return {"wav2vec2": w2v, "contrastive_weight": float(settings["contrastive_weight"]),
                "message_dtype": settings["message_dtype"]}

    def build(self, params: dict[str, Any]) -> Any:
        from bench.detectors.devox.network import BASE, SMALL, DevoXNet

        w2v = params.get("wav2vec2", {})
        if isinstance(w2v, str):  # an architecture preset's name
            w2v = SMALL if w2v == "small" else BASE
        return DevoXNet(w2v, contrastive_weight=float(params.get("contrastive_weight", 0.1)),
                        message_dtype=str(params.get("message_dtype", "float16")))

    def load_pretrained(self, net: Any, settings: dict[str, Any]) -> dict[str, Any] | None:
        path = settings.get("pretrained")
        if not path:
            return None
        from bench.detectors.devox.network import pretrained_wav2vec2
        from bench.models.store import sha256_file

        try:
            pt = pretrained_wav2vec2(path)
        except Exception as exc:  # a folder transformers cannot read: one line
            raise BenchError(f"devox: pretrained={path}: cannot be loaded ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:160]})") from None
        net.device_half.feature_extractor.load_state_dict(pt.wav2vec2.feature_extractor.state_dict())
        server = net.server_half
        for name in ("feature_projection", "encoder", "quantizer", "project_hid", "project_q"):
            getattr(server, name).load_state_dict(getattr(pt if name.startswith(("quant", "project")) else
                                                          pt.wav2vec2, name).state_dict())
        if getattr(pt.wav2vec2, "masked_spec_embed", None) is not None:
            server.masked_spec_embed.data.copy_(pt.wav2vec2.masked_spec_embed.data)
        files = sorted(p for p in Path(path).iterdir() if p.suffix in (".safetensors", ".bin", ".json"))
        return {"path": str(path), "files": {p.name: sha256_file(p) for p in files}}


def _checkpoint_config(path: str) -> dict[str, Any]:
    """The architecture fields of a local checkpoint's config.json (what DevoXNet needs to rebuild it)."""
    from transformers import Wav2Vec2Config

    try:
        cfg = Wav2Vec2Config.from_pretrained(path, local_files_only=True)
    except Exception as exc:
        raise BenchError(f"devox: pretrained={path}: config.json cannot be read ({type(exc).__name__})") from None
    keys = ("conv_dim", "conv_kernel", "conv_stride", "conv_bias", "hidden_size", "num_hidden_layers",
            "num_attention_heads", "intermediate_size", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups",
            "num_codevector_groups", "num_codevectors_per_group", "codevector_dim", "proj_codevector_dim",
            "num_negatives", "feat_extract_norm", "do_stable_layer_norm", "mask_time_length", "layer_norm_eps",
            "feat_proj_layer_norm", "classifier_proj_size")
    d = cfg.to_dict()
    return {k: (list(d[k]) if isinstance(d[k], tuple) else d[k]) for k in keys if k in d}
