"""The pipeline's own pieces: what the player shows beside the frames."""

from __future__ import annotations

import numpy as np

from ntkviz.pipeline import frame_labels


def test_player_step_labels_come_from_the_result():
    """Figures whose Result has snapshot steps show them: one per frame, or one more."""
    from types import SimpleNamespace

    renderer = SimpleNamespace(count=3, order=[0, 1, 2, 2])
    same = SimpleNamespace(steps=np.array([0, 40, 80]))
    more = SimpleNamespace(steps=np.array([0, 40, 80, 120]))
    assert frame_labels(same, renderer) == ["step 0", "step 40", "step 80", "step 80"]
    assert frame_labels(more, renderer)[0] == "step 40"
    assert frame_labels(SimpleNamespace(), renderer) is None
