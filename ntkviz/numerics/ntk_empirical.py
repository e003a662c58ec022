"""The empirical neural tangent kernel of our nets and ensembles.

The tangent kernel of a scalar net f(x, w) is ``Theta(x1, x2) = J(x1) J(x2)^T`` with
``J(x) = d f(x, w) / d w`` (Jacot, Gabriel & Hongler 2018, "Neural Tangent Kernel: Convergence and
Generalization in Neural Networks"). Two ways to compute it for a whole ensemble at once:

- :func:`ntk_jacobian`: the general way, for any functional model: per-member Jacobians by
  ``torch.func.jacrev``, ``vmap``-ed over the members, then contracted. Forms the (N, P) Jacobian.
- :func:`ntk_layerwise`: the fast way for our dense nets: each layer l contributes
  ``<delta_l(x1), delta_l(x2)> * (<h_{l-1}(x1), h_{l-1}(x2)> + [bias])``, where h_{l-1} is the
  layer's input and delta_l = d f / d z_l the derivative of the output with respect to the layer's
  pre-activation. Only (N, width) activations are formed, never the P-wide Jacobian.

In the NTK parameterisation (``NetSpec(parameterization="ntk")``, z_l = c_l W_l h_{l-1} + s_l b_l
with c_l = sigma_w / sqrt(fan_in), s_l = sigma_b, from :meth:`NetSpec.layer_scales`) the
parameters are W and b themselves, so layer l contributes
``<delta_l(x1), delta_l(x2)> (c_l^2 <h_{l-1}(x1), h_{l-1}(x2)> + s_l^2)`` and the backward
recursion carries c_{l+1}: delta_l = c_{l+1} (delta_{l+1} W_{l+1}) * act'(z_l).

Both include the output scale: the kernel of ``alpha * f`` is ``alpha^2`` times that of f; the
frozen copy subtracted by ``zero_output`` does not depend on w, so it does not change the kernel.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ntkviz.errors import DivergenceError
from ntkviz.numerics.dynamics import Outer
from ntkviz.numerics.nets import Ensemble, NetSpec, dense
from ntkviz.runtime.threads import single_thread

METHODS = ("auto", "layerwise", "jacobian")

_SQRT_2_OVER_PI = 2.0 / math.sqrt(math.pi)

# d act / dz from the pre-activation z (and, where cheaper, the activation a = act(z)).
_DERIVATIVES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "relu": lambda z, a: (z > 0).to(z.dtype),  # PyTorch's relu'(0) = 0
    "tanh": lambda z, a: 1.0 - a * a,
    "sigmoid": lambda z, a: a * (1.0 - a),
    "erf": lambda z, a: _SQRT_2_OVER_PI * torch.exp(-z * z),
    "softplus": lambda z, a: torch.sigmoid(z),
    "sin": lambda z, a: torch.cos(z),
}


def _derivative(
    name: str, fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, a: torch.Tensor
) -> torch.Tensor:
    known = _DERIVATIVES.get(name)
    if known is not None:
        return known(z, a)
    # Any other elementwise activation: its derivative by autograd (one backward of sum act(z)).
    with torch.enable_grad():
        z_ = z.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(z_).sum(), z_)
    return grad


def output_scale(ensemble: Ensemble) -> torch.Tensor:
    """Each member's output scale alpha_k as a (K,) tensor (per-member alphas or the spec's alpha)."""
    if ensemble.alphas is not None:
        return ensemble.alphas.to(device=ensemble.device, dtype=ensemble.params[0].dtype)
    return torch.full(
        (ensemble.count,),
        float(ensemble.spec.alpha),
        dtype=ensemble.params[0].dtype,
        device=ensemble.device,
    )


def _layer_features(
    ensemble: Ensemble,
    params: Sequence[torch.Tensor],
    x: torch.Tensor,
    top: Callable[[torch.Tensor], torch.Tensor] | None = None,
):
    """For each dense layer l: (h_{l-1}, delta_l), both (K, N, fan): the layer's input and
    d f / d z_l, the output's derivative with respect to the layer's pre-activation. ``top``, if
    given, maps the raw outputs (K, N, 1) to what starts the backward pass instead of ones,
    (K, N, 1): delta_l is then top * d f / d z_l (a loss's per-sample weights folded in once,
    not once per layer)."""
    spec = ensemble.spec
    count = params[0].shape[0]
    step = 2 if spec.bias else 1
    layers = len(spec.layer_sizes)
    scales = spec.layer_scales()
    h = x.to(params[0].dtype).reshape(1, -1, spec.input_dim).expand(count, -1, -1)
    inputs, pre = [], []  # pre[l] = (z_l, act(z_l)) for the hidden layers
    for j, (w_mult, b_mult) in enumerate(scales):
        inputs.append(h)
        z = dense(h, params[step * j], params[step * j + 1] if spec.bias else None, w_mult, b_mult)
        if j < layers - 1:
            h = ensemble.activation(z)
            pre.append((z, h))
    # Backward: delta_L = top (or 1); delta_l = c_{l+1} (delta_{l+1} W_{l+1}) * act'(z_l).
    if top is None:
        delta = torch.ones(count, h.shape[1], 1, dtype=h.dtype, device=h.device)
    else:
        delta = top(z)
    deltas = [delta]
    for j in range(layers - 2, -1, -1):
        w_mult = scales[j + 1][0]
        back = torch.bmm(delta, params[step * (j + 1)])
        if w_mult != 1.0:
            back = back * w_mult
        z, a = pre[j]
        if spec.activation == "relu":  # relu' as a mask in one op: back where z > 0, else 0
            delta = torch.ops.aten.threshold_backward(back, z, 0.0)
        else:
            delta = back * _derivative(spec.activation, ensemble.activation, z, a)
        deltas.append(delta)
    deltas.reverse()
    return list(zip(inputs, deltas, strict=True))


def ntk_layerwise(
    ensemble: Ensemble,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """The tangent kernel of every member by the layer-wise formula: (K, N1, N2).

    ``Theta_k(x1, x2) = alpha_k^2 sum_l <delta_l(x1), delta_l(x2)> (c_l^2 <h_{l-1}(x1), h_{l-1}(x2)> + b_l)``
    with b_l = s_l^2 for biased layers, else 0, and (c_l, s_l) the layer's multipliers
    (:meth:`NetSpec.layer_scales`: 1 and 1 in the standard parameterisation) (Jacot et al. 2018;
    the "gradient outer product" of each layer).
    x1: (N1,), x2: (N2,) inputs, x2=None meaning x1. params: stacked as in :class:`Ensemble`
    (default: the ensemble's current parameters). Costs O(K N1 N2 width depth), no P-wide arrays.
    """
    params = ensemble.params if params is None else params
    with torch.no_grad():
        params = [p.detach() for p in params]
        first = _layer_features(ensemble, params, x1)
        second = first if x2 is None else _layer_features(ensemble, params, x2)
        kernel = None
        scales = ensemble.spec.layer_scales()
        for (h1, d1), (h2, d2), (w_mult, b_mult) in zip(first, second, scales, strict=True):
            inner = torch.bmm(h1, h2.transpose(1, 2))
            if w_mult != 1.0:
                inner = inner * (w_mult * w_mult)
            if ensemble.spec.bias:
                inner = inner + b_mult * b_mult
            term = torch.bmm(d1, d2.transpose(1, 2)) * inner
            kernel = term if kernel is None else kernel + term
        scale = output_scale(ensemble)
        return kernel * (scale * scale).view(-1, 1, 1)


def mse_loss_and_gradient(
    ensemble: Ensemble,
    params: Sequence[torch.Tensor],
    x_train: torch.Tensor,
    y_train: torch.Tensor,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Each member's loss ``L_k = mean_i (f_k(x_i) - y_i)^2 / alpha_k^2`` (K,) and the gradient of
    sum_k L_k for every stacked parameter, as tensors shaped like the parameters: the
    :class:`MseGradient` that training uses, with its factors multiplied out."""
    loss, grads = MseGradient()(ensemble, params, x_train, y_train)
    return loss, [g.dense() if isinstance(g, Outer) else g for g in grads]


class MseGradient:
    """The mean squared error's loss and gradient for :func:`ntkviz.numerics.dynamics.train`, without
    autograd: the layer-wise backward pass of the kernel, started from the residuals.

    ``dL/dW_l = c_l sum_i r_i delta_l(x_i) h_{l-1}(x_i)^T``, ``dL/db_l = s_l sum_i r_i delta_l(x_i)``
    with ``r_i = dL/dnet(x_i) = 2 (f(x_i) - y_i) / (N alpha)`` and (c_l, s_l) the layer's
    multipliers (1, 1 in the standard parameterisation; :meth:`NetSpec.layer_scales`). Equal to
    autograd's gradient of ``sum_k L_k`` (tested).

    Every weight's gradient comes as an :class:`~ntkviz.numerics.dynamics.Outer`, the rank-N product it
    is for N training points, so ``train`` applies it as one fused ``baddbmm_`` per weight:
    forming (K, out, in) gradients and subtracting them passes over every weight matrix three
    times more. Biases' gradients are plain (K, out) sums. What does not change during training
    (the output scales, the zeroing offset, the targets) is prepared on the first call and
    reused while the ensemble and data are the same objects.
    """

    def __init__(self) -> None:
        self._for: tuple | None = None

    def _prepare(self, ensemble: Ensemble, x_train: torch.Tensor, y_train: torch.Tensor) -> None:
        if self._for is not None and all(
            a is b for a, b in zip(self._for, (ensemble, x_train, y_train), strict=True)
        ):
            return
        alpha = output_scale(ensemble).view(-1, 1, 1)
        n = x_train.shape[0]
        target = y_train.to(alpha.dtype).view(1, n, 1)
        offset = ensemble.offset(x_train)
        if offset is not None:  # alpha (net - offset) - y = alpha net - (alpha offset + y)
            target = target + alpha * offset.unsqueeze(-1)
        self._negative_target = -target.expand(alpha.shape[0], n, 1)
        self._alpha = alpha
        self._residual_scale = 2.0 / (n * alpha)
        self._loss_scale = (1.0 / (n * alpha * alpha)).view(-1)
        self._for = (ensemble, x_train, y_train)

    def __call__(
        self,
        ensemble: Ensemble,
        params: Sequence[torch.Tensor],
        x_train: torch.Tensor,
        y_train: torch.Tensor,
    ) -> tuple[torch.Tensor, list]:
        self._prepare(ensemble, x_train, y_train)
        loss: list[torch.Tensor] = []

        def residual(raw: torch.Tensor) -> torch.Tensor:  # the backward pass starts from r_i
            error = torch.addcmul(self._negative_target, self._alpha, raw)  # (K, N, 1)
            loss.append(torch.linalg.vecdot(error, error, dim=1).view(-1) * self._loss_scale)
            return error * self._residual_scale

        with torch.no_grad():
            features = _layer_features(ensemble, params, x_train, top=residual)
            grads: list = []
            for (h, weighted), (w_mult, b_mult) in zip(
                features, ensemble.spec.layer_scales(), strict=True
            ):
                grads.append(Outer(weighted.transpose(1, 2), h, w_mult))
                if ensemble.spec.bias:
                    grad = weighted.sum(dim=1)
                    grads.append(grad.mul_(b_mult) if b_mult != 1.0 else grad)
        return loss[0], grads


def jacobian_kernel(
    fn: Callable[[Sequence[torch.Tensor], torch.Tensor], torch.Tensor],
    params: Sequence[torch.Tensor],
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
) -> torch.Tensor:
    """``Theta_k(x1, x2) = J_k(x1) J_k(x2)^T`` for any functional model: (K, N1, N2).

    fn(member_params, x) -> (N,) is ONE member's output, member_params a list like ``params`` without
    the leading member axis; params are stacked (K, ...). Jacobians by ``torch.func.jacrev``,
    ``vmap``-ed over the members (the neural-tangents "jacobian contraction" method).
    """
    params = tuple(p.detach() for p in params)

    def jac(member, x):
        return torch.func.jacrev(lambda q: fn(q, x))(member)

    def one(member):
        j1 = jac(member, x1)
        j2 = j1 if x2 is None else jac(member, x2)
        n1, n2 = j1[0].shape[0], j2[0].shape[0]
        return sum(a.reshape(n1, -1) @ b.reshape(n2, -1).T for a, b in zip(j1, j2, strict=True))

    return torch.func.vmap(one)(list(params))


def ntk_jacobian(
    ensemble: Ensemble,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """The tangent kernel of every member by Jacobian contraction (torch.func): (K, N1, N2).

    ``Theta_k(x1, x2) = alpha_k^2 J_k(x1) J_k(x2)^T``, J_k = d net_k / d w (Jacot et al. 2018).
    The general path: forms each member's (N, P) Jacobian, so it needs O(K N P) memory.
    """
    params = ensemble.params if params is None else params

    def member_output(member, x):
        return ensemble.forward_raw([p.unsqueeze(0) for p in member], x)[0]

    kernel = jacobian_kernel(
        member_output,
        params,
        x1.to(params[0].dtype),
        None if x2 is None else x2.to(params[0].dtype),
    )
    scale = output_scale(ensemble)
    return kernel * (scale * scale).view(-1, 1, 1)


def empirical_ntk(
    ensemble: Ensemble,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    params: Sequence[torch.Tensor] | None = None,
    method: str = "auto",
) -> torch.Tensor:
    """The empirical tangent kernel ``Theta_k(x1, x2) = J_k(x1) J_k(x2)^T`` of every member.

    Shapes: x1 (N1,), x2 (N2,) or None (= x1); returns (K, N1, N2), alpha^2 included.
    ``method``: ``layerwise`` (fast, :func:`ntk_layerwise`), ``jacobian`` (general,
    :func:`ntk_jacobian`) or ``auto`` (layerwise). Raises DivergenceError if it is not finite.
    Reference: Jacot, Gabriel & Hongler (2018).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    compute = ntk_jacobian if method == "jacobian" else ntk_layerwise
    kernel = compute(ensemble, x1, x2, params)
    check_finite_kernel(kernel)
    return kernel


def check_finite_kernel(kernel: torch.Tensor) -> None:
    """Raise DivergenceError naming the first member whose kernel has a NaN or infinity."""
    bad = ~torch.isfinite(kernel).reshape(kernel.shape[0], -1).all(dim=1)
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0])
        raise DivergenceError(
            f"the tangent kernel of net {k} is not finite (NaN or infinity): the weights or the "
            f"output scale overflowed; try a smaller --lr, or an --alpha closer to 1"
        )


def kernel_memory(spec: NetSpec, count: int, points: int, dtype=torch.float32) -> int:
    """Bytes to hold ``count`` nets (no initial copy: they are never trained) and the layer-wise
    kernel's per-layer activations on ``points`` inputs (inputs, slopes, deltas, a temporary)."""
    item = torch.empty((), dtype=dtype).element_size()
    activations = (3 * spec.depth + 3) * count * points * spec.width
    return item * (spec.parameter_count * count + activations)


def initial_kernels(
    spec: NetSpec,
    count: int,
    seed: int,
    x_train: np.ndarray,
    x_grid: np.ndarray,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each of the ``count`` nets' empirical kernel and function at initialisation, in float64:
    (Theta(X, X) (K, N, N), Theta(x, X) (K, G, N), f0(X) (K, N), f0(x) (K, G)), the functions
    0 when ``spec.zero_output``.

    Computed on a float64 twin of the nets (member k's draws do not depend on the dtype), with
    no frozen copy: it is never trained.
    """
    twin = Ensemble(
        dataclasses.replace(spec, zero_output=False),
        count,
        seed,
        device=device,
        dtype=torch.float64,
        keep_initial=False,
    )
    grid64 = torch.as_tensor(x_grid, device=device)
    train64 = torch.as_tensor(x_train, device=device)
    with single_thread(device):
        k_train = empirical_ntk(twin, train64).cpu().numpy()
        k_grid = empirical_ntk(twin, grid64, train64).cpu().numpy()
        if spec.zero_output:
            f0_train, f0_grid = np.zeros((count, len(x_train))), 0.0 * k_grid[..., 0]
        else:
            with torch.no_grad():
                f0_train, f0_grid = twin(train64).cpu().numpy(), twin(grid64).cpu().numpy()
    return k_train, k_grid, f0_train, f0_grid


def readout_variances(spec: NetSpec) -> tuple[float, float]:
    """The variances of the readout layer's effective weight and bias (w_mult W, b_mult b) at
    initialisation: (sigma_w^2 / fan_in, sigma_b^2) for ``ntk``; (1 / (3 fan_in), the same or 0)
    for ``standard`` with ``pytorch``'s uniform draws; (1 / fan_in, 0) with ``lecun``'s."""
    fan_in = spec.layer_sizes[-1][0]
    if spec.parameterization == "ntk":
        w_mult, b_mult = spec.layer_scales()[-1]
        return w_mult**2, (b_mult**2 if spec.bias else 0.0)
    if spec.init == "pytorch":
        return 1 / (3 * fan_in), (1 / (3 * fan_in) if spec.bias else 0.0)
    return 1 / fan_in, 0.0


def readout_nngp(
    ensemble: Ensemble,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Each member's output covariance over its readout layer's draws, given its hidden layers:
    (K, N1, N2).

    ``K_k(x1, x2) = alpha_k^2 (v_w <h_L(x1), h_L(x2)> + v_b)``, h_L the last hidden layer's
    activations and (v_w, v_b) from :func:`readout_variances`: the mean of f(x1) f(x2) over
    the readout weights. As the width grows it tends to the NNGP of one net alone (the
    "empirical NNGP" of neural-tangents is f f^T, the same in expectation; Lee et al. 2018).
    """
    params = ensemble.params if params is None else params
    with torch.no_grad():
        params = [p.detach() for p in params]
        h1 = _layer_features(ensemble, params, x1)[-1][0]
        h2 = h1 if x2 is None else _layer_features(ensemble, params, x2)[-1][0]
        weight_var, bias_var = readout_variances(ensemble.spec)
        kernel = torch.bmm(h1, h2.transpose(1, 2)) * weight_var + bias_var
        scale = output_scale(ensemble)
        return kernel * (scale * scale).view(-1, 1, 1)
