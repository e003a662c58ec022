"""Pacing as a measured property of an animation.

An animation teaches when every second of its loop shows something: the visible change should
be spread over the frames, not spent in one flash and followed by a long still. This module
measures that from the frames themselves (RGBA arrays, as :meth:`ntkviz.Animation.frames` gives
them or as decoded from a GIF):

* the per-frame share of visible change: the pixels of frame i that differ from frame i - 1 by
  more than :data:`THRESHOLD` (0-255, in any channel), as a share of those counts summed over the
  animation (the end hold excluded);
* the largest one-frame share;
* the longest run of near-static frames (a frame whose change is below :data:`STATIC` times the
  animation's mean change per frame), as a fraction of the animation's frames. The end hold and
  an opening hold (frames identical to the first, drawn on purpose) are left out of the runs.

:func:`pacing_problems` states the limits the project holds its figures to (see DESIGN.md, "Time
and the regime as axes") as one line per problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: A pixel changed visibly when a channel moved by more than this (0-255): anti-aliasing noise
#: and colour quantisation (a GIF's palette) stay below it.
THRESHOLD = 8
#: A frame is near-static when its change is below this fraction of the mean change per frame
#: (a step counter, a curve growing by a pixel). Calibrated on the gallery as built on linear
#: clocks: at 0.3 its linearized (39% of the frames in one near-static run), posterior (32%) and
#: rich-lazy (25%) fail, as they looked; their log-clock renders stay under 7%.
STATIC = 0.3
#: No frame may hold more than this share of the visible change ...
MAX_SHARE = 0.20
#: ... unless the animation has fewer frames than this (then one frame is a large share anyway;
#: such short animations step through a few widths at 1-2 fps, each frame a deliberate step, and
#: are held to no static-run limit either: against their large first steps the last widths'
#: frames measure "near-static" while they add a dot and a fit line).
MIN_FRAMES_FOR_SHARE = 12
#: No run of near-static frames may last longer than this fraction of the animation.
MAX_STATIC_RUN = 0.15
#: A gallery animation's loop (every frame and the end hold) lasts at least and at most this many
#: seconds: shorter is a flash, longer outstays a reader scrolling past.
LOOP_S = (5.0, 20.0)


@dataclass(frozen=True)
class Pacing:
    """changed (n,): changed pixels of each frame against the one before (changed[0] = 0);
    share (n,): each frame's share of all the change; frames: frames measured (end hold left
    out); opening: frames identical to the first (an opening hold); largest: the largest share and
    its frame; static_run: the longest near-static run as a fraction of ``frames``, its start
    frame and its length in frames."""

    changed: np.ndarray
    share: np.ndarray
    frames: int
    opening: int
    largest: float
    largest_at: int
    static_run: float
    static_start: int
    static_length: int

    def summary(self) -> str:
        return (
            f"{self.frames} frames, largest one-frame share {self.largest:.0%} (frame "
            f"{self.largest_at}), longest near-static run {self.static_run:.0%} "
            f"({self.static_length} frames from frame {self.static_start}), "
            f"opening hold {self.opening} frames"
        )


def changed_pixels(before: np.ndarray, after: np.ndarray, threshold: int = THRESHOLD) -> int:
    """How many pixels differ by more than ``threshold`` in any channel."""
    if before.shape != after.shape:
        return int(np.prod(after.shape[:2]))  # a new size: everything changed
    diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=-1)
    return int(np.count_nonzero(diff > threshold))


def measure(frames: Iterable[np.ndarray], hold_frames: int = 0) -> Pacing:
    """The pacing of an animation whose last ``hold_frames`` frames are the end hold (copies of
    the last drawn frame, left out of the measure)."""
    frames = list(frames)
    if hold_frames:
        frames = frames[: max(len(frames) - int(hold_frames), 1)]
    n = len(frames)
    changed = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        if frames[i] is not frames[i - 1]:  # a repeated frame (a GIF's delay) changes nothing
            changed[i] = changed_pixels(frames[i - 1], frames[i])
    total = int(changed.sum())
    share = changed / total if total else np.zeros(n)
    opening = 1
    while opening < n and changed[opening] == 0:
        opening += 1
    largest_at = int(share.argmax()) if n > 1 else 0
    # near-static frames after the opening hold: their change is small against the mean change
    mean = total / max(n - 1, 1)
    static = changed < STATIC * mean
    static[:opening] = False
    best, best_start, run, start = 0, 0, 0, 0
    for i in range(n):
        if static[i]:
            if run == 0:
                start = i
            run += 1
            if run > best:
                best, best_start = run, start
        else:
            run = 0
    return Pacing(
        changed=changed,
        share=share,
        frames=n,
        opening=opening,
        largest=float(share[largest_at]) if n > 1 else 0.0,
        largest_at=largest_at,
        static_run=best / n if n else 0.0,
        static_start=best_start,
        static_length=best,
    )


def pacing_problems(
    frames: Iterable[np.ndarray], fps: float, hold_frames: int = 0, opening_s: float = 0.0
) -> list[str]:
    """Pacing problems of an animation, one line each (none: it is well paced): one frame holding
    more than :data:`MAX_SHARE` of the visible change and a near-static run longer than
    :data:`MAX_STATIC_RUN` of the animation (the end hold left out), both for animations of at
    least :data:`MIN_FRAMES_FOR_SHARE` frames; and an opening shown for less than ``opening_s``."""
    pacing = measure(frames, hold_frames)
    problems = []
    if pacing.frames >= MIN_FRAMES_FOR_SHARE and pacing.largest > MAX_SHARE:
        problems.append(
            f"pacing: frame {pacing.largest_at} holds {pacing.largest:.0%} of the visible change "
            f"(at most {MAX_SHARE:.0%}): spread the motion over more frames (log time)"
        )
    if pacing.frames >= MIN_FRAMES_FOR_SHARE and pacing.static_run > MAX_STATIC_RUN:
        seconds = pacing.static_length / fps
        problems.append(
            f"pacing: {pacing.static_length} near-static frames ({seconds:.1f} s, "
            f"{pacing.static_run:.0%} of the animation) from frame {pacing.static_start} "
            f"(at most {MAX_STATIC_RUN:.0%})"
        )
    if opening_s and pacing.opening / fps < opening_s - 1e-9:
        problems.append(
            f"pacing: the first frame is shown {pacing.opening / fps:.1f} s "
            f"(at least {opening_s:g} s)"
        )
    return problems


def gif_frames(path: Path, fps: float) -> list[np.ndarray]:
    """A GIF's frames as RGBA arrays, each repeated for as many frames at ``fps`` as its delay
    lasts (GIF writers merge identical consecutive frames into one longer frame)."""
    from PIL import Image, ImageSequence

    frames: list[np.ndarray] = []
    with Image.open(path) as image:
        for frame in ImageSequence.Iterator(image):
            rgba = np.asarray(frame.convert("RGBA"))
            duration = frame.info.get("duration", 1000.0 / fps) / 1000.0
            frames.extend([rgba] * max(int(round(duration * fps)), 1))
    return frames


def held(frames: Sequence[np.ndarray]) -> int:
    """How many frames at the end repeat the last one exactly (the end hold, as drawn)."""
    n = 0
    while n + 1 < len(frames) and np.array_equal(frames[-1 - n - 1], frames[-1]):
        n += 1
    return n


#: Figures whose first frame must stay up a while (seconds): init-functions' step 0 is the post's
#: whole first figure.
OPENING_S = {"init-functions": 1.0}


def loop_problems(seconds: float) -> list[str]:
    """A loop outside :data:`LOOP_S`, as one line (none: inside)."""
    low, high = LOOP_S
    if low - 1e-9 <= seconds <= high + 1e-9:
        return []
    return [f"pacing: the loop lasts {seconds:.1f} s ({low:g}-{high:g} s)"]


def gif_problems(path: Path, sidecar: dict) -> list[str]:
    """Pacing problems of a built GIF (for ``gallery.validate``), from its sidecar's fps and end
    hold (seconds), and a loop outside :data:`LOOP_S` (at the post's settings, not --quick); none
    for a GIF without them or one that does not decode (reported apart)."""
    fps, hold = sidecar.get("fps"), sidecar.get("hold")
    if not isinstance(fps, (int, float)) or not isinstance(hold, (int, float)) or fps <= 0:
        return []
    try:
        frames = gif_frames(path, float(fps))
    except Exception:  # noqa: BLE001 - a GIF that does not decode is reported by its own check
        return []
    opening = OPENING_S.get(str(sidecar.get("figure")), 0.0)
    problems = pacing_problems(frames, float(fps), int(round(hold * fps)), opening_s=opening)
    if sidecar.get("quick"):  # a --quick preview is short by design: its loop is not held
        return problems
    return problems + loop_problems(len(frames) / float(fps))
