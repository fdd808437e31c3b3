"""How a frozen torch encoder runs: device, numeric precision, int8 quantisation.

Shared by ``hf-audio``, ``hf-text`` and ``minilm``. Each of these extractors takes

``device``     ``"auto"`` (a CUDA GPU when torch sees one, else the CPU), ``"cpu"``, ``"cuda"``.
``precision``  ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"`` (CUDA only). ``"auto"`` is fp16 on
               a GPU, bf16 on a CPU with native bf16 instructions (AVX512-BF16 / AMX on x86,
               BF16 on Arm), fp32 elsewhere.
``quantize``   ``"none"`` or ``"int8"``: dynamic int8 quantisation of the Linear layers
               (``torch.ao``), CPU only. Never the default: on the packaged MiniLM (real weights)
               it fails the accuracy check (pooled-embedding cosine 0.92 to fp32, see docs/speed.md).

``"auto"`` is resolved when the extractor is configured, and the resolved value is what the
cache identity records, so features computed at different precisions never mix. Detecting
the device and the CPU's bf16 support needs no torch import in the parent process (a CPU-only
torch build is recognised from its version string, CPU flags are read from ``/proc/cpuinfo``):
the process that only schedules workers stays small.
"""
from __future__ import annotations

import os
import platform
import warnings
from functools import lru_cache

from ..errors import SpecError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
QUANTIZE = ("none", "int8")
DEVICES = ("auto", "cpu", "cuda")


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether the CPU computes bf16 natively (else bf16 is emulated and slower than fp32)."""
    forced = os.environ.get("AFFECTBENCH_CPU_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read(1 << 16)
    except OSError:
        return platform.machine() == "arm64" and platform.system() == "Darwin"  # Apple M2 and later
    flags = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        if version("torch").endswith("+cpu"):
            return False
    except PackageNotFoundError:
        return False
    import torch

    return torch.cuda.is_available()


def resolve(extractor: str, config: dict) -> None:
    """Check ``device``/``precision``/``quantize`` and replace ``"auto"`` by what will run."""
    dev, prec, q = str(config["device"]), config["precision"], config["quantize"]
    if dev not in DEVICES and not dev.startswith("cuda:"):
        raise SpecError(f"extractor '{extractor}': device must be auto, cpu or cuda, got {dev!r}")
    if prec not in PRECISIONS:
        raise SpecError(f"extractor '{extractor}': precision must be one of {', '.join(PRECISIONS)}, got {prec!r}")
    if q not in QUANTIZE:
        raise SpecError(f"extractor '{extractor}': quantize must be none or int8, got {q!r}")
    if dev == "auto":
        dev = "cuda" if cuda_available() else "cpu"
    gpu = dev.startswith("cuda")
    if prec == "auto":
        prec = "fp16" if gpu else ("bf16" if cpu_has_bf16() else "fp32")
    if prec == "fp16" and not gpu:
        raise SpecError(f"extractor '{extractor}': precision fp16 needs a CUDA device (on a CPU use bf16 "
                        f"or fp32)")
    if q == "int8" and gpu:
        raise SpecError(f"extractor '{extractor}': quantize = \"int8\" runs on the CPU only; set device = "
                        f"\"cpu\" or quantize = \"none\"")
    config.update(device=dev, precision=prec, quantize=q)


def torch_dtype(precision: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def quantize_linear(module):
    """Dynamic int8 for every Linear layer, in place (weights int8 per tensor, activations
    quantised per batch at run time); the rest of the module keeps its dtype."""
    import torch

    with warnings.catch_warnings():  # torch.ao is deprecated in favour of torchao, which is not installed
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8,
                                                      inplace=True)


def run_in_dtype(module, dtype):
    """``module`` converted to ``dtype`` inside a model that stays fp32: its float inputs are
    cast in and its outputs cast back, so fp32 (or int8-quantised) neighbours see what they
    expect (the CNN front end of a speech encoder in bf16, its transformer int8)."""
    import torch

    module.to(dtype)

    def pre(mod, args):
        return tuple(a.to(dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args)

    def post(mod, args, out):
        return out.float() if torch.is_tensor(out) and out.is_floating_point() else out

    module.register_forward_pre_hook(pre)
    module.register_forward_hook(post)
    return module


def load_pretrained(d, precision: str):
    """``AutoModel.from_pretrained(d)`` in the given precision, holding one copy of the weights.

    Asked for bf16/fp16, transformers reads the fp32 file through a memory map and converts:
    the mapped fp32 pages and the converted copy are resident together (a HuBERT-base worker
    peaked at 920-980 MB). A single ``model.safetensors`` is therefore read here tensor by
    tensor with plain reads, each converted at once, and handed over as a state dict (the
    peak drops to ~580 MB; the weights are bit-identical). Other layouts (sharded, ``.bin``)
    go through transformers as before.
    """
    from pathlib import Path

    from transformers import MODEL_MAPPING, AutoConfig, AutoModel

    d, dtype = Path(d), torch_dtype(precision)
    f = d / "model.safetensors"
    cfg = AutoConfig.from_pretrained(d)
    if precision == "fp32" or not f.is_file() or type(cfg) not in MODEL_MAPPING:
        return AutoModel.from_pretrained(d, dtype=dtype)
    return MODEL_MAPPING[type(cfg)].from_pretrained(None, config=cfg, state_dict=read_safetensors(f, dtype),
                                                    dtype=dtype)


_ST_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
              "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}


def read_safetensors(path, dtype) -> dict:
    """A safetensors file as {name: tensor}, floating tensors converted to ``dtype`` one at a
    time (safetensors' own loader maps the whole file; see :func:`load_pretrained`)."""
    import json
    import struct

    import torch

    out = {}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            a, b = meta["data_offsets"]
            f.seek(8 + n + a)
            t = torch.frombuffer(bytearray(f.read(b - a)), dtype=getattr(torch, _ST_DTYPES[meta["dtype"]])) \
                if b > a else torch.empty(0, dtype=getattr(torch, _ST_DTYPES[meta["dtype"]]))
            t = t.reshape(meta["shape"])
            out[name] = t.to(dtype) if t.is_floating_point() else t
    return out
