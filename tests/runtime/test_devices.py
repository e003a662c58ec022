"""--device (issue 24): cpu, cuda, cuda:N and mps are taken where torch has them, and refused in
one line (exit 2, nothing written) where not. No GPU here: torch's answers are stood in for."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import TINY

import ntkviz
from ntkviz.errors import ConfigError
from ntkviz.options import parse_device
from ntkviz.runtime import devices
from ntkviz.runtime.devices import device_refusal, resolve_device


@pytest.mark.parametrize(
    "text, parsed",
    [("cpu", ("cpu", None)), ("cuda", ("cuda", None)), ("cuda:0", ("cuda", 0))]
    + [("cuda:12", ("cuda", 12)), ("mps", ("mps", None))],
)
def test_the_devices_torch_names(text, parsed):
    assert parse_device(text) == parsed


@pytest.mark.parametrize(
    "text",
    ["tpu", "CUDA", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "cuda: 1", "cuda:１", "mps:0"]
    + ["cpu:0", "", "cuda:99999", 0, None],
)
def test_anything_else_is_one_line(text):
    with pytest.raises(ConfigError) as caught:
        parse_device(text)
    assert str(caught.value) == f"--device must be one of cpu, cuda, cuda:N, mps (got {text!r})"


def _cuda(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_a_cuda_device_this_machine_lacks(monkeypatch):
    _cuda(monkeypatch, 1)
    assert resolve_device("cuda") == "cuda" and resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(ConfigError, match=r"^--device cuda:1: this machine has 1 CUDA device "):
        resolve_device("cuda:1")
    _cuda(monkeypatch, 2)
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ConfigError, match=r"has 2 CUDA devices \(cuda:0 to cuda:1\)$"):
        resolve_device("cuda:2")


def test_no_cuda_at_all(monkeypatch):
    _cuda(monkeypatch, 0)
    for name in ("cuda", "cuda:3"):
        with pytest.raises(ConfigError, match=rf"^--device {name}: no CUDA device is available"):
            resolve_device(name)


class _Mps:
    def __init__(self, built: bool, available: bool) -> None:
        self.is_built = lambda: built
        self.is_available = lambda: available


def test_mps_where_torch_has_it_and_not_where_not(monkeypatch):
    monkeypatch.setattr(torch.backends, "mps", _Mps(True, True))
    assert resolve_device("mps") == "mps"
    monkeypatch.setattr(torch.backends, "mps", _Mps(True, False))
    with pytest.raises(ConfigError, match=r"^--device mps: not available \(.*Apple-silicon Mac"):
        resolve_device("mps")
    monkeypatch.setattr(torch.backends, "mps", _Mps(False, False))
    with pytest.raises(ConfigError, match=r"^--device mps: not available \(.*built without MPS"):
        resolve_device("mps")


def test_here_the_cli_refuses_a_gpu_in_one_line_and_writes_nothing(cli, tmp_path):
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    for device, said in [
        ("cuda:1", "--device cuda:1: no CUDA device is available"),
        ("mps", "--device mps: not available"),
        ("gpu", "--device must be one of cpu, cuda, cuda:N, mps (got 'gpu')"),
    ]:
        result = cli("toy-model", "-o", tmp_path / "a.gif", "--device", device, *TINY)
        assert result.exit_code == 2, result.output
        assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="--device mps: not available"):
        ntkviz.render("toy-model", quick=True, device="mps")


def test_a_second_cuda_device_reaches_the_figure(cli, tmp_path, monkeypatch):
    """With two CUDA devices (stood in for), cuda:1 passes the checks and the figure is asked to
    compute on it, the sidecar records it; the numbers are the CPU's (a stand-in simulate)."""
    from ntkviz.figures import FIGURES

    _cuda(monkeypatch, 2)
    spec = FIGURES["toy-model"]
    asked = []

    def simulate(config, generator, progress, device):
        asked.append(device)
        return real(config, generator, progress, "cpu")

    real = spec.simulate
    monkeypatch.setitem(FIGURES, "toy-model", dataclasses.replace(spec, simulate=simulate))
    result = cli("toy-model", "-o", tmp_path / "a.gif", "--device", "cuda:1", *TINY)
    assert result.exit_code == 0, result.output
    assert asked == ["cuda:1"]
    assert '"device": "cuda:1"' in (tmp_path / "a.gif.json").read_text()


def test_float64_on_apples_gpu_is_one_line():
    error = TypeError(
        "Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support "
        "float64. Please use float32 instead."
    )
    refusal = device_refusal(error, "mps", "posterior")
    assert str(refusal) == (
        "--device mps: posterior computes in float64, which Apple's GPU (MPS) does not support; "
        "use --device cpu"
    )
    assert device_refusal(error, "cpu", "posterior") is None
    assert device_refusal(TypeError("unsupported operand"), "mps", "posterior") is None
    assert devices.__doc__
