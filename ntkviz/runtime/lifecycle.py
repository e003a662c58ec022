"""Processes and signals: what makes every stop clean.

* SIGTERM and SIGHUP are turned into :class:`Interrupted` (a ``KeyboardInterrupt``), so every
  ``try/finally`` and transaction that cleans up after Ctrl-C cleans up after them too.
* :func:`die_with_parent` asks Linux to kill a child when its parent dies (``PR_SET_PDEATHSIG``),
  so no worker or encoder outlives a killed ntkviz.
* :func:`quiet_section` holds signals off while files are renamed into place or rolled back, so
  an interrupt never leaves a half-committed set of outputs.
* :func:`describe_os_error` is the one place an ``OSError`` becomes a line for a person.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from collections.abc import Iterator

from ntkviz.errors import quoted

#: Signals handled like Ctrl-C: clean up, one line, exit 128 + n.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_PR_SET_PDEATHSIG = 1


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


#: The stop signals that have arrived, kept beside the exception each handler raises: CPython
#: loses a handler's exception when C code runs the handler and then sets an error of its own
#: (SIGTERM during matplotlib's first font lookup once vanished and the run ended 0, its output
#: written). :func:`stop_if_asked` raises it again where a run can stop cleanly.
_ASKED: list[int] = []


def _raise_interrupted(signum: int, _frame: object) -> None:
    _ASKED.append(signum)
    raise Interrupted(signum)


def install_stop_handlers() -> None:
    """In the main process: SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`."""
    for signum in STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or not settable
            signal.signal(signum, _raise_interrupted)


def interrupt_code(exc: BaseException) -> tuple[int, str]:
    """(exit code, signal name) for a KeyboardInterrupt (plain Ctrl-C is SIGINT)."""
    if isinstance(exc, Interrupted):
        return exc.exit_code, exc.name
    return 128 + signal.SIGINT, "SIGINT"


def ignore_stop_signals() -> None:
    """While the last line is printed: a second Ctrl-C must not turn it into a traceback."""
    for signum in STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, signal.SIG_IGN)


def interrupted_line(exc: BaseException) -> int:
    """Print the one line an interrupt gets; return the exit status (128 + the signal)."""
    code, name = interrupt_code(exc)
    try:
        sys.stderr.write(f"Interrupted ({name}): stopped; no partial file was left behind.\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    return code


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """In a child: have Linux send ``signum`` when the parent dies; a no-op elsewhere.

    Call it first thing in the child, then check :func:`os.getppid` against the parent's pid:
    the parent may have died before the request was made.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # here: ctypes.util costs the command line's start-up 25 ms
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no libc / prctl
        pass


def child_preexec() -> None:
    """``preexec_fn`` for an encoder subprocess: dies with us, and is not sent the terminal's
    Ctrl-C itself (we stop it, after deciding what to keep)."""
    os.setpgrp()
    die_with_parent(signal.SIGKILL)


@contextlib.contextmanager
def quiet_section() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends (they are delivered after it)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    except (OSError, ValueError):  # pragma: no cover
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


#: Seconds between two looks for a stop signal while the main process waits on its workers.
SIGNAL_POLL_S = 0.2


def stop_if_asked() -> None:
    """Raise :class:`Interrupted` if a stop signal arrived and its exception was lost.

    Called at every step of progress, in every wait on workers and before files are put in
    place. It first has CPython run a handler that is due (it checks after every
    ``pthread_sigmask``; this one changes nothing): while :func:`quiet_section` held the signals
    here, the kernel gave one to another thread (torch starts one), which Python before 3.12
    marks without telling the main thread.
    """
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, ())
    if _ASKED:
        raise Interrupted(_ASKED[0])


def asked() -> int | None:
    """The stop signal that has arrived in this process (None: none): an exception raised after
    it is the stop's, whatever C code made of the handler's own (matplotlib's converters turn it
    into "ValueError: Invalid bounding box")."""
    return _ASKED[0] if _ASKED else None


def how_it_ended(process) -> str:
    """How a worker process that stopped answering ended (after a short wait for it to be
    reaped): "was killed by SIGKILL (out of memory, or killed by hand)", "ended unexpectedly
    (exit status 1)", ... — for the one line that names it."""
    process.join(5)
    code = process.exitcode
    if code is not None and code < 0:
        how = f"was killed by {signal.Signals(-code).name}"
        if -code == signal.SIGKILL:
            how += " (out of memory, or killed by hand)"
        return how
    return f"ended unexpectedly (exit status {code})"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (any owner)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_CAUSES = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "the file size limit was reached",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EPIPE: "the reader went away (broken pipe)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EIO: "input/output error",
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EBADF: "it is closed",
    errno.EEXIST: "it already exists",
    errno.ENAMETOOLONG: "the name is longer than the file system allows",
}


def os_cause(exc: OSError) -> str:
    """'no space left on the device (ENOSPC)' from any OSError."""
    code = exc.errno
    name = errno.errorcode.get(code, "") if code is not None else ""
    cause = _CAUSES.get(code, exc.strerror or str(exc) or type(exc).__name__)
    return cause + (f" ({name})" if name else "")


def describe_os_error(exc: OSError, doing: str | None = None) -> str:
    """'cannot write out.gif: no space left on the device (ENOSPC)', from any OSError."""
    where = exc.filename
    action = doing or ("cannot use" if where is not None else "system error")
    text = f"{action} {quoted(where)}" if where is not None else action
    return f"{text}: {os_cause(exc)}"
