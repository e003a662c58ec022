"""The post's "simple nets", as ensembles of stacked parameters run in one batched computation.

A net maps a scalar x (or a point of ``input_dim`` coordinates) to a scalar: ``depth`` hidden
layers of width ``m``, an activation, biases on or off. An ensemble of K nets keeps every layer's weights as one (K, out, in) tensor, so the
forward pass of all K nets is a handful of batched matmuls (:func:`dense`), never K modules.

Member k's initial weights depend only on (seed, k), never on K, so ``--count 10`` shows the first
10 of the ``--count 100`` nets.

Two parameterisations: ``standard`` (the post's nets: nn.Linear layers, z = W h + b) and ``ntk``
(Jacot et al. 2018: all weights and biases N(0, 1), the scales sigma_w / sqrt(fan_in) and sigma_b
applied in the forward pass), whose wide-net limit is the closed form in :mod:`ntkviz.numerics.ntk_analytic`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ntkviz.errors import ConfigError
from ntkviz.numerics.blas import bmm, by_numpy
from ntkviz.runtime.memory import check_memory, memory_limit  # noqa: F401 - nets' public names
from ntkviz.runtime.threads import single_thread

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "erf": torch.erf,
    "sigmoid": torch.sigmoid,
    "gelu": torch.nn.functional.gelu,
    "softplus": torch.nn.functional.softplus,
    "sin": torch.sin,
}
INITS = ("pytorch", "lecun")
PARAMETERIZATIONS = ("standard", "ntk")
#: Help text for a figure's ``--parameterization`` option (with ``choices=PARAMETERIZATIONS``).
PARAMETERIZATION_HELP = (
    "standard: the post's nets, z = W h + b with --init's weights; ntk: the NTK "
    "parameterisation, z = sigma_w W h / sqrt(fan_in) + sigma_b b with all W, "
    "b ~ N(0, 1), whose infinite-width kernel has a closed form"
)


@dataclass(frozen=True)
class NetSpec:
    """One architecture. ``init``: ``pytorch`` is nn.Linear's default (weights and biases
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))); ``lecun`` draws weights N(0, 1/fan_in), biases 0.
    ``zero_output`` subtracts a frozen copy taken at initialisation so f(x, w0) = 0;
    ``alpha`` scales the (zeroed) output. ``input_dim``: the coordinates of an input point (the
    post's nets take scalars: 1).

    ``parameterization``: ``standard`` is z^{l+1} = W h + b with ``init``'s draws (the post's nets).
    ``ntk`` is the NTK parameterisation of Jacot et al. (2018), as in :mod:`ntkviz.numerics.ntk_analytic`:

        z^{l+1} = sigma_w W h / sqrt(fan_in) + sigma_b b,    all W, b ~ N(0, 1)

    (``init`` is then ignored; ``sigma_w``, ``sigma_b`` are used only by ``ntk``; without biases
    the sigma_b term is absent). The parameters are the N(0, 1) W and b, so the gradient, and the
    tangent kernel, carry the multipliers: as every width -> infinity the kernel tends to
    :func:`ntkviz.numerics.ntk_analytic.infinite_ntk` without any 1/width normalisation.
    """

    width: int = 100
    depth: int = 2
    activation: str = "relu"
    bias: bool = True
    init: str = "pytorch"
    zero_output: bool = False
    alpha: float = 1.0
    parameterization: str = "standard"
    sigma_w: float = 1.0
    sigma_b: float = 1.0
    input_dim: int = 1

    @property
    def layer_sizes(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of each dense layer, input to output."""
        sizes = [self.input_dim] + [self.width] * self.depth + [1]
        return list(zip(sizes[:-1], sizes[1:], strict=True))

    def layer_scales(self) -> list[tuple[float, float]]:
        """(weight multiplier, bias multiplier) of each dense layer, input to output:
        z = w_mult W h + b_mult b. (1, 1) for ``standard``; (sigma_w / sqrt(fan_in), sigma_b)
        for ``ntk``. The forward pass, the tangent kernel and the hand-written gradient all
        take the multipliers from here."""
        if self.parameterization != "ntk":
            return [(1.0, 1.0)] * len(self.layer_sizes)
        return [
            (self.sigma_w / math.sqrt(fan_in), float(self.sigma_b))
            for fan_in, _ in self.layer_sizes
        ]

    @property
    def parameter_count(self) -> int:
        return sum(i * o + (o if self.bias else 0) for i, o in self.layer_sizes)

    def check(self) -> NetSpec:
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"--activation must be one of {', '.join(ACTIVATIONS)} (got {self.activation!r})"
            )
        if self.init not in INITS:
            raise ConfigError(f"--init must be one of {', '.join(INITS)} (got {self.init!r})")
        if self.parameterization not in PARAMETERIZATIONS:
            raise ConfigError(
                f"--parameterization must be one of {', '.join(PARAMETERIZATIONS)} "
                f"(got {self.parameterization!r})"
            )
        for name in ("sigma_w", "sigma_b"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be a finite number >= 0 (got {value:g})"
                )
        return self


