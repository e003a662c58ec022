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

import math
from collections.abc import Callable, Sequence

import torch

from ntkviz.errors import DivergenceError
from ntkviz.nets import Ensemble

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
    ensemble: Ensemble, params: Sequence[torch.Tensor], x: torch.Tensor, with_output: bool = False
):
    """For each dense layer l: (h_{l-1}, delta_l), both (K, N, fan): the layer's input and
    d f / d z_l, the output's derivative with respect to the layer's pre-activation
    (and, if ``with_output``, the raw nets' outputs (K, N) first)."""
    spec = ensemble.spec
    count = params[0].shape[0]
    step = 2 if spec.bias else 1
    layers = len(spec.layer_sizes)
    scales = spec.layer_scales()
    ntk = spec.parameterization == "ntk"
    h = x.to(params[0].dtype).reshape(1, -1, 1).expand(count, -1, 1)
    inputs, slopes = [], []  # slopes[l] = act'(z_l) for the hidden layers
    for j in range(layers):
        weight = params[step * j]
        inputs.append(h)
        if ntk:  # as Ensemble.forward_raw: the multipliers as baddbmm's alpha and beta
            w_mult, b_mult = scales[j]
            bias = params[step * j + 1].unsqueeze(1) if spec.bias else h.new_zeros(())
            z = torch.baddbmm(
                bias, h, weight.transpose(1, 2), beta=b_mult if spec.bias else 0.0, alpha=w_mult
            )
        elif spec.bias:
            z = torch.baddbmm(params[step * j + 1].unsqueeze(1), h, weight.transpose(1, 2))
        else:
            z = torch.bmm(h, weight.transpose(1, 2))
        if j < layers - 1:
            h = ensemble.activation(z)
            slopes.append(_derivative(spec.activation, ensemble.activation, z, h))
    # Backward: delta_L = 1; delta_l = c_{l+1} (delta_{l+1} W_{l+1}) * act'(z_l).
    delta = torch.ones(count, h.shape[1], 1, dtype=h.dtype, device=h.device)
    deltas = [delta]
    for j in range(layers - 2, -1, -1):
        w_mult = scales[j + 1][0]
        back = torch.bmm(delta, params[step * (j + 1)])
        delta = (back * w_mult if w_mult != 1.0 else back) * slopes[j]
        deltas.append(delta)
    deltas.reverse()
    features = list(zip(inputs, deltas, strict=True))
    return (z.squeeze(-1), features) if with_output else features


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
    out: Sequence[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Each member's loss ``L_k = mean_i (f_k(x_i) - y_i)^2 / alpha_k^2`` (K,) and the gradient of
    sum_k L_k for every stacked parameter, by the same layer-wise backward pass as the kernel:
    ``dL/dW_l = c_l sum_i r_i delta_l(x_i) h_{l-1}(x_i)^T``, ``dL/db_l = s_l sum_i r_i delta_l(x_i)``
    with ``r_i = dL/dnet(x_i) = 2 (f(x_i) - y_i) / (N alpha)`` and (c_l, s_l) the layer's
    multipliers (1, 1 in the standard parameterisation; :meth:`NetSpec.layer_scales`). Equal to autograd's, without its graph
    (a drop-in ``gradient`` for :func:`ntkviz.dynamics.train`). ``out``: tensors shaped like
    params to write the gradient into (see :class:`MseGradient`).
    """
    with torch.no_grad():
        raw, features = _layer_features(ensemble, params, x_train, with_output=True)
        offset = ensemble.offset(x_train)
        if offset is not None:
            raw = raw - offset
        alpha = output_scale(ensemble).unsqueeze(1)
        error = alpha * raw - y_train
        loss = (error * error).mean(dim=1) / (alpha * alpha).squeeze(1)
        residual = (error * (2.0 / x_train.shape[0]) / alpha).unsqueeze(-1)  # (K, N, 1)
        grads: list[torch.Tensor] = []
        for (h, delta), (w_mult, b_mult) in zip(
            features, ensemble.spec.layer_scales(), strict=True
        ):
            weighted = delta * residual
            buffer = None if out is None else out[len(grads)]
            if w_mult != 1.0:  # c_l as baddbmm's alpha (beta=0 ignores the input)
                start = h.new_zeros(()) if buffer is None else buffer
                grads.append(
                    torch.baddbmm(
                        start, weighted.transpose(1, 2), h, beta=0.0, alpha=w_mult, out=buffer
                    )
                )
            else:
                grads.append(torch.bmm(weighted.transpose(1, 2), h, out=buffer))
            if ensemble.spec.bias:
                buffer = None if out is None else out[len(grads)]
                grad = torch.sum(weighted, dim=1, out=buffer)
                grads.append(grad.mul_(b_mult) if b_mult != 1.0 else grad)
    return loss, grads


class MseGradient:
    """:func:`mse_loss_and_gradient` writing into buffers it keeps between calls.

    For wide nets the gradient is mostly (K, m, m) matrices; allocating them afresh every step
    costs more than computing them (fresh pages from the OS), so one set is reused. The returned
    tensors are overwritten by the next call: use them before calling again (train() does).
    """

    def __init__(self) -> None:
        self._buffers: list[torch.Tensor] | None = None

    def __call__(
        self,
        ensemble: Ensemble,
        params: Sequence[torch.Tensor],
        x_train: torch.Tensor,
        y_train: torch.Tensor,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if self._buffers is None or any(
            b.shape != p.shape or b.dtype != p.dtype or b.device != p.device
            for b, p in zip(self._buffers, params, strict=True)
        ):
            self._buffers = [torch.empty_like(p) for p in params]
        return mse_loss_and_gradient(ensemble, params, x_train, y_train, out=self._buffers)


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
            f"the tangent kernel of net {k} is not finite (NaN or infinity): "
            f"training diverged; try a smaller --lr"
        )
