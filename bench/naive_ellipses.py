"""The naive reference for ``ntk-ellipses``: the original notebook's way, kept on purpose.

Each net is its own ``nn.Sequential`` wrapped in the notebook's ``ZeroOutput`` and ``Scale``
modules and trained alone with ``torch.optim.SGD``; every 20 steps the model is written with
``torch.save``. Then, for every frame, each net's snapshot is read back with ``torch.load``, its
outputs and functions evaluated, and its 2 x 2 kernel computed by the notebook's per-sample loop
(one ``backward`` per input, gradients concatenated, then ``J J^T``). Each frame is a new pyplot
figure under global rcParams, saved to PNG and read back; finally ``imageio.mimsave``. Do not
"fix" this: it is the baseline ``bench_ellipses`` measures ntkviz against. Both sides draw the same
things at the same frame size.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import imageio
import matplotlib
import numpy as np
import torch
from torch import nn

from bench.common import save_and_read
from ntkviz.figures.ntk_ellipses import NtkEllipsesConfig

SAVE_EVERY = 20  # the notebook's snapshot interval


class ZeroOutput(nn.Module):
    """The notebook's zeroed output: subtract a frozen copy taken at initialisation."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.init_model = [copy.deepcopy(model).eval()]  # a list hides its parameters
        self.model = model

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        return self.model(inp) - self.init_model[0](inp)


class Scale(nn.Module):
    def __init__(self, model: nn.Module, alpha: float) -> None:
        super().__init__()
        self.model = model
        self.alpha = alpha

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        return self.alpha * self.model(inp)


def naive_ntk(model: nn.Module, inp: torch.Tensor) -> torch.Tensor:
    """The notebook's tangent kernel: one backward per input, gradients as rows, ``F F^T``."""
    out = model(inp)
    p_vec = nn.utils.parameters_to_vector(model.parameters())
    (p,) = p_vec.shape
    batch, outdim = out.shape
    assert outdim == 1, "cant handle higher output dim than 1 for now"
    features = torch.zeros(batch, p, requires_grad=False, dtype=out.dtype)
    for i in range(batch):
        model.zero_grad()
        out[i].backward(retain_graph=True)
        p_grad = torch.tensor([], requires_grad=False, dtype=out.dtype)
        for q in model.parameters():
            p_grad = torch.cat((p_grad, q.grad.reshape(-1)))
        features[i, :] = p_grad
    return features @ features.t()


def simple_net(width: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(1, width), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.ReLU()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def naive_ellipses_gif(
    path: Path,
    workdir: Path,
    config: NtkEllipsesConfig = NtkEllipsesConfig(),
    size: tuple[float, float] = (18.0, 8.0),
    dpi: float = 72.0,
    font_size: float = 20.0,
    line_width: float = 3.0,
) -> dict[str, float]:
    """Write the ntk-ellipses GIF to ``path`` the notebook's way; models and PNGs go to ``workdir``.

    Returns seconds spent in each step: train (with the torch.save calls), frames (torch.load,
    kernels, functions), plot, savefig, imread, mimsave.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    seconds = dict.fromkeys(("train", "frames", "plot", "savefig", "imread", "mimsave"), 0.0)
    xin = torch.tensor(config.x_train).unsqueeze(1)
    yin = torch.tensor(config.y_train).unsqueeze(1)
    xgrid = torch.linspace(*config.x_limits, config.points).unsqueeze(1)
    interval, frames_count = config.interval, config.frame_count
    save_every = math.gcd(SAVE_EVERY, interval)

    t0 = time.perf_counter()
    for k, alpha in enumerate(config.alphas):
        torch.manual_seed(k)
        f1 = simple_net(config.width, config.depth)
        f = Scale(ZeroOutput(f1), alpha)
        opt = torch.optim.SGD(f.parameters(), lr=config.lr)
        for step in range(config.steps + 1):
            if step % save_every == 0:
                torch.save(f, workdir / f"net{k}_step{step}.pt")
            if step == config.steps:
                break
            loss = 1 / alpha**2 * nn.MSELoss()(f(xin), yin)
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds["train"] = time.perf_counter() - t0

    colors = [
        matplotlib.colormaps["plasma"](0.05 + 0.8 * i / max(len(config.alphas) - 1, 1))
        for i in range(len(config.alphas))
    ]
    trails: list[list[np.ndarray]] = [[np.zeros(2)] for _ in config.alphas]
    frames = []
    with matplotlib.rc_context():
        plt.rcParams["font.size"] = font_size
        plt.rcParams["lines.linewidth"] = line_width
        plt.rcParams["axes.grid"] = True
        for i in range(1, frames_count + 1):
            t0 = time.perf_counter()
            step = i * interval
            kernels, functions = [], []
            for k, alpha in enumerate(config.alphas):
                f = torch.load(workdir / f"net{k}_step{step}.pt", weights_only=False)
                trails[k].append(f(xin).detach().numpy().reshape(-1))
                kernels.append(naive_ntk(f, xin).numpy() / alpha**2)
                functions.append(f(xgrid).detach().numpy().reshape(-1))
            t1 = time.perf_counter()
            plt.figure(figsize=size, dpi=dpi)
            plt.subplot(1, 2, 1)
            for k, alpha in enumerate(config.alphas):
                pts = np.array(trails[k])
                plt.plot(pts[:, 0], pts[:, 1], "o", color=colors[k], label=rf"$\alpha$ = {alpha:g}")
                lam, vec = np.linalg.eigh(kernels[k])
                angle = np.degrees(np.arctan2(vec[1, 0], vec[0, 0]))
                plt.gca().add_patch(
                    Ellipse(
                        config.y_train,
                        2 * config.ellipse_scale / np.sqrt(lam[0]),
                        2 * config.ellipse_scale / np.sqrt(lam[1]),
                        angle=angle,
                        fill=False,
                        color=colors[k],
                    )
                )
            plt.plot([config.y_train[0]], [config.y_train[1]], "*", color="red", markersize=15)
            plt.axis("equal")
            plt.legend(loc="lower left")
            plt.subplot(1, 2, 2)
            for k in range(len(config.alphas)):
                plt.plot(xgrid.numpy(), functions[k], color=colors[k])
            plt.scatter(config.x_train, config.y_train, color="red", s=80)
            plt.xlim(*config.x_limits)
            plt.ylim(*config.y_limits)
            plt.suptitle(f"step {step}")
            seconds["frames"] += t1 - t0
            seconds["plot"] += time.perf_counter() - t1
            frames.append(save_and_read(workdir / f"frame_{i:04d}.png", seconds))
    t0 = time.perf_counter()
    imageio.mimsave(path, frames, duration=100, loop=0)
    seconds["mimsave"] = time.perf_counter() - t0
    return seconds
