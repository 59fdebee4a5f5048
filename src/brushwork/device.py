"""Choosing the device: "auto" is resolved here and nowhere else."""

from __future__ import annotations

import torch

from .errors import DeviceError


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> cuda, then mps, then cpu; an explicit device that is missing raises DeviceError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise DeviceError("--device mps: no Apple GPU (MPS) here; use --device auto or cpu")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: no CUDA GPU here (or a CPU-only PyTorch); "
                              "use --device auto or cpu")
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s); "
                              "use cuda:0 or --device auto")
        return torch.device("cuda", index)
    raise DeviceError(f"--device {name}: unknown device; use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def describe(device: torch.device) -> str:
    """A short human name, e.g. 'cuda:0 (NVIDIA H100)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)
