"""kernel-spectrum's facts: the numbers its caption and reading say of a run (the eigenvalues'
error against width, which modes are learned, where the nets lag), from its Result and Config."""

from __future__ import annotations

from typing import Any

import numpy as np

from ntkviz.figures.common import group_slopes, lag_split, log_log_fit, slope_facts
from ntkviz.numerics.function_space import learned_modes

TOP = 8  # eigenvalues compared between the analytic and the empirical kernels


def eigenvalue_error(result: Any) -> np.ndarray:
    """Per width: RMS over its nets and the top 8 eigenvalues of the relative error
    lambda_emp / lambda - 1: (W,)."""
    top = min(TOP, len(result.eigenvalues))
    rel = result.empirical_eigenvalues[..., :top] / result.eigenvalues[:top] - 1
    return np.sqrt(np.mean(rel**2, axis=(1, 2)))


def facts(result: Any, config: Any) -> dict:
    widths = result.widths
    wide = int(np.argmax(widths))
    err = eigenvalue_error(result)
    modes = np.asarray(config.modes)
    theory_end = result.theory[-1, modes - 1]
    measured_end = result.ratio[-1, wide, modes - 1]
    has = np.isfinite(result.ratio[-1, wide])  # modes the targets have a component on
    ends = (
        np.where(has, result.theory[-1], np.nan),
        result.own_ratio[-1, wide],
        result.ratio[-1, wide],
    )
    learned = [float(learned_modes(r)) for r in ends]
    per_mode = "; ".join(
        f"mode {k}: {t:.2g} (theory) and {m:.2g} (nets)"
        if np.isfinite(m)
        else f"mode {k}: nothing to learn (the targets have no component on it)"
        for k, t, m in zip(modes, theory_end, measured_end, strict=True)
    )
    lag = [
        int(k)
        for k, t, m in zip(modes, theory_end, measured_end, strict=True)
        if np.isfinite(m) and abs(m) > max(2 * abs(t), 0.05)
    ]
    lag_text = (
        f"The nets lag the linear model on mode(s) {', '.join(map(str, lag))}: small eigenvalues "
        "are where a finite net's changing kernel shows."
        if lag
        else "The nets follow the linear model on every mode drawn."
    )
    slope = log_log_fit(widths, err, log=np.log)[0]
    top = min(TOP, len(result.eigenvalues))
    rel = result.empirical_eigenvalues[..., :top] / result.eigenvalues[:top] - 1
    each = group_slopes(widths, np.sqrt(np.mean(rel**2, axis=2)).T, 1)  # each net alone
    eig_text, slope_verdict = slope_facts(slope, each, -0.5, "-1/2", "nets fitted alone")
    k = np.nonzero(has)[0][:32]
    lags = lag_split(
        widths, result.own_ratio[-1][:, k], result.ratio[-1][:, k], result.theory[-1, k]
    )
    return {
        "points": int(has.sum()),
        "inputs": len(result.x),
        "data": _data(result, config),
        "widths": ", ".join(str(int(w)) for w in widths),
        "count": int(result.projections.shape[2]),
        "steps": int(result.steps[-1]),
        "lr": config.lr,
        "rate": result.rate,
        "lam_first": float(result.eigenvalues[0]),
        "lam_last": float(result.eigenvalues[-1]),
        "lam_ratio": float(result.eigenvalues[0] / result.eigenvalues[-1]),
        "eig_error_list": ", ".join(f"{e:.2g} (width {int(w)})" for w, e in zip(widths, err)),
        "eig_slope": slope,
        "eig_trend": (
            f", log-log slope {eig_text} against width ({slope_verdict})"
            if np.isfinite(slope)
            else ""
        ),
        "width_wide": int(widths[wide]),
        "drawn": ", ".join(str(k) for k in modes[: config.eigenfunctions]),
        "per_mode": per_mode,
        **dict(zip(("learned_theory", "learned_own", "learned_measured"), learned, strict=True)),
        "lag_text": lag_text,
        **lags,
    }


def _data(result: Any, config: Any) -> str:
    """What the inputs are: equally spaced, given, or given points of d coordinates."""
    if not config.y_train:
        return "equally spaced inputs"
    if result.x.ndim == 1:
        return "given inputs"
    return (
        f"given inputs of {result.x.shape[1]} coordinates (the eigenfunctions drawn at each "
        "input's position along their first principal direction)"
    )
