"""Caption text that a figure's facts() assemble from its result: how a distance went over
training, what the training data are, how an ellipse changed size, what a sweep of a net and
its linearisation found. Each takes numbers (or a result's fields) and returns text; none draws.

A figure imports from here (as from common), never from another figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ntkviz.figures.common import by_width_text

# -- generalization: nets' distances from the kernel predictions over training ---------------------


def _steps_text(steps: np.ndarray) -> str:
    low, high = int(steps.min()), int(steps.max())
    return f"step {low}" if low == high else f"steps {low} to {high}"


def distance_course(widths: np.ndarray, steps: np.ndarray, distance: np.ndarray) -> tuple:
    """(start sentence, course): where the nets' mean's ``distance`` (T, W) over training
    ``steps`` (T,) started, per width, and whether it rose early and settled at a gap or did not
    vanish."""
    peak = distance.argmax(axis=0)
    start = distance[0]
    if np.all(start == 0):
        start_sentence = (
            "Nets and kernels start from the same zero function, so the distances start at 0"
        )
    else:
        start_sentence = (
            f"The mean's distance starts at {by_width_text(widths, start)} (the nets' "
            f"initial functions)"
        )
    peaked = (peak < len(steps) - 1) & (distance[-1] < distance.max(axis=0))
    if peaked.all():
        course = (
            f"rise early in training (the mean's distance peaks at "
            f"{by_width_text(widths, distance.max(axis=0))}, at "
            f"{_steps_text(steps[peak])}) and then settle "
            f"at a finite-width gap instead of vanishing"
        )
    else:
        course = "do not vanish as training goes on"
    return start_sentence, course


def data_text(n: int, given: bool, target: str, noise: float) -> str:
    """The ``n`` training points: ``given`` explicitly, or of the ``target`` function (drawn
    grey), with Gaussian noise of sd ``noise``."""
    if given:
        return f"{n} given points"
    elif noise > 0:
        return f"{n} points of the true function ({target}, grey) with noise sd {noise:g}"
    else:
        return f"{n} points of the true function ({target}, grey)"


# -- ntk-ellipses: a kernel's relative change and its ellipse's size -------------------------------


def format_change(value: float) -> str:
    """A relative change for the picture and the caption: 2 significant digits, no exponent."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def size_phrases(size: float, dot: float) -> tuple[str, str]:
    """(phrase, verb): how an ellipse changed, ``size`` its size over its initial one; under
    ``dot`` it is a dot under the target's star."""
    if size < dot:
        phrase = (
            f"its kernel grows so much that its ellipse shrinks to {size:.0%} of its "
            "initial size, a dot under the star"
        )
    elif size < 1:
        phrase = f"its ellipse shrinks to {size:.0%} of its initial size"
    else:
        phrase = f"its ellipse grows to {size:.0%} of its initial size"
    verb = "shrinks to a dot" if size < dot else ("shrinks" if size < 1 else "grows")
    return phrase, verb


# -- linearized: how far apart a net and its linearisation get against alpha or width ----------


def sweep_facts(result: Any) -> dict:
    """The sweep's fitted slopes and range, for the caption (NaN without a sweep)."""
    values = result.sweep_values
    return {
        "trajectory_slope": result.trajectory_slope,
        "function_slope": result.function_slope,
        "theory_slope": result.theory_slope,
        "sweep_low": float(values.min()) if len(values) else float("nan"),
        "sweep_high": float(values.max()) if len(values) else float("nan"),
    }


def sweep_sentences(result: Any, out: dict, relu: bool) -> tuple[str, str]:
    """(the caption's sentence on the sweep, the reading's clause), both empty without a sweep;
    ``out`` holds :func:`sweep_facts`' numbers; ``relu``: the nets' activation is ReLU."""
    if result.sweep == "none" or not len(result.sweep_values):
        sentence = ""
    else:
        name = "alpha" if result.sweep == "alpha" else "the width"
        sentence = (
            f" Right, over {name} from {out['sweep_low']:g} to {out['sweep_high']:g} (median of "
            f"{result.trajectory_distance.shape[1]} nets each): the largest gap at the data falls "
            f"with log-log slope {out['trajectory_slope']:.2f} (theory {out['theory_slope']:g}); "
            f"the gap between their functions over x after training falls with slope "
            f"{out['function_slope']:.2f}"
            + (" (ReLU's kinks move with the weights)." if relu else ".")
        )
    reading = (
        ""
        if not sentence
        else f"; the gap falls with slope {out['trajectory_slope']:.2f} against {result.sweep}"
    )
    return sentence, reading
