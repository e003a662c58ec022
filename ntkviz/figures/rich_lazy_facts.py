"""rich-lazy's facts: the numbers its caption, reading and sweep panel say of a run (how far
each regime's weights and kernel moved, the sweep's slopes against alpha with their spread over
the nets fitted alone), from its Result and Config."""

from __future__ import annotations

from typing import Any

import numpy as np

from ntkviz.figures.common import log_log_fit, slope_facts


def facts(result: Any, config: Any) -> dict:
    big = result.sweep >= 1.0
    use = big if big.sum() >= 2 else np.ones_like(big)
    return {
        "width": int(result.units.shape[-1]),
        "lazy_alpha": float(result.alphas[0]),
        "rich_alpha": float(result.alphas[1]),
        "steps": int(result.steps[-1]),
        "lazy_moved": float(result.moved[-1, 0]),
        "rich_moved": float(result.moved[-1, 1]),
        "lazy_kernel": float(result.kernel[-1, 0]),
        "rich_kernel": float(result.kernel[-1, 1]),
        "lazy_mse_over_alpha2": float(result.loss[-1, 0]),
        "rich_mse_over_alpha2": float(result.loss[-1, 1]),
        "fit_text": "both fit the data"
        if max(result.loss[-1] * result.alphas**2) < 1e-3
        else "not every net fits the data yet",
        "lazy_train_mse": float(result.loss[-1, 0] * result.alphas[0] ** 2),
        "rich_train_mse": float(result.loss[-1, 1] * result.alphas[1] ** 2),
        "moved_ratio": float(result.moved[-1, 1] / result.moved[-1, 0]),
        "kernel_ratio": float(result.kernel[-1, 1] / result.kernel[-1, 0]),
        "moved_slope": log_log_fit(result.sweep[use], result.sweep_moved[use], log=np.log)[0],
        "kernel_slope": log_log_fit(result.sweep[use], result.sweep_kernel[use], log=np.log)[0],
        **_sweep_texts(result, use),
        "fit_from": float(result.sweep[use].min()),
        "n_train": len(result.x_train),
        "given": " given" if config.x_train else "",
        "sweep_points": int(config.sweep_points),
    }


def _sweep_texts(result: Any, use: np.ndarray) -> dict[str, str]:
    """The sweep's two slopes with their spread over the nets fitted alone, and verdicts."""
    out, nets = {}, result.sweep_moved_nets.shape[0]
    for name, median, each, theory, text in (
        ("moved", result.sweep_moved, result.sweep_moved_nets, -1.0, "-1"),
        ("kernel", result.sweep_kernel, result.sweep_kernel_nets, -0.5, "-1/2"),
    ):
        slope = log_log_fit(result.sweep[use], median[use], log=np.log)[0]
        draws = [log_log_fit(result.sweep[use], e[use], log=np.log)[0] for e in each]
        out[f"{name}_text"], out[f"{name}_verdict"] = slope_facts(
            slope, draws, theory, text, "nets fitted alone"
        )
    out["sweep_nets"] = nets
    return out
