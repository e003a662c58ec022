"""Errors as one line: every failure of a command is one line on stderr and a non-zero exit.

Also the one change ntkviz makes to typer (:func:`skip_coercion_of_absent_options`); a test
(tests/cli/test_errors.py) fails if typer changes what it relies on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

import typer
from typer.core import TyperGroup

from ntkviz.errors import NtkvizError
from ntkviz.runtime.lifecycle import (
    Interrupted,
    asked,
    describe_os_error,
    ignore_stop_signals,
    interrupted_line,
)

try:  # typer >= 0.2x vendors its own click
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer
    import click


#: typer's own ``TyperOption.process_value``, once replaced.
PATCHED: dict = {}


def skip_coercion_of_absent_options() -> None:
    """An option left out (None) needs no coercion: typer (0.29) would build its pydantic
    adapter to turn None into None, which makes --help, a figure's --help and every TAB of shell
    completion import pydantic. Same result: the callback, then the value.

    Relies on ``TyperOption.process_value(self, ctx, value)`` and the option's ``required``,
    ``multiple``, ``nargs`` and ``callback``; tests/cli/test_errors.py checks that they are
    still there."""
    from typer.core import TyperOption

    original = getattr(TyperOption, "process_value", None)
    if original is None or getattr(original, "_ntkviz", False):
        return
    PATCHED["original"] = original

    def process_value(self, ctx, value):
        if value is None and not self.required and not (self.multiple or self.nargs == -1):
            return value if self.callback is None else self.callback(ctx, self, value)
        return original(self, ctx, value)

    process_value._ntkviz = True
    TyperOption.process_value = process_value


skip_coercion_of_absent_options()

#: Set by --debug (or NTKVIZ_DEBUG=1): errors show their traceback.
DEBUG = {"on": False}


def _debugging() -> bool:
    return DEBUG["on"] or os.environ.get("NTKVIZ_DEBUG", "") not in ("", "0")


#: Errors of a write to a stream: ntkviz's own file errors always name their file, so one of
#: these without a file name is standard output's (a full device, a closed pipe, ...).
STREAM_ERRORS = (errno.EPIPE, errno.EBADF, errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT)


def one_line(text: str) -> str:
    """``text`` with its control characters (a newline, a tab, a carriage return in a name that
    was given) written as their escapes: an error is always one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _stdout_broken(exc: OSError) -> bool:
    return exc.errno in STREAM_ERRORS


def stdout_failed(exc: OSError) -> None:
    """stdout is a full device, a closed pipe or gone: say so once, on stderr."""
    with contextlib.suppress(OSError, ValueError):  # and let nothing more reach it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        click.echo(f"Error: {describe_os_error(exc, 'cannot write to standard output')}", err=True)


class _Stopped(Exception):
    """A KeyboardInterrupt (or SIGTERM, SIGHUP) carried past typer, which would swallow it."""

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__(str(interrupt))
        self.interrupt = interrupt


class _SystemFailure(Exception):
    """An OSError carried past typer (which hides EPIPE): told as one line here."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def out_of_memory_line() -> None:
    click.echo("Error: out of memory: try a smaller width, count or frame size", err=True)
    sys.exit(1)


class OneLineErrors(TyperGroup):
    """Every error is one line on stderr and a non-zero exit; Ctrl-C, SIGTERM and SIGHUP exit
    128 + the signal. Only ``--debug`` shows a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped(exc) from None
        except Exception as exc:
            signum = asked()
            if signum is not None:  # the handler's Interrupted, replaced by C code on its way
                raise _Stopped(Interrupted(signum)) from None
            if isinstance(exc, OSError):
                raise _SystemFailure(exc) from exc
            raise

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = self._main(args, prog_name, complete_var, **extra)
        except (KeyboardInterrupt, _Stopped) as exc:
            ignore_stop_signals()
            sys.exit(interrupted_line(getattr(exc, "interrupt", exc)))
        if rv == 130:  # typer's own answer to a Ctrl-C while parsing
            ignore_stop_signals()
            sys.exit(interrupted_line(KeyboardInterrupt()))
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except OSError as exc:
            stdout_failed(exc)
            sys.exit(1)
        sys.exit(rv)

    def _main(self, args, prog_name, complete_var, **extra) -> int:
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "ntkviz"
            click.echo(f"Error: {one_line(exc.format_message())} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.exceptions.ClickException as exc:
            click.echo(f"Error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except NtkvizError as exc:
            if _debugging():
                raise
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except MemoryError:
            if _debugging():
                raise
            out_of_memory_line()
        except (_Stopped, SystemExit):
            raise
        except (_SystemFailure, OSError) as failure:
            exc = getattr(failure, "error", failure)
            if _debugging():
                raise exc from None
            if exc.filename is None and _stdout_broken(exc):
                stdout_failed(exc)
            else:
                click.echo(f"Error: {one_line(describe_os_error(exc))}", err=True)
            sys.exit(1)
        except Exception as exc:  # a bug: still one line, the traceback with --debug
            if _debugging():
                raise
            if isinstance(exc, RuntimeError) and "bad_alloc" in str(exc):
                out_of_memory_line()  # a C++ std::bad_alloc that torch passed on
            click.echo(
                one_line(
                    f"Error: internal error: {type(exc).__name__}: {exc} "
                    "(run 'ntkviz --debug ...' for the traceback)".replace("\n", " ")
                ),
                err=True,
            )
            sys.exit(1)
        return rv if isinstance(rv, int) else 0
