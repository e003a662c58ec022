"""Naive references for ``init-functions`` and ``weight-matrix``: the original notebook's way, on purpose.

Every net is its own ``nn.Sequential`` with its own ``torch.optim.SGD``, trained one at a time;
every frame is a new pyplot figure under global rcParams, saved to a PNG, read back with imageio
and closed; ``imageio.mimsave`` writes the GIF at the end with its defaults. Do not "fix" this:
it is the baseline the benches measure ntkviz against. The nets start from the same weights as
ntkviz's ensembles (:meth:`ntkviz.numerics.nets.Ensemble.member_modules`), so both sides draw the same
numbers at the same frame size and frame count.
"""

from __future__ import annotations

import time
from pathlib import Path

import imageio
import matplotlib
import torch

from bench.common import save_and_read
from ntkviz.figures.init_functions import InitFunctionsConfig
from ntkviz.figures.weight_matrix import WeightMatrixConfig
from ntkviz.numerics.nets import Ensemble


def _style(font_size: float, line_width: float) -> None:
    import matplotlib.pyplot as plt

    plt.rcParams["font.size"] = font_size
    plt.rcParams["lines.linewidth"] = line_width


def naive_init_functions_gif(
    path: Path,
    workdir: Path,
    config: InitFunctionsConfig = InitFunctionsConfig(),
    seed: int = 0,
    size: tuple[float, float] = (12.0, 9.0),
    dpi: float = 72.0,
    font_size: float = 20.0,
    line_width: float = 3.0,
) -> dict[str, float]:
    """The init-functions GIF the notebook's way: per frame, 100 ``plt.plot`` calls and a PNG
    round trip; between frames, 5 SGD steps on each net in turn.

    Returns seconds per step: {"train", "plot", "savefig", "imread", "mimsave"}.
    """
    import matplotlib.pyplot as plt

    seconds = dict.fromkeys(("train", "plot", "savefig", "imread", "mimsave"), 0.0)
    nets = Ensemble(config.net, config.count, seed).member_modules()
    optimisers = [torch.optim.SGD(net.parameters(), lr=config.lr) for net in nets]
    x = torch.tensor(config.x_train)[:, None]
    y = torch.tensor(config.y_train)[:, None]
    grid = torch.linspace(*config.x_range, config.points)[:, None]
    frames = []
    with matplotlib.rc_context():  # only to leave the process as found; inside: global rcParams
        _style(font_size, line_width)
        for i in range(config.frames + 1):  # the initial frame, then one per training frame
            t0 = time.perf_counter()
            plt.figure(figsize=size, dpi=dpi)
            for net in nets:
                with torch.no_grad():
                    plt.plot(grid.numpy(), net(grid).numpy(), linewidth=0.7 * line_width)
            plt.plot(config.x_train, config.y_train, "o", color="red", markersize=12)
            plt.xlim(*config.xlim)
            plt.ylim(*config.ylim)
            plt.xlabel("$x$")
            plt.ylabel("$f(x, w)$")
            plt.title(f"Width={config.width}")
            plt.text(
                1.0,
                1.01,
                f"step {i * config.steps_per_frame}",
                ha="right",
                va="bottom",
                transform=plt.gca().transAxes,
            )
            plt.grid(True)
            seconds["plot"] += time.perf_counter() - t0
            image = save_and_read(workdir / f"frame_{i:03d}.png", seconds)
            frames.extend([image] * (config.hold_first if i == 0 else 1))
            if i == config.frames:
                break
            t0 = time.perf_counter()
            for net, optimiser in zip(nets, optimisers, strict=True):
                for _ in range(config.steps_per_frame):
                    optimiser.zero_grad()
                    loss = ((net(x) - y) ** 2).mean()
                    loss.backward()
                    optimiser.step()
            seconds["train"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        imageio.mimsave(path, frames, duration=100, loop=0)
        seconds["mimsave"] = time.perf_counter() - t0
    return seconds


def naive_weight_matrix_gif(
    path: Path,
    workdir: Path,
    config: WeightMatrixConfig = WeightMatrixConfig(),
    seed: int = 0,
    size: tuple[float, float] = (16.0, 7.0),
    dpi: float = 72.0,
    font_size: float = 20.0,
    line_width: float = 3.0,
) -> dict[str, float]:
    """The weight-matrix GIF the notebook's way: one SGD step per net per frame, then a new figure
    with one ``plt.imshow`` of each full m x m hidden-to-hidden matrix (1000 x 1000 included),
    a colour bar each, and a PNG round trip. Nets stop once their loss is below --stop-below.

    Returns seconds per step: {"train", "plot", "savefig", "imread", "mimsave"}.
    """
    import matplotlib.pyplot as plt

    seconds = dict.fromkeys(("train", "plot", "savefig", "imread", "mimsave"), 0.0)
    nets = [Ensemble(config.net(width), 1, seed).member_modules()[0] for width in config.widths]
    optimisers = [torch.optim.SGD(net.parameters(), lr=config.lr) for net in nets]
    limits = [(net[2].weight.min().item(), net[2].weight.max().item()) for net in nets]
    done = [False] * len(nets)
    x = torch.tensor(config.x_train)[:, None]
    y = torch.tensor(config.y_train)[:, None]
    frames = []
    with matplotlib.rc_context():
        _style(font_size, line_width)
        for step in range(config.steps + 1):
            t0 = time.perf_counter()
            for k, (net, optimiser) in enumerate(zip(nets, optimisers, strict=True)):
                optimiser.zero_grad()
                loss = ((net(x) - y) ** 2).mean()
                if loss.item() < config.stop_below:
                    done[k] = True
                if done[k] or step == 0:
                    continue
                loss.backward()
                optimiser.step()
            seconds["train"] += time.perf_counter() - t0
            if step % config.snapshot_every and step != config.steps:
                continue
            t0 = time.perf_counter()
            plt.figure(figsize=size, dpi=dpi)
            for k, (net, width) in enumerate(zip(nets, config.widths, strict=True)):
                plt.subplot(1, len(nets), k + 1)
                plt.imshow(net[2].weight.detach().numpy(), vmin=limits[k][0], vmax=limits[k][1])
                plt.colorbar()
                plt.xticks([])
                plt.yticks([])
                plt.title(f"m = {width}")
            plt.suptitle(f"Weights between the hidden layers, W(n), step {step}")
            seconds["plot"] += time.perf_counter() - t0
            frames.append(save_and_read(workdir / f"frame_{step:05d}.png", seconds))
        t0 = time.perf_counter()
        imageio.mimsave(path, frames, duration=100, loop=0)
        seconds["mimsave"] = time.perf_counter() - t0
    return seconds
