"""Speech encoders from a local Hugging Face folder: HuBERT, wav2vec 2.0, WavLM, data2vec-audio, Whisper.

``hf-audio`` loads any raw-waveform ``AutoModel`` speech encoder (or Whisper's
encoder) from a folder the user supplies, frozen (``eval``, ``inference_mode``),
and pools its hidden states over time into one vector per utterance.

Config keys
    ``model``          path to the local folder (required): ``config.json``, the weights
                       (``model.safetensors`` or ``pytorch_model.bin``, or a sharded index)
                       and ``preprocessor_config.json`` (the feature extractor).
    ``layer``          ``"last"`` (the model's ``last_hidden_state``), an int index into the
                       ``L + 1`` hidden states (0 = CNN / embedding output, -1 = the last
                       layer's output *before* any final LayerNorm of stable-layer-norm models),
                       ``"mean_last_k"`` (the mean of the last ``k`` hidden states), or ``"all"``
                       (every hidden state mean-pooled and flattened: ``(L + 1) * D`` values,
                       layer-major; ``n_layers`` / ``layer_dim`` tell a weighted-layer head how to
                       reshape).
    ``k``              layers averaged by ``"mean_last_k"``.
    ``pooling``        ``"mean"``: the mean over every real (unpadded) frame.
    ``chunk_seconds``  audio longer than this is cut into equal chunks of at most this length,
                       each encoded on its own; the vector is the mean over all frames of all
                       chunks (so a chunked utterance is pooled exactly like an unchunked one,
                       frame-weighted). ``0`` or ``None``: never chunk (Whisper still chunks at
                       its 30 s window).
    ``max_seconds``    keep only the first ``max_seconds`` of each utterance (``None``: all).
    ``batch_size``     chunks per forward pass.
    ``batch_seconds``  at most this much (padded) audio per forward pass, whatever ``batch_size``
                       says: it bounds the activation memory (one chunk always fits).
    ``frames``         also write each utterance's frame sequence (see below).
    ``device``, ``precision``, ``quantize``
                       where and in which number format the encoder runs (``"auto"``: fp16 on a
                       GPU, bf16 on a CPU with native bf16, else fp32); see
                       :mod:`affectbench.features.fast`. With ``quantize = "int8"`` the Linear
                       layers are int8 and, at bf16 precision, the CNN front end runs in bf16
                       while the transformer's other layers stay fp32.

Batching, and why it is exact
    Inside a worker chunk the audio chunks are sorted by length and neighbours are batched,
    zero-padded, with an attention mask, so little compute goes into padding. A batched result
    equals the unbatched one (tested to 1e-4; in practice ~1e-6) because every operation that
    mixes frames is made to ignore the padding:

    * the transformer attention is masked, and the models zero padded frames before the
      positional convolution;
    * wav2vec2-base-style models (``feat_extract_norm == "group"``: wav2vec2-base, HuBERT-base,
      WavLM-base(+)) normalise the first CNN layer with a GroupNorm over *time*, so padding
      would shift every real frame (we measured differences of 0.1 to 1 on a pooled vector).
      Hugging Face's advice is not to pass an attention mask to those models and to live with
      the difference; instead we swap that GroupNorm for one that normalises each item over its
      own real frames only (the same kernel on the same numbers as the unbatched call). The
      later CNN layers have no padding, so real frames never read padded samples;
    * data2vec-audio stacks several positional convolutions; padded frames are re-zeroed
      after each of them (a forward hook), as an unpadded call would see zeros there;
    * Whisper pads every input to its 30 s window anyway and its encoder has no mask, so
      batching changes nothing; see below.

    Other model types (``EXACT_BATCHING``) are batched only with chunks of exactly the same
    length, and otherwise run one by one: slower, never wrong. ``batch_size`` is therefore not
    part of the cache identity, and neither is ``device`` nor the folder's location (the model
    files' content hash stands for the model); ``precision`` and ``quantize`` are.

    On a CPU, padded batches are slower than one chunk at a time (the padding is computed, and
    the masked GroupNorm runs item by item), so there only chunks of equal length share a batch;
    on a GPU, length-sorted neighbours are padded into one batch. At bf16/fp16 a batched result
    differs from an unbatched one by rounding only (~1e-3 relative).

Whisper
    The encoder alone is used, fed WhisperFeatureExtractor log-mel features. The feature
    extractor pads (or cuts) every input to ``n_samples`` (30 s for released checkpoints) and
    the encoder always returns ``n_samples / (hop_length * conv strides)`` frames (1500 for
    30 s: 20 ms each). Frames past the real audio encode the padding, so pooling keeps only the
    first ``ceil(len / (hop_length * stride))`` = ``ceil(len / 320)`` frames. Audio longer than
    the window is chunked (``chunk_seconds`` is capped at the window).

Frame sequences (``frames = true``)
    The feature cache holds one vector per utterance, so frame sequences are written beside it:
    ``<store dir>/frames/<content key>.npy``, float16, shape ``(T, D)`` (``(L + 1, T, D)`` for
    ``layer = "all"``), written atomically by the worker that computed them. They are written
    only for items computed through :func:`affectbench.features.extract` (which supplies the
    content key); read them back with :meth:`HFAudio.frames_for`.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .. import audio
from ..errors import MediaError, SpecError
from . import fast
from .base import Extractor, _where, register

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
#: model types whose padded batches are known (and tested) to equal unpadded calls
EXACT_BATCHING = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "whisper")
LAYER_WORDS = ("last", "mean_last_k", "all")
#: config keys that change how fast features are computed, never their values
NOT_IN_IDENTITY = ("batch_size", "batch_seconds", "device")


# -- shared with hf_text ----------------------------------------------------------------------
def check_model_dir(path: Any, extractor: str, need: dict[str, tuple[str, ...]]) -> Path:
    """The model folder, or a SpecError that says what must be where.

    ``need`` maps a description to alternative file names, one of which must exist.
    """
    if path in (None, ""):
        raise SpecError(
            f"extractor '{extractor}': option 'model' is required: the path of a local Hugging Face "
            f"model folder (no downloads happen). Set it in the spec, e.g.\n"
            f"  [features.options.{extractor}]\n  model = \"/models/hubert-base-ls960\"\n"
            f"The folder must hold {_needs_text(need)}.")
    d = Path(str(path)).expanduser()
    if not d.is_dir():
        raise SpecError(f"extractor '{extractor}': model folder {d} does not exist (or is not a folder). "
                        f"Put a Hugging Face model there ({_needs_text(need)}), e.g. saved with "
                        f"model.save_pretrained(dir) and its feature extractor/tokenizer .save_pretrained(dir), "
                        f"or copied from a downloaded checkpoint.")
    missing = [what for what, names in need.items() if not any((d / n).is_file() for n in names)]
    if missing:
        have = sorted(p.name for p in d.iterdir())[:20]
        raise SpecError(f"extractor '{extractor}': model folder {d} is incomplete: missing "
                        f"{'; '.join(f'{w} ({_alts(need[w])})' for w in missing)}. "
                        f"It holds: {', '.join(have) or 'nothing'}. Copy the missing file(s) from the "
                        f"checkpoint into {d}.")
    return d


def _alts(names) -> str:
    return " or ".join(names)


def _needs_text(need) -> str:
    return ", ".join(f"{w} ({_alts(n)})" for w, n in need.items())


def read_dims(d: Path) -> tuple[int | None, int | None]:
    """(transformer layers L, hidden size D) from config.json, without loading weights."""
    try:
        cfg = json.loads((d / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise SpecError(f"{d / 'config.json'}: cannot read the model config: {e}") from None
    if cfg.get("is_encoder_decoder"):
        n = cfg.get("encoder_layers") or cfg.get("num_hidden_layers")
    else:
        n = cfg.get("num_hidden_layers") or cfg.get("encoder_layers")
    dim = cfg.get("hidden_size") or cfg.get("d_model")
    return (int(n) if n else None), (int(dim) if dim else None)


def check_layer(extractor: str, layer, k, n_layers: int | None) -> None:
    """Validate the ``layer`` / ``k`` options; n_layers is the number of hidden states (L + 1)."""
    if isinstance(layer, bool) or not (isinstance(layer, int) or layer in LAYER_WORDS):
        raise SpecError(f"extractor '{extractor}': layer must be one of {', '.join(LAYER_WORDS)} or an "
                        f"integer index into the hidden states, got {layer!r}")
    if isinstance(layer, int) and n_layers is not None and not -n_layers <= layer < n_layers:
        raise SpecError(f"extractor '{extractor}': layer {layer} is out of range: the model has "
                        f"{n_layers} hidden states (0 = embedding/CNN output … {n_layers - 1} = last "
                        f"layer; negative indices count from the end)")
    if layer == "mean_last_k":
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SpecError(f"extractor '{extractor}': k must be a positive integer, got {k!r}")
        if n_layers is not None and k > n_layers:
            raise SpecError(f"extractor '{extractor}': k = {k} but the model has only {n_layers} "
                            f"hidden states")


def select_layers(layer, k, last, hidden):
    """The hidden-state blocks a ``layer`` option asks for: a list of (B, T, D) tensors."""
    if layer == "last":
        return [last]
    if layer == "all":
        return list(hidden)
    if layer == "mean_last_k":
        import torch

        return [torch.stack(hidden[-k:]).mean(0)]
    return [hidden[layer]]


def pick_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def model_files_fingerprint(d: Path) -> str:
    from .store import folder_fingerprint

    return folder_fingerprint(d)


class HFExtractorMixin:
    """Identity handling shared by the Hugging Face extractors."""

    _fingerprint: str | None = None

    def versions(self):
        from importlib.metadata import version  # importing transformers itself costs seconds

        return {"transformers": version("transformers"), "torch": version("torch").split("+")[0]}

    def model_fingerprint(self):
        if self._fingerprint is None:
            self._fingerprint = model_files_fingerprint(self.model_dir)
        return self._fingerprint

    def _open_model_dir(self) -> dict:
        """Check the model folder, read its layer count and width, check the layer choice."""
        c = self.config
        self.model_dir = check_model_dir(c["model"], self.name, self.NEED)
        n, d = read_dims(self.model_dir)
        self.n_layers = n + 1 if n else None
        self.layer_dim = d
        check_layer(self.name, c["layer"], c["k"], self.n_layers)
        return c

    def identity(self):
        ident = super().identity()
        cfg = {k: v for k, v in ident["config"].items() if k not in NOT_IN_IDENTITY}
        cfg["model"] = self.model_dir.name  # the content hash stands for the model, not its location
        ident["config"] = cfg
        return ident


# -- masking helpers that make padded batches exact -----------------------------------------------
class _PadState:
    """Per-forward padding information read by the patched modules (None: no padding)."""

    def __init__(self):
        self.conv0_lengths: list[int] | None = None
        self.frame_mask = None  # (B, 1, T) float tensor


def _masked_group_norm(gn, state: _PadState):
    """A GroupNorm (one group per channel) that normalises each item over its real frames only."""
    import torch
    import torch.nn.functional as F

    class MaskedGroupNorm(torch.nn.GroupNorm):
        def forward(self, x):
            lengths = state.conv0_lengths
            if lengths is None or all(n == x.shape[-1] for n in lengths):
                return super().forward(x)
            out = torch.zeros_like(x)
            for i, n in enumerate(lengths):  # the unbatched computation, item by item
                out[i, :, :n] = F.group_norm(x[i:i + 1, :, :n], self.num_groups, self.weight, self.bias,
                                             self.eps)[0]
            return out

    new = MaskedGroupNorm(gn.num_groups, gn.num_channels, eps=gn.eps, affine=gn.affine)
    new.load_state_dict(gn.state_dict())
    if gn.affine:
        p = next(gn.parameters())
        new = new.to(device=p.device, dtype=p.dtype)
    return new


def _make_exact(model, model_type: str, state: _PadState):
    """Patch the frame-mixing modules so that padding cannot leak; returns whether that worked."""
    import torch

    cfg = model.config
    if getattr(cfg, "feat_extract_norm", None) == "group":
        try:
            layer0 = model.feature_extractor.conv_layers[0]
            gn = layer0.layer_norm
        except AttributeError:
            return False
        if not isinstance(gn, torch.nn.GroupNorm) or gn.num_groups != gn.num_channels:
            return False
        layer0.layer_norm = _masked_group_norm(gn, state)
    if model_type == "data2vec-audio":
        def rezero(module, args, output):
            m = state.frame_mask
            return output if m is None or m.shape[-1] != output.shape[-1] else output * m.to(output.dtype)

        try:
            for lyr in model.encoder.pos_conv_embed.layers:
                lyr.register_forward_hook(rezero)
        except AttributeError:
            return False
    return True


def _min_samples(conv) -> int:
    """Fewest input samples that give one output frame of a stack of unpadded convolutions."""
    r = 1
    for k, s in reversed(conv):
        r = (r - 1) * s + k
    return r


# -- the extractor ------------------------------------------------------------------------------
@register
class HFAudio(HFExtractorMixin, Extractor):
    """A speech encoder from a local Hugging Face folder (HuBERT, wav2vec 2.0, WavLM, data2vec, Whisper)."""

    needs = "a local Hugging Face speech model folder (options: model = PATH)"
    needs_model = True

    name = "hf-audio"
    modality = "audio"
    description = ("speech encoder from a local Hugging Face folder (HuBERT, wav2vec 2.0, WavLM, "
                   "data2vec-audio, Whisper encoder), mean-pooled hidden states")
    defaults = {"model": None, "layer": "last", "k": 4, "pooling": "mean", "chunk_seconds": 20.0,
                "max_seconds": None, "batch_size": 8, "batch_seconds": 32.0, "frames": False,
                "max_frames": 50, "device": "auto", "precision": "auto", "quantize": "none"}
    frames_capable = True
    chunk_size = 32
    start_method = "spawn"
    dim = None
    #: hidden states the model returns (L transformer layers + the CNN/embedding output)
    n_layers: int | None = None
    #: size of one hidden state
    layer_dim: int | None = None
    NEED = {"config.json": ("config.json",), "the weights": WEIGHT_FILES,
            "preprocessor_config.json (the feature extractor)": ("preprocessor_config.json",)}

    def __init__(self, **config):
        super().__init__(**config)
        c = self._open_model_dir()
        if c["pooling"] != "mean":
            raise SpecError(f"extractor '{self.name}': pooling must be 'mean', got {c['pooling']!r}")
        for key in ("chunk_seconds", "max_seconds"):
            v = c[key]
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise SpecError(f"extractor '{self.name}': {key} must be a number of seconds >= 0 or "
                                f"unset, got {v!r}")
        if c["chunk_seconds"] and c["chunk_seconds"] < 1:
            raise SpecError(f"extractor '{self.name}': chunk_seconds must be at least 1 (or 0 for no "
                            f"chunking), got {c['chunk_seconds']!r}")
        if isinstance(c["batch_size"], bool) or not isinstance(c["batch_size"], int) or c["batch_size"] < 1:
            raise SpecError(f"extractor '{self.name}': batch_size must be a positive integer")
        bsec = c["batch_seconds"]
        if isinstance(bsec, bool) or not isinstance(bsec, (int, float)) or bsec <= 0:
            raise SpecError(f"extractor '{self.name}': batch_seconds must be a number of seconds > 0, "
                            f"got {bsec!r}")
        fast.resolve(self.name, c)
        self._set_dim()
        self._bucket = True  # sort chunks by length before batching (benchmarks switch it off)
        self._pad_cpu = False  # pad mixed lengths into one batch on a CPU too (tests of exactness)

    def _set_dim(self):
        if self.layer_dim:
            self.dim = self.layer_dim * (self.n_layers if self.config["layer"] == "all" else 1)

    # -- setup ------------------------------------------------------------------------------------
    def setup(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoConfig, AutoFeatureExtractor

        d = self.model_dir
        cfg = AutoConfig.from_pretrained(d)
        self.model_type = cfg.model_type
        self._fe = AutoFeatureExtractor.from_pretrained(d)
        names = list(getattr(self._fe, "model_input_names", []))
        c = self.config
        # loaded straight into bf16/fp16: no fp32 copy of the weights is ever held
        prec = c["precision"] if c["quantize"] == "none" else "fp32"
        self._dtype = fast.torch_dtype(prec)
        model = fast.load_pretrained(d, prec)
        if getattr(cfg, "is_encoder_decoder", False):
            model = model.get_encoder()  # Whisper: the encoder only, the decoder is dropped
        self._device = pick_device(c["device"])
        model = model.eval().requires_grad_(False).to(self._device)
        self._pad = _PadState()
        self.sr = int(getattr(self._fe, "sampling_rate", 16000) or 16000)
        if "input_values" in names:  # raw-waveform encoders
            self._kind = "waveform"
            self._exact = self.model_type in EXACT_BATCHING and _make_exact(model, self.model_type, self._pad)
            conv = list(zip(getattr(cfg, "conv_kernel", ()), getattr(cfg, "conv_stride", ())))
            self._conv0 = conv[0] if conv else None
            self._min = _min_samples(conv) if conv else 1
            self._window = None
        elif "input_features" in names and getattr(self._fe, "n_samples", None):  # Whisper
            self._kind = "whisper"
            self._exact = True  # every input is padded to the window: batching changes nothing
            self._window = int(self._fe.n_samples)
            self._hop = int(self._fe.hop_length) * int(np.prod([m.stride[0] for m in (model.conv1, model.conv2)]))
            self._min = 1
        else:
            raise SpecError(f"extractor '{self.name}': {d} holds a '{self.model_type}' model whose feature "
                            f"extractor gives {names}; hf-audio supports raw-waveform encoders "
                            f"(input_values: wav2vec2, HuBERT, WavLM, data2vec-audio …) and Whisper")
        if c["quantize"] == "int8":
            front = getattr(model, "feature_extractor", None)  # the CNN of wav2vec2-style models
            if c["precision"] == "bf16" and front is not None:
                fast.run_in_dtype(front, fast.torch_dtype("bf16"))
            fast.quantize_linear(model)
        self._model = model
        n_hidden = getattr(cfg, "num_hidden_layers", None)
        if n_hidden:
            self.n_layers = int(n_hidden) + 1
        self.layer_dim = int(getattr(cfg, "hidden_size", 0) or self.layer_dim or 0) or None
        self._set_dim()

    # -- work -------------------------------------------------------------------------------------
    def _segments(self, x: np.ndarray) -> list[np.ndarray]:
        c = self.config
        limit = int(c["chunk_seconds"] * self.sr) if c["chunk_seconds"] else None
        if self._window:
            limit = min(limit or self._window, self._window)
        if not limit or len(x) <= limit:
            return [x]
        n = math.ceil(len(x) / limit)
        bounds = np.round(np.linspace(0, len(x), n + 1)).astype(int)
        return [x[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def _load(self, item) -> np.ndarray:
        x = audio.load(item["audio"], self.sr, item.get("start"), item.get("end"))
        if self.config["max_seconds"]:
            x = x[:int(self.config["max_seconds"] * self.sr)]
        if len(x) < self._min:
            raise MediaError(_where(item), f"audio too short for {self.model_type}: {len(x)} samples "
                                           f"({1000 * len(x) / self.sr:.0f} ms); the encoder needs at "
                                           f"least {self._min} ({1000 * self._min / self.sr:.0f} ms)")
        return x

    def _batches(self, segs: list[tuple[int, np.ndarray]]) -> list[list[tuple[int, np.ndarray]]]:
        """Length-sorted neighbours, at most ``batch_size`` chunks and ``batch_seconds`` of padded
        audio each; padded only where that is exact and pays (a GPU), else equal lengths only."""
        bs, cap = self.config["batch_size"], self.config["batch_seconds"] * self.sr
        order = sorted(segs, key=lambda s: len(s[1])) if self._bucket else list(segs)
        # Whisper: every input becomes one whole window anyway, so mixing lengths costs nothing
        pad = self._exact and (self._device.type != "cpu" or self._pad_cpu or bool(self._window))
        out, cur = [], []
        for s in order:
            n = self._window or len(s[1])  # Whisper: every input becomes one window
            longest = max([n] + [self._window or len(c[1]) for c in cur])
            if cur and (len(cur) == bs or (len(cur) + 1) * longest > cap
                        or (not pad and len(cur[0][1]) != len(s[1]))):
                out.append(cur)
                cur = []
            cur.append(s)
        return out + ([cur] if cur else [])

    def _forward(self, arrays: list[np.ndarray]):
        """Encode arrays in one padded batch: per array, a list of (T_i, D) tensors (one per selected
        layer block) holding its real frames only."""
        import torch

        c = self.config
        want_hidden = c["layer"] != "last"
        if self._kind == "whisper":
            feats = [self._fe(x, sampling_rate=self.sr, return_tensors="np")["input_features"][0] for x in arrays]
            inp = {"input_features": torch.from_numpy(np.stack(feats)).to(self._device, self._dtype)}
            out = self._model(**inp, output_hidden_states=want_hidden)
            T = out.last_hidden_state.shape[1]
            lengths = [min(T, max(1, math.ceil(len(x) / self._hop))) for x in arrays]
        else:
            vals = [np.asarray(self._fe(x, sampling_rate=self.sr, return_tensors="np")["input_values"][0],
                               np.float32) for x in arrays]
            n = [len(v) for v in vals]
            longest = max(n)
            batch = np.zeros((len(vals), longest), np.float32)
            mask = np.zeros((len(vals), longest), np.int64)
            for i, v in enumerate(vals):
                batch[i, :len(v)] = v
                mask[i, :len(v)] = 1
            padded = min(n) != longest
            inp = {"input_values": torch.from_numpy(batch).to(self._device, self._dtype)}
            if padded:
                inp["attention_mask"] = torch.from_numpy(mask).to(self._device)
            frames = self._frame_lengths(n)
            if padded and self._conv0:
                k0, s0 = self._conv0
                self._pad.conv0_lengths = [(m - k0) // s0 + 1 for m in n]
                T = self._frame_lengths([longest])[0]
                fm = torch.zeros(len(n), 1, T, device=self._device)
                for i, f in enumerate(frames):
                    fm[i, :, :f] = 1
                self._pad.frame_mask = fm
            try:
                with warnings.catch_warnings():
                    # WavLM hands torch's attention a float and a bool mask; torch warns, results are right
                    warnings.filterwarnings("ignore", message=".*key_padding_mask.*")
                    out = self._model(**inp, output_hidden_states=want_hidden)
            finally:
                self._pad.conv0_lengths = None
                self._pad.frame_mask = None
            lengths = [min(int(f), out.last_hidden_state.shape[1]) for f in frames]
        blocks = select_layers(c["layer"], c["k"], out.last_hidden_state,
                               out.hidden_states if want_hidden else None)
        return [[b[i, :t] for b in blocks] for i, t in enumerate(lengths)]

    def _frame_lengths(self, n: list[int]) -> list[int]:
        import torch

        f = getattr(self._model, "_get_feat_extract_output_lengths", None)
        if f is None:  # unknown model: only equal lengths share a batch, so every frame is real
            return [10 ** 9] * len(n)
        return [int(v) for v in f(torch.tensor(n)).tolist()]

    def process_batch(self, items):
        import torch

        self.ensure_setup()
        out: list = [None] * len(items)
        segs: list[tuple[int, np.ndarray]] = []
        for i, it in enumerate(items):
            try:
                segs += [(i, s) for s in self._segments(self._load(it))]
            except MediaError as e:
                out[i] = e
            except Exception as e:
                out[i] = MediaError(_where(it), f"{self.name}: {type(e).__name__}: {e}")
        sums: dict[int, np.ndarray] = {}
        counts: dict[int, int] = {}
        frames: dict[int, list] = {}
        keep_frames = bool(self.config["frames"])

        def add(i, blocks):
            s = np.stack([b.sum(0).double().cpu().numpy() for b in blocks])
            sums[i] = sums.get(i, 0) + s
            counts[i] = counts.get(i, 0) + blocks[0].shape[0]
            if keep_frames:
                frames.setdefault(i, []).append(np.stack([b.float().cpu().numpy() for b in blocks]))

        with torch.inference_mode():
            for batch in self._batches(segs):
                try:
                    res = self._forward([s for _, s in batch])
                except Exception as e:
                    if len(batch) == 1:
                        res = e
                    else:  # one bad chunk must not sink its neighbours: retry them one by one
                        res = []
                        for _, s in batch:
                            try:
                                res.append(self._forward([s])[0])
                            except Exception as e1:
                                res.append(e1)
                if isinstance(res, Exception):
                    res = [res]
                for (i, _), r in zip(batch, res):
                    if isinstance(r, Exception):
                        if out[i] is None:
                            out[i] = MediaError(_where(items[i]), f"{self.name} failed: {type(r).__name__}: {r}")
                    else:
                        add(i, r)
        for i in range(len(items)):
            if out[i] is not None:
                continue
            out[i] = (sums[i] / counts[i]).reshape(-1).astype(np.float32)
            if keep_frames and items[i].get("_key"):
                self._write_frames(items[i]["_key"], frames[i])
        return out

    # -- frame sequences --------------------------------------------------------------------------
    def _write_frames(self, key: str, parts: list[np.ndarray]) -> None:
        """All the encoder's frames, (T, D) or (layers, T, D) for layer = "all": `frames_for` gives
        them back whole; frame-level heads read them through `load_frames` (≤ max_frames)."""
        arr = np.concatenate(parts, axis=1)  # (blocks, T, D)
        self.save_frames(key, arr[0] if arr.shape[0] == 1 else arr)

    def frames_for(self, row: dict) -> np.ndarray:
        """The stored frame sequence of a manifest row (after an extraction with ``frames = true``)."""
        from .store import FileHashes, content_key, media_item

        if not self.config["frames"]:
            raise SpecError(f"extractor '{self.name}': frame sequences are stored only with frames = true")
        hashes = FileHashes()
        try:
            key = content_key(media_item(row, self.modality), self.modality, hashes)
        finally:
            hashes.close()
        p = self.frames_dir() / f"{key}.npy"
        if not p.exists():
            raise MediaError(row.get("audio") or row.get("id"), f"no stored frames ({p}); extract first")
        return np.load(p)
