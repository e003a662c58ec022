"""The ``ntkviz`` console command, before anything heavy is imported.

Signals are handled from the first instruction: Ctrl-C (or SIGTERM, SIGHUP) while torch and
matplotlib are still importing gives the same one line and exit status as later, never a
traceback. Library warnings are silenced unless ``--debug`` (or ``NTKVIZ_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys

from ntkviz.runtime.lifecycle import (
    Interrupted,
    ignore_stop_signals,
    install_stop_handlers,
    interrupted_line,
)


def debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("NTKVIZ_DEBUG", "") not in ("", "0")


def quiet_libraries() -> None:
    """No numpy/matplotlib/torch warnings on the terminal: what matters is checked and said."""
    import warnings

    warnings.simplefilter("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # spawned workers too


def folder_gone() -> bool:
    """Whether the current folder was deleted under us: torch's MKL then cannot load and ends
    the process (exit 2) with a line about a library, which says nothing useful."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def main() -> None:
    install_stop_handlers()
    if folder_gone():
        sys.stderr.write(
            "Error: the current folder no longer exists (it was deleted or moved): "
            "cd to a folder that exists and run again\n"
        )
        sys.exit(1)
    try:
        if not debug_requested(sys.argv):
            quiet_libraries()
        from ntkviz.cli.app import main as cli_main

        cli_main()
    except (KeyboardInterrupt, Interrupted) as exc:
        ignore_stop_signals()
        os._exit(_finish(interrupted_line(exc)))


def _finish(code: int) -> int:
    environment = sys.modules.get("ntkviz.cli.environment")  # os._exit runs no atexit
    if environment is not None:
        environment.cleanup()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    return code


if __name__ == "__main__":
    main()
