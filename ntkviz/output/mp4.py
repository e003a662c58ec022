"""MP4: H.264 by the ffmpeg that imageio-ffmpeg ships, and a check that a written file decodes."""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path

import numpy as np

from ntkviz.errors import NtkvizError, quoted
from ntkviz.output.frames import FrameSource, rgb
from ntkviz.runtime.lifecycle import child_preexec


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """Pad (never stretch) to even height and width, as yuv420p needs, with the edge colour."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_mp4(
    tmp: Path, source: FrameSource, fps: float, advance, target: Path | None = None
) -> tuple[int, int]:
    """H.264 by the ffmpeg imageio-ffmpeg ships, fed raw frames on a pipe (the same command
    imageio runs), driven here so that its exit status is checked: an ffmpeg that dies (killed,
    out of space, past the file-size limit) is an error, never a file. ffmpeg dies with us."""
    import subprocess

    import imageio_ffmpeg

    first = _pad_even(np.ascontiguousarray(rgb(source.frame(0))))
    height, width = first.shape[:2]
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-f", "rawvideo",
        "-vcodec", "rawvideo",
        "-s", f"{width}x{height}",
        "-pix_fmt", "rgb24",
        "-r", f"{fps:.02f}",
        "-i", "-",
        "-an",
        "-vcodec", "libx264",
        "-pix_fmt", "yuv420p",
        "-v", "error",
        "-crf", "18",
        "-preset", "medium",
        "-movflags", "+faststart",
        str(tmp),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=child_preexec,  # noqa: PLW1509 - only setpgrp and prctl
        )
        try:
            try:
                for i in range(source.count):
                    frame = (
                        first if i == 0 else _pad_even(np.ascontiguousarray(rgb(source.frame(i))))
                    )
                    process.stdin.write(frame.tobytes())
                    advance(1)
                process.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass  # ffmpeg went away: its exit status says why
            status = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if status != 0:
            log.seek(0)
            lines = [ln for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
            raise NtkvizError(
                f"ffmpeg failed encoding {quoted(target or tmp)}: {_exit_reason(status, lines)}"
            )
    return height, width


def _exit_reason(status: int, lines: list[str]) -> str:
    """'killed by SIGXFSZ (the file size limit was reached)' or ffmpeg's last line."""
    import signal

    if status < 0:
        name = signal.Signals(-status).name
        why = {
            "SIGXFSZ": " (the file size limit was reached)",
            "SIGKILL": " (killed; out of memory?)",
        }.get(name, "")
        return f"killed by {name}{why}"
    return f"exit status {status}" + (f": {lines[-1].strip()}" if lines else "")


def probe_mp4(path: Path) -> tuple[int, int, int]:
    import subprocess

    import imageio_ffmpeg

    run = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
        + ["-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
        capture_output=True,
        preexec_fn=child_preexec,  # noqa: PLW1509
    )
    text = run.stderr.decode(errors="replace")
    if run.returncode != 0:
        last = [ln for ln in text.splitlines() if ln.strip()][-1:] or [""]
        raise NtkvizError(f"the MP4 {quoted(path.name)} does not decode: {last[0].strip()}")
    size = re.search(r"Video: .*?(\d{2,})x(\d{2,})", text)
    counts = re.findall(r"frame=\s*(\d+)", text)
    if not size or not counts:
        raise NtkvizError(f"the MP4 {quoted(path.name)} holds no video")
    return int(counts[-1]), int(size.group(1)), int(size.group(2))
