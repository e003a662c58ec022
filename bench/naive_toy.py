"""The naive reference for ``toy-model``: what the original notebook did, kept on purpose.

For every alpha: a new pyplot figure under global rcParams, the model and its tangent line (the
slope by torch autograd, every frame), ``savefig`` to a PNG, read back with imageio, close; then
all frames collected and written by ``imageio.mimsave`` with its defaults. Do not "fix" this: it is
the baseline ``bench_toy`` measures ntkviz against. The curves come from :func:`ntkviz.numerics.toy.toy_model`,
so both sides draw the same numbers at the same frame size (no ``bbox_inches="tight"``).
"""

from __future__ import annotations

import time
from pathlib import Path

import imageio
import matplotlib
import numpy as np
import torch

from bench.common import save_and_read
from ntkviz.figures.toy_model import ToyModelConfig
from ntkviz.numerics.toy import toy_model

POST_W_HALF_RANGE = 3.0  # the post's view: w in [w0 - 3, w0 + 3], f in [-7, 7]
POST_F_LIMITS = (-7.0, 7.0)


def naive_toy_gif(
    path: Path,
    workdir: Path,
    config: ToyModelConfig = ToyModelConfig(),
    size: tuple[float, float] = (12.0, 9.0),
    dpi: float = 72.0,
    font_size: float = 20.0,
    line_width: float = 3.0,
) -> dict[str, float]:
    """Write the toy-model GIF to ``path`` the notebook's way; PNG frames go to ``workdir``.

    Returns seconds spent in each step: {"plot": ..., "savefig": ..., "imread": ..., "mimsave": ...}.
    """
    import matplotlib.pyplot as plt

    seconds = {"plot": 0.0, "savefig": 0.0, "imread": 0.0, "mimsave": 0.0}
    # rc_context only so that the benchmark leaves the process as it found it; inside, the
    # settings are global rcParams, as in the notebook.
    with matplotlib.rc_context():
        plt.rcParams["font.size"] = font_size
        plt.rcParams["lines.linewidth"] = line_width

        x, w0 = config.x, config.w0
        # the post's fixed view (ours now measures w in units of 1/alpha around w0)
        w_half_range, f_limits = POST_W_HALF_RANGE, POST_F_LIMITS
        alphas = np.logspace(np.log10(config.alpha_min), np.log10(config.alpha_max), config.frames)
        ws = torch.linspace(
            w0 - w_half_range, w0 + w_half_range, config.points, dtype=torch.float64
        )
        frames = []
        for i, alpha in enumerate(alphas):
            t0 = time.perf_counter()
            w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
            f_w0 = toy_model(w, x, w0, float(alpha))
            f_w0.backward()
            slope = w.grad.item()
            actual = toy_model(ws, x, w0, float(alpha)).numpy()
            linearized = f_w0.item() + slope * (ws.numpy() - w0)

            plt.figure(figsize=size, dpi=dpi)
            plt.plot(ws.numpy(), actual, color="tab:blue", label="Actual model")
            plt.plot(ws.numpy(), linearized, color="tab:red", label="Linearized model")
            plt.plot([w0], [0.0], "o", color="tab:green", markersize=12, zorder=5)
            plt.xlim(w0 - w_half_range, w0 + w_half_range)
            plt.ylim(*f_limits)
            plt.xlabel("$w$")
            plt.ylabel(f"$f(x={x:g}, w)$")
            plt.title(rf"$\alpha$ = {alpha:.3g}")
            plt.legend(loc="upper left")
            plt.grid(True)
            seconds["plot"] += time.perf_counter() - t0
            frames.append(save_and_read(workdir / f"frame_{i:03d}.png", seconds))

        t0 = time.perf_counter()
        imageio.mimsave(path, frames, duration=100, loop=0)
        seconds["mimsave"] = time.perf_counter() - t0
    return seconds
