"""Errors that reach the user as one line on stderr and a non-zero exit."""

import os


class NtkvizError(Exception):
    """A failure the user can fix: printed as ``Error: <message>``, exit status 1."""

    exit_code = 1


class ConfigError(NtkvizError):
    """A bad option value; exit status 2, like a usage error."""

    exit_code = 2


class DivergenceError(NtkvizError):
    """Training produced a non-finite or exploding loss."""


def quoted(path: object) -> str:
    """A path as a message shows it: quoted like a Python string (``'out dir/a.gif'``), so that
    a name holding a newline, a space or a quote stays on one line and shows where it ends."""
    return repr(os.fspath(path))  # type: ignore[call-overload]


class ArgumentError(ConfigError, TypeError):
    """A Python call (:mod:`ntkviz.api`) given a value of the wrong type: a ConfigError, and the
    TypeError Python code expects."""


class FrameIndexError(ConfigError, IndexError):
    """``Animation.frame(i)`` with ``i`` out of range: a ConfigError, and an IndexError."""
