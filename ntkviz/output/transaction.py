"""Staging outputs under temporary names and putting them in place together.

Every file is written under a temporary name beside its target and renamed into place, so an
error or Ctrl-C at any point leaves an existing file untouched and no temporary file behind;
the temporary files a killed run left are swept by the next run in that folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ntkviz.errors import ConfigError, NtkvizError, quoted
from ntkviz.runtime.lifecycle import os_cause, pid_alive, quiet_section, stop_if_asked


def check_writable(path: Path, what: str) -> None:
    """Refuse early, before any computing, a target whose folder is missing or not writable,
    that is a folder (a file cannot replace it), or whose name is longer than its file system
    allows."""
    check_name_length(path, what)
    if path.is_dir():
        raise ConfigError(
            f"{what} {quoted(path)} is a folder, not a file: remove it or choose another name"
        )
    check_folder_writable(path.parent, what, probe_name=path.name)


def check_name_length(path: Path, what: str) -> None:
    """Refuse a name longer (in bytes) than its folder's file system allows."""
    path = Path(path)
    size, limit = len(os.fsencode(path.name)), name_max(path.parent)
    if size > limit:
        raise ConfigError(
            f"{what} {quoted(path)}: its name is {size} bytes, over the {limit} a file name may "
            "have here; choose a shorter name"
        )


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, in ``folder`` (its file system's, else 255)."""
    try:
        return int(os.pathconf(folder if str(folder) else ".", "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return NAME_MAX


def check_folder_writable(folder: Path, what: str, probe_name: str = "ntkviz") -> None:
    folder = folder if str(folder) else Path(".")
    if not folder.exists():
        raise ConfigError(f"{what} folder {quoted(folder)} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"{what} folder {quoted(folder)} is not a folder")
    try:
        # A real probe: os.access says yes to root even on a read-only mount.
        fd, probe = tempfile.mkstemp(
            dir=folder, prefix=_temp_prefix(probe_name, folder, ".probe"), suffix=".probe"
        )
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"{what} folder {quoted(folder)} is not writable ({exc.strerror})"
        ) from None


# -- temporary names, and sweeping the ones a killed run left ----------------------------------------

#: ``.<target name>.ntkviz-<pid>-<random>.part<suffix>`` (staged), ``.old`` (a kept previous
#: file while a set of outputs is committed), ``.probe``: the pid says whose it is, so a later
#: run removes only those whose process is gone. A target name too long for that to fit in a
#: file name is shortened to its start and a hash of the whole (:func:`_temp_prefix`).
TEMP_RE = re.compile(r"^\..*\.ntkviz-(\d+)-[a-z0-9_]+\.(part|old|probe)(\..*)?$")
#: The frames of ``--frames-dir``: a folder holding only these (and ntkviz's temporary files)
#: is ntkviz's own, replaced freely; anything else in it is the user's and never touched.
FRAME_RE = re.compile(r"^frame_\d{5,}\.png$")


#: The longest file name, in bytes, where the file system does not say (Linux's NAME_MAX).
NAME_MAX = 255
#: The random part tempfile adds (``mkstemp``, ``mkdtemp``) and the one of :meth:`_backup_name`.
RANDOM_BYTES = 8
#: A target's suffix is kept on its temporary name (``.part.gif``) when at most this long.
KEPT_SUFFIX = 16


def _temp_prefix(name: str, folder: Path, tail: str) -> str:
    """``.<name>.ntkviz-<pid>-``: with the random part and ``tail`` after it, at most the longest
    file name ``folder`` allows; a longer ``name`` keeps its start and a hash of the whole."""
    own = f".ntkviz-{os.getpid()}-"
    room = name_max(folder) - len(os.fsencode(f".{own}{tail}")) - RANDOM_BYTES
    if len(os.fsencode(name)) > room:
        digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
        head = name
        while head and len(os.fsencode(head)) > room - len(digest) - 1:
            head = head[:-1]
        name = f"{head}~{digest}"
    return f".{name}{own}"


def _part_suffix(target: Path) -> str:
    """``.part`` and the target's suffix where it is short (encoders may look at it)."""
    suffix = target.suffix
    return f".part{suffix}" if len(os.fsencode(suffix)) <= KEPT_SUFFIX else ".part"


def is_stale_temp(name: str) -> bool:
    """A temporary file of an ntkviz process that no longer exists."""
    match = TEMP_RE.match(name)
    return bool(match) and not pid_alive(int(match.group(1)))


def sweep_stale(folder: Path) -> list[str]:
    """Remove the temporary files and folders that killed ntkviz runs left in ``folder``
    (never one of a live process, never anything else); returns their names."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_stale_temp(entry.name):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
    return removed


# -- staging and committing a set of outputs ---------------------------------------------------------


@dataclass
class _Staged:
    tmp: Path
    target: Path
    kind: str  # "file"; "newdir": a folder renamed into place; "intodir": files moved into one


class Transaction:
    """Outputs staged under temporary names beside their targets, put in place together.

    ``path(target)`` gives a temporary file (same suffix) and ``folder(target)`` a temporary
    folder; nothing appears at any target until :meth:`commit`, which runs only after every
    output was written and checked. Commit keeps every previous file (a hard link) until the
    last rename has succeeded: a failure on any rename puts every earlier one back. Signals are
    held while it runs. :meth:`abort` removes what was staged.
    """

    def __init__(self) -> None:
        self.pending: list[_Staged] = []
        self._swept: set[Path] = set()

    def _sweep(self, folder: Path) -> None:
        key = Path(os.path.abspath(folder))
        if key not in self._swept:
            self._swept.add(key)
            sweep_stale(folder)

    def path(self, target: Path) -> Path:
        target = Path(target)
        self._sweep(target.parent)
        try:
            suffix = _part_suffix(target)
            fd, name = tempfile.mkstemp(
                dir=target.parent,
                prefix=_temp_prefix(target.name, target.parent, suffix),
                suffix=suffix,
            )
        except OSError as exc:  # the folder became read-only, full, or went away since the check
            raise NtkvizError(f"cannot write {quoted(target)}: {os_cause(exc)}") from exc
        os.close(fd)
        self.pending.append(_Staged(Path(name), target, "file"))
        return Path(name)

    def folder(self, target: Path) -> Path:
        """A folder to fill; at commit its files go into ``target``. An existing ``target``
        keeps everything but its old frame_NNNNN.png files (which the new ones replace)."""
        try:
            return self._folder(Path(target))
        except OSError as exc:
            raise NtkvizError(f"cannot write frames in {quoted(target)}: {os_cause(exc)}") from exc

    def _folder(self, target: Path) -> Path:
        if target.is_dir():
            self._sweep(target)
            prefix = _temp_prefix("frames", target, ".part")
            name = Path(tempfile.mkdtemp(dir=target, prefix=prefix, suffix=".part"))
            self.pending.append(_Staged(name, target, "intodir"))
        else:
            parent = Path(os.path.abspath(target)).parent
            self._sweep(parent)
            name = Path(
                tempfile.mkdtemp(
                    dir=parent,
                    prefix=_temp_prefix(Path(os.path.abspath(target)).name, parent, ".part"),
                    suffix=".part",
                )
            )
            self.pending.append(_Staged(name, target, "newdir"))
        return name

    def _moves(self) -> list[tuple[str, Path, Path]]:
        """("move", src, dst) and ("remove", path, path) steps, in order."""
        steps: list[tuple[str, Path, Path]] = []
        for item in self.pending:
            if item.kind == "file":
                if item.tmp.stat().st_size == 0:
                    raise NtkvizError(f"writing {quoted(item.target)} produced an empty file")
                os.chmod(item.tmp, 0o666 & ~_umask())
                steps.append(("move", item.tmp, item.target))
            elif item.kind == "newdir":
                os.chmod(item.tmp, 0o777 & ~_umask())
                steps.append(("move", item.tmp, item.target))
            else:
                new = sorted(p.name for p in item.tmp.iterdir())
                steps += [("move", item.tmp / n, item.target / n) for n in new]
                stale = [
                    p
                    for p in item.target.iterdir()
                    if FRAME_RE.match(p.name) and p.name not in new and p.is_file()
                ]
                steps += [("remove", p, p) for p in sorted(stale)]
        return steps

    def commit(self) -> None:
        stop_if_asked()  # a stop asked for before this point keeps every old file
        with quiet_section():
            steps = self._moves()
            done: list[tuple[str, Path, Path, Path | None]] = []
            try:
                for kind, src, dst in steps:
                    if kind == "remove":
                        backup = self._backup_name(dst)
                        os.replace(dst, backup)
                        done.append((kind, src, dst, backup))
                        continue
                    backup = self._keep(dst) if src.is_file() else None
                    try:
                        os.replace(src, dst)
                    except BaseException:
                        if backup is not None:
                            with contextlib.suppress(OSError):
                                os.unlink(backup)
                        raise
                    done.append((kind, src, dst, backup))
            except OSError as exc:
                self._rollback(done)
                raise NtkvizError(
                    f"cannot put {quoted(dst)} in place: {os_cause(exc)}; every earlier file was "
                    "put back as it was"
                ) from exc
            except BaseException:
                self._rollback(done)
                raise
            for _kind, _src, _dst, backup in done:
                if backup is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(backup)
            for item in self.pending:
                if item.kind == "intodir":
                    shutil.rmtree(item.tmp, ignore_errors=True)
            self.pending = []

    @staticmethod
    def _backup_name(path: Path) -> Path:
        prefix = _temp_prefix(path.name, path.parent, ".old")
        return path.with_name(f"{prefix}{os.urandom(RANDOM_BYTES // 2).hex()}.old")

    def _keep(self, dst: Path) -> Path | None:
        """A second name for the file at ``dst`` (if any), so it can be put back."""
        if not dst.is_file() or dst.is_symlink():
            return None
        backup = self._backup_name(dst)
        try:
            os.link(dst, backup)
        except OSError:  # no hard links here (e.g. FAT): a copy
            shutil.copy2(dst, backup)
        return backup

    @staticmethod
    def _rollback(done: list[tuple[str, Path, Path, Path | None]]) -> None:
        for kind, src, dst, backup in reversed(done):
            with contextlib.suppress(OSError):
                if kind == "remove":
                    os.replace(backup, dst)
                elif backup is not None:
                    os.replace(dst, src)  # the new file back where abort removes it
                    os.replace(backup, dst)
                else:
                    os.replace(dst, src)

    def abort(self) -> None:
        with quiet_section():
            for item in self.pending:
                if item.tmp.is_dir():
                    shutil.rmtree(item.tmp, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        item.tmp.unlink()
            self.pending = []


@contextlib.contextmanager
def transaction() -> Iterator[Transaction]:
    """Stage outputs; commit them all on success, remove them all on any exception (Ctrl-C too)."""
    staged = Transaction()
    try:
        yield staged
        staged.commit()
    except BaseException:
        staged.abort()
        raise


@contextlib.contextmanager
def atomic_target(target: Path, tx: Transaction | None = None) -> Iterator[Path]:
    """A temporary path for ``target``, staged in ``tx`` or, without one, renamed into place as
    soon as the block ends without an exception (and removed if it raises)."""
    if tx is not None:
        yield tx.path(target)
        return
    with transaction() as own:
        yield own.path(target)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