def member_seed(seed: int, member: int) -> int:
    """An independent 63-bit seed for ensemble member ``member`` (a NumPy SeedSequence child)."""
    return int(
        np.random.SeedSequence([seed & (2**63 - 1), member]).generate_state(1, np.uint64)[0] >> 1
    )


def width_seed(seed: int, width: int) -> int:
    """The ensemble seed of one width: a hash of (run seed, width), so each width's nets are
    independent of the others' and the same whatever other widths are drawn."""
    state = np.random.SeedSequence([seed & (2**63 - 1), int(width)]).generate_state(1, np.uint64)[0]
    return int(state >> 1)


def init_member(spec: NetSpec, seed: int, dtype=torch.float32) -> list[torch.Tensor]:
    """One net's parameters [W1, b1, W2, b2, ...] (W: (out, in); b: (out,)), drawn on the CPU.

    ``standard``: drawn in float64 as ``init`` says, then cast to ``dtype``. ``ntk``: every weight
    and bias N(0, 1), drawn in float32 (torch's vectorised normal sampler is faster than
    float64's, and these draws dominate the cost of wide nets; see bench/README.md) and cast, so
    member k is the same net in either dtype.
    """
    generator = torch.Generator().manual_seed(seed)
    if spec.parameterization == "ntk":
        params = []
        for fan_in, fan_out in spec.layer_sizes:
            shapes = [(fan_out, fan_in)] + ([(fan_out,)] if spec.bias else [])
            for shape in shapes:
                draw = torch.empty(shape, dtype=torch.float32).normal_(
                    0.0, 1.0, generator=generator
                )
                params.append(draw.to(dtype))
        return params
    params = []
    for fan_in, fan_out in spec.layer_sizes:
        weight = torch.empty(fan_out, fan_in, dtype=torch.float64)
        if spec.init == "pytorch":
            bound = 1.0 / math.sqrt(fan_in)
            weight.uniform_(-bound, bound, generator=generator)
        else:
            weight.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=generator)
        params.append(weight.to(dtype))
        if spec.bias:
            bias = torch.zeros(fan_out, dtype=torch.float64)
            if spec.init == "pytorch":
                bias.uniform_(-bound, bound, generator=generator)
            params.append(bias.to(dtype))
    return params


def memory_estimate(spec: NetSpec, count: int, points: int, dtype=torch.float32) -> int:
    """Bytes an ensemble needs while training: parameters, their initial copy, gradients and a
    snapshot copy (4 x P x K), plus activations for ``points`` inputs kept for the backward pass."""
    item = torch.empty((), dtype=dtype).element_size()
    activations = 3 * count * points * spec.width * spec.depth
    return item * (4 * spec.parameter_count * count + activations)


#: Members trained together on a CPU hold at most about this many bytes of weights: a pass over
#: them then runs from the processor's cache instead of memory (the measurement that chose it is
#: in bench/README.md).
CACHE_BYTES = 8 << 20


