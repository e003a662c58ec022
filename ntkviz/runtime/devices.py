"""Which device a run computes on: ``--device`` checked against this machine and this torch
before any computing, and the one line for a figure a device cannot run."""

from __future__ import annotations

from ntkviz.errors import ConfigError
from ntkviz.options import parse_device


def resolve_device(name: str) -> str:
    """``name`` where this machine and this torch have that device; else ConfigError, one line
    saying what there is (``--device cuda:1: this machine has 1 CUDA device (cuda:0)``)."""
    import torch

    kind, index = parse_device(name)
    if kind == "cuda":
        if not torch.cuda.is_available():
            build = (
                "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
            )
            raise ConfigError(
                f"--device {name}: no CUDA device is available (torch {torch.__version__}, "
                f"{build}); use --device cpu"
            )
        count = torch.cuda.device_count()
        if index is not None and index >= count:
            have = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise ConfigError(
                f"--device {name}: this machine has {count} CUDA device{'s' * (count != 1)} "
                f"({have})"
            )
    elif kind == "mps":
        backend = getattr(torch.backends, "mps", None)
        if backend is None or not backend.is_available():
            why = (
                "this torch is built without MPS"
                if backend is None or not backend.is_built()
                else "it needs an Apple-silicon Mac with macOS 12.3 or later"
            )
            raise ConfigError(
                f"--device mps: not available (torch {torch.__version__}: {why}); use --device cpu"
            )
    return name


def device_refusal(exc: BaseException, device: str, figure: str) -> ConfigError | None:
    """The one line for a figure that computes in float64 on Apple's GPU, which has no float64
    (torch raises a TypeError saying so); None for any other failure."""
    text = str(exc)
    if device == "mps" and "MPS" in text and "float64" in text:
        return ConfigError(
            f"--device mps: {figure} computes in float64, which Apple's GPU (MPS) does not "
            "support; use --device cpu"
        )
    return None
