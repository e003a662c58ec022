"""The environment a computing command (a figure, ``rerun``, ``gallery``) runs in: the variables
torch's OpenMP and matplotlib read when they load, checked or set aside before they load (and
after the command's options were checked), so that a bad one is one line and a harmless one
prints nothing.

* OpenMP's variables (``OMP_NUM_THREADS``, ``OMP_PROC_BIND``, ...): libgomp prints a line for a
  value it cannot read and goes on without it. torch is imported here with that line caught, and
  the variable is refused (exit 2) by name: the user meant something by it.
* ``MPLBACKEND``: ntkviz draws on Agg canvases and never opens a window, so the variable means
  nothing to it, while matplotlib refuses to import at all with a name it does not know: set
  aside (also for the gallery's worker processes, which inherit this environment).
* ``MPLCONFIGDIR`` (or, without it, matplotlib's folders under ``XDG_CONFIG_HOME``,
  ``XDG_CACHE_HOME`` or ``HOME``): where matplotlib keeps its font cache. Where it cannot write
  there, matplotlib prints two lines and works in a temporary folder; ntkviz gives it one of its
  own instead, quietly (one font cache for the workers too), removed when the command ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from ntkviz.errors import ConfigError
from ntkviz.runtime import pins

#: libgomp's complaint about a variable, e.g. "libgomp: Invalid value for environment variable
#: OMP_NUM_THREADS" (or "Unknown value" for OMP_SCHEDULE).
OPENMP_COMPLAINT = re.compile(r"^libgomp: \w+ value for environment variable (\w+)\s*$")

#: The folder made for matplotlib here, and the process that made it (a forked worker inherits
#: the name, never the removal).
_MADE: dict[str, tuple[str, int]] = {}


def prepare(reproducible: bool = False) -> None:
    """Before torch and matplotlib load: set MPLBACKEND aside, give matplotlib a folder it can
    write, pin the numerical code paths where ``reproducible`` (:mod:`ntkviz.runtime.pins`;
    worker processes inherit them), and import torch with OpenMP's complaints caught (one
    refused variable: ConfigError)."""
    if reproducible:
        pins.apply()
    if "matplotlib" not in sys.modules:
        os.environ.pop("MPLBACKEND", None)
        matplotlib_folder()
    load_torch()


def load_torch() -> None:
    """Import torch with the C libraries' stderr caught: a complaint of libgomp's about an
    OpenMP variable is refused by name; anything else said is passed on unchanged."""
    if "torch" in sys.modules:
        return
    try:
        os.fstat(2)
    except OSError:  # no stderr to catch from (2>&-): nothing would be seen anyway
        import torch  # noqa: F401

        return
    with _caught() as said:
        import torch  # noqa: F401 - loaded here, with its libraries' lines caught
    refused: list[str] = []
    passed: list[str] = []
    for line in said().splitlines(keepends=True):
        if not line.strip():
            continue
        match = OPENMP_COMPLAINT.match(line)
        (refused if match else passed).append(match[1] if match else line)
    if passed:
        sys.stderr.write("".join(passed))
        sys.stderr.flush()
    if refused:
        name = refused[0]
        raise ConfigError(
            f"the environment variable {name}={os.environ.get(name, '')!r} is not a value "
            "OpenMP (torch's threads) can read: fix it or unset it"
        )


@contextlib.contextmanager
def _caught():
    """File descriptor 2 (what C libraries write to) goes to a temporary file inside; yields a
    function that gives what was written, once the block has ended."""
    text: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield lambda: "".join(text)
            finally:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                sink.seek(0)
                text.append(sink.read().decode("utf-8", "replace"))
    finally:
        os.close(saved)


def _writable(folder: Path) -> bool:
    """matplotlib's own test of its folder: made if missing, a folder, writable."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return folder.is_dir() and os.access(folder, os.W_OK)


def matplotlib_folders() -> list[Path]:
    """The folders matplotlib will keep its configuration and cache in (as it picks them)."""
    own = os.environ.get("MPLCONFIGDIR")
    if own:
        return [Path(own)]
    home = Path.home()
    if sys.platform.startswith(("linux", "freebsd")):
        return [
            Path(os.environ.get(variable) or home / default) / "matplotlib"
            for variable, default in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"))
        ]
    return [home / ".matplotlib"]


def matplotlib_folder() -> None:
    """Where matplotlib could not write its folders, point MPLCONFIGDIR at a temporary one."""
    try:
        if all(_writable(folder) for folder in matplotlib_folders()):
            return
    except (RuntimeError, KeyError, OSError):  # no home folder to be found
        pass
    folder = tempfile.mkdtemp(prefix="ntkviz-matplotlib-")
    _MADE["folder"] = (folder, os.getpid())
    os.environ["MPLCONFIGDIR"] = folder
    import atexit

    atexit.register(cleanup)


def cleanup() -> None:
    """Remove the folder :func:`matplotlib_folder` made (in the process that made it)."""
    folder, pid = _MADE.pop("folder", (None, None))
    if folder is not None and pid == os.getpid():
        shutil.rmtree(folder, ignore_errors=True)