def cache_groups(
    spec: NetSpec, count: int, device: str = "cpu", dtype=torch.float32
) -> list[list[int]]:
    """Members 0..count-1 in consecutive groups to train one after another: on a CPU, groups
    whose weights fit in about :data:`CACHE_BYTES` (at most twice that; at least two members
    each: a group of one takes another code path, whose sums round differently); on a GPU, all
    at once. The nets, and their trained values, do not depend on the grouping."""
    item = torch.empty((), dtype=dtype).element_size()
    per_net = spec.parameter_count * item
    size = max(2, CACHE_BYTES // max(per_net, 1))
    if device != "cpu" or count <= size:
        return [list(range(count))]
    parts = count // size  # rounded down: every group holds at least ``size`` >= 2 members
    bounds = [round(count * k / parts) for k in range(parts + 1)]
    return [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def check_fits(
    spec: NetSpec, count: int, points: int, device: str = "cpu", dtype=torch.float32
) -> None:
    check_memory(
        memory_estimate(spec, count, points, dtype),
        f"{count} net(s) of width {spec.width} and depth {spec.depth}",
        "use a smaller --width or fewer nets",
        device,
    )


#: A dense layer's product of at least this many flops goes to :func:`ntkviz.numerics.blas.bmm`
#: (numpy's BLAS where pinned): the forwards at a frame's grid of inputs, not the training steps.
GRID_FLOPS = 1e8


def dense(
    h: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    w_mult: float = 1.0,
    b_mult: float = 1.0,
) -> torch.Tensor:
    """One dense layer of every member: ``z = w_mult * h W^T + b_mult * b``, shape (K, N, out).

    h: (K, N, in) (batch strides may be 0), weight: (K, out, in), bias: (K, out) or None.
    A scalar input (in = 1) is an outer product, done elementwise (a matmul whose inner size is 1
    spends most of its time on overhead); otherwise one batched matmul, then the bias added in
    place (cheaper than baddbmm's broadcast copy of the bias into its output). A product of at
    least :data:`GRID_FLOPS` (a frame's forward at a grid of inputs, not a training step's) in a
    pinned run goes to numpy's BLAS (:mod:`ntkviz.numerics.blas`).
    """
    if weight.shape[-1] > 1 and by_numpy(h, weight.transpose(1, 2), GRID_FLOPS):  # pinned grid
        z = bmm(h, weight.transpose(1, 2), GRID_FLOPS)
        z = z.mul_(w_mult) if w_mult != 1.0 else z
        return z if bias is None else z.add_(bias.unsqueeze(1), alpha=b_mult)
    if w_mult != 1.0 or b_mult != 1.0:  # the NTK parameterisation: baddbmm's alpha and beta
        start = bias.unsqueeze(1) if bias is not None else h.new_zeros(())
        beta = b_mult if bias is not None else 0.0
        return torch.baddbmm(start, h, weight.transpose(1, 2), beta=beta, alpha=w_mult)
    if weight.shape[-1] == 1 and bias is not None:
        return torch.addcmul(bias.unsqueeze(1), h, weight.transpose(1, 2))
    z = torch.bmm(h, weight.transpose(1, 2))
    return z if bias is None else z.add_(bias.unsqueeze(1))


class Ensemble:
    """K nets of one architecture as stacked parameters.

    ``params[j]`` is layer parameter j of every member: weights (K, out, in), biases (K, out).
    ``params0`` is the frozen copy at initialisation. Call ``ensemble(x)`` for outputs (K, N).
    ``alphas`` (K,), if given, scales member k's output by alphas[k] instead of ``spec.alpha``
    (one ensemble can then train nets at several output scales at once).
    ``keep_initial=False`` (for nets that are only evaluated, never trained or zeroed) makes
    ``params0`` the same tensors as ``params`` instead of a copy, halving the memory.
    """

    def __init__(
        self,
        spec: NetSpec,
        count: int,
        seed: int,
        device: str = "cpu",
        dtype=torch.float32,
        members: Sequence[int] | None = None,
        alphas: Sequence[float] | torch.Tensor | None = None,
        keep_initial: bool = True,
    ) -> None:
        self.spec = spec.check()
        self.members = list(range(count)) if members is None else list(members)
        # Filled member by member into the stacked tensors: at no time are two copies held.
        self.params: list[torch.Tensor] = []
        with single_thread():
            if spec.parameterization == "ntk" and dtype == torch.float32:
                self._draw_in_place(spec, seed, dtype)
            for slot, k in enumerate(self.members if not self.params else ()):
                for j, tensor in enumerate(init_member(spec, member_seed(seed, k), dtype)):
                    if slot == 0:
                        self.params.append(
                            torch.empty((len(self.members), *tensor.shape), dtype=dtype)
                        )
                    self.params[j][slot] = tensor
        self.params = [p.to(device) for p in self.params]
        if not keep_initial and spec.zero_output:
            raise ValueError("zero_output needs the initial parameters: keep_initial=True")
        self.params0 = (
            [p.detach().clone() for p in self.params] if keep_initial else list(self.params)
        )
        self.alphas = None
        if alphas is not None:
            self.alphas = torch.as_tensor(alphas, dtype=dtype).reshape(-1).to(device)
            if self.alphas.shape[0] != self.count:
                raise ConfigError(f"{self.alphas.shape[0]} alphas for {self.count} nets")
        self.activation = ACTIVATIONS[spec.activation]
        self._offsets: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _draw_in_place(self, spec: NetSpec, seed: int, dtype) -> None:
        """:func:`init_member`'s ntk draws, the same numbers in the same order, made straight
        into the stacked float32 tensors: no temporary per member and no copy (at width 10^4 the
        copies would cost about as much as the draws)."""
        shapes = []
        for fan_in, fan_out in spec.layer_sizes:
            shapes += [(fan_out, fan_in)] + ([(fan_out,)] if spec.bias else [])
        self.params = [torch.empty((len(self.members), *shape), dtype=dtype) for shape in shapes]
        for slot, k in enumerate(self.members):
            generator = torch.Generator().manual_seed(member_seed(seed, k))
            for stacked in self.params:
                stacked[slot].normal_(0.0, 1.0, generator=generator)

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def device(self) -> torch.device:
        return self.params[0].device

    def forward_raw(self, params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """The un-zeroed, unscaled nets at inputs x (N,) or (N, input_dim): returns (K, N)."""
        count = params[0].shape[0]
        h = x.reshape(1, -1, self.spec.input_dim).expand(count, -1, -1)
        step = 2 if self.spec.bias else 1
        layers = len(self.spec.layer_sizes)
        for j, (w_mult, b_mult) in enumerate(self.spec.layer_scales()):
            bias = params[step * j + 1] if self.spec.bias else None
            h = dense(h, params[step * j], bias, w_mult, b_mult)
            if j < layers - 1:
                h = self.activation(h)
        return h.squeeze(-1)

    def offset(self, x: torch.Tensor) -> torch.Tensor | None:
        """The frozen initial outputs subtracted when ``zero_output`` (cached per input tensor)."""
        if not self.spec.zero_output:
            return None
        cached = self._offsets.get(id(x))
        if cached is None or cached[0] is not x:
            with torch.no_grad():
                cached = (x, self.forward_raw(self.params0, x))
            self._offsets[id(x)] = cached
        return cached[1]

    def __call__(
        self, x: torch.Tensor, params: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """f(x, w) = alpha * (net(x, w) - [net(x, w0) if zeroed]); shape (K, N)."""
        params = self.params if params is None else params
        out = self.forward_raw(params, x)
        offset = self.offset(x)
        if offset is not None:
            out = out - offset
        if self.alphas is not None:
            return self.alphas.unsqueeze(1) * out
        return self.spec.alpha * out if self.spec.alpha != 1.0 else out

    def alpha(self) -> torch.Tensor | float:
        """The output scale: alphas (K,) if given per member, else spec.alpha."""
        return self.spec.alpha if self.alphas is None else self.alphas

    def flat(self, params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """All parameters of each member as one vector: (K, P)."""
        params = self.params if params is None else params
        return torch.cat([p.reshape(p.shape[0], -1) for p in params], dim=1)

    def member_modules(self) -> list[torch.nn.Sequential]:
        """Each member as a plain nn.Sequential (for checks against PyTorch's own modules)."""
        modules = []
        step = 2 if self.spec.bias else 1
        scales = self.spec.layer_scales()
        for k in range(self.count):
            layers: list[torch.nn.Module] = []
            for j, (fan_in, fan_out) in enumerate(self.spec.layer_sizes):
                linear = torch.nn.Linear(
                    fan_in,
                    fan_out,
                    bias=self.spec.bias,
                    dtype=self.params[0].dtype,
                    device=self.device,
                )
                if self.spec.parameterization == "ntk":
                    linear = _ScaledLinear(linear, *scales[j])
                with torch.no_grad():
                    linear.weight.copy_(self.params[step * j][k])
                    if self.spec.bias:
                        linear.bias.copy_(self.params[step * j + 1][k])
                layers.append(linear)
                if j < len(self.spec.layer_sizes) - 1:
                    layers.append(_Activation(self.activation))
            modules.append(torch.nn.Sequential(*layers))
        return modules


class _ScaledLinear(torch.nn.Module):
    """An nn.Linear whose weight and bias enter multiplied: F.linear(x, w_mult W, b_mult b)
    (the NTK parameterisation with W, b themselves the parameters)."""

    def __init__(self, linear: torch.nn.Linear, w_mult: float, b_mult: float) -> None:
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias
        self.w_mult, self.b_mult = w_mult, b_mult

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.b_mult * self.bias
        return torch.nn.functional.linear(x, self.w_mult * self.weight, bias)


class _Activation(torch.nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def chunked_outputs(ensemble: Ensemble, x: torch.Tensor) -> np.ndarray:
    """Every net's outputs (K, N) in float64, a few nets at a time: (nets, N, width) blocks of
    about a million numbers stay in cache (faster than all the nets at once; bench/README.md)."""
    chunk = max(1, 2**20 // (x.shape[0] * ensemble.spec.width))
    with torch.no_grad():
        parts = [
            ensemble(x, [p[start : start + chunk] for p in ensemble.params])
            for start in range(0, ensemble.count, chunk)
        ]
    return torch.cat(parts).double().cpu().numpy()
