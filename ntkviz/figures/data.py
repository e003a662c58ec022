"""Training data of one's own: ``--train-data FILE.csv|.npz`` read, checked and given to a figure.

A CSV holds one point a line, its columns x..., y (d inputs then the target; a first line of
names is skipped); an .npz holds arrays ``x`` ((N,) or (N, d)) and ``y`` ((N,)). Every problem is
one line naming the file (exit 2). :func:`apply` puts the points into the figure's
``x_train``/``y_train`` fields (a figure without them trains on no data set of its own and
refuses the option); the sidecar records the values when there are few of them
(:data:`SMALL_VALUES`), else the file's name and sha256 (:meth:`TrainData.record`), and
``ntkviz rerun`` reads the file again only if its hash is the recorded one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ntkviz.config import param, shown
from ntkviz.errors import ConfigError, quoted
from ntkviz.figures.common import OwnData

#: The most points a file may hold (each figure's own bound may be smaller).
MAX_POINTS = 10_000
#: The largest file read.
MAX_BYTES = 64 * 2**20
#: The sidecar keeps the numbers themselves up to this many (x and y together); beyond, the
#: file's name and hash.
SMALL_VALUES = 100
#: The Config fields own data fills.
FIELDS = ("x_train", "y_train")


@dataclasses.dataclass(frozen=True, eq=False)
class TrainData:
    """Points read from ``file``: x (N, d) and y (N,), float64; ``sha256`` of the file's bytes."""

    x: np.ndarray
    y: np.ndarray
    file: str
    sha256: str

    @property
    def small(self) -> bool:
        """Whether the sidecar records the values (else the file's name and hash only)."""
        return self.x.size + self.y.size <= SMALL_VALUES

    def record(self) -> dict[str, Any]:
        """What the sidecar records of the data (the values are the config's when small)."""
        points, dim = self.x.shape
        values = "config" if self.small else "file"
        return {"file": self.file, "sha256": self.sha256, "points": points, "dim": dim,
                "values": values}  # fmt: skip


def _fail(file: Any, message: str) -> ConfigError:
    return ConfigError(f"--train-data {quoted(str(file))}: {message}")


def _read_bytes(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except OSError as exc:
        raise _fail(path, f"cannot read it ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _fail(path, "not a regular file")
        if info.st_size > MAX_BYTES:
            raise _fail(path, f"larger than {MAX_BYTES // 2**20} MB")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError as exc:
        raise _fail(path, f"cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _csv(path: Path, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(path, "not UTF-8 text (a CSV of columns x..., y)") from None
    rows: list[tuple[int, list[float]]] = []
    header = False
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        values = [_number(c) for c in cells]
        if not rows and not header and any(v is None for v in values):
            header = True
            if any(v is not None for v in values) or any(not c for c in cells):
                bad = next(c for c, v in zip(cells, values) if v is None)
                raise _fail(path, f"line {number}: {shown(bad)} is not a number")
            continue  # a first line of column names
        if any(v is None for v in values):
            bad = next(c for c, v in zip(cells, values) if v is None)
            raise _fail(path, f"line {number}: {shown(bad)} is not a number")
        if len(values) < 2:
            raise _fail(path, f"line {number} has 1 column: give the columns x..., y")
        if rows and len(values) != len(rows[0][1]):
            raise _fail(
                path,
                f"line {number} has {len(values)} columns but line {rows[0][0]} has "
                f"{len(rows[0][1])}",
            )
        bad = next((v for v in values if not math.isfinite(v)), None)
        if bad is not None:
            raise _fail(path, f"line {number} has a value that is not finite ({bad})")
        rows.append((number, values))  # type: ignore[arg-type]
        if len(rows) > MAX_POINTS:
            raise _fail(path, f"more than {MAX_POINTS} points")
    if not rows:
        raise _fail(path, "no points (a CSV of columns x..., y, one point a line)")
    table = np.array([r for _, r in rows], dtype=np.float64)
    return table[:, :-1], table[:, -1]


def _npz(path: Path, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            keys = sorted(archive.files)
            if "x" not in keys or "y" not in keys:
                raise _fail(path, f"needs arrays x and y (it has {', '.join(keys) or 'none'})")
            x, y = archive["x"], archive["y"]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError):
        raise _fail(path, "not a readable .npz file (arrays x and y)") from None
    for name, array in (("x", x), ("y", y)):
        if array.dtype.kind not in "iuf":
            raise _fail(path, f"{name} holds {array.dtype} values, not numbers")
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if x.ndim != 2 or y.ndim != 1:
        raise _fail(path, f"x must be (N,) or (N, d) and y (N,) (got {x.shape} and {y.shape})")
    if len(x) != len(y):
        raise _fail(path, f"x has {len(x)} points but y has {len(y)}: give one target per point")
    if len(x) == 0 or x.shape[1] == 0:
        raise _fail(path, "no points")
    if len(x) > MAX_POINTS:
        raise _fail(path, f"{len(x)} points, more than {MAX_POINTS}")
    x, y = x.astype(np.float64), y.astype(np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise _fail(
            path, f"{'x' if not np.isfinite(x).all() else 'y'} has a value that is not finite"
        )
    return x, y


def read(file: str | os.PathLike) -> TrainData:
    """The points of ``file`` (.csv or .npz), checked; ConfigError (one line) if they are not."""
    path = Path(file)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise _fail(path, f"must be a .csv or .npz file (got {shown(suffix or 'no suffix')})")
    data = _read_bytes(path)
    x, y = (_csv if suffix == ".csv" else _npz)(path, data)
    return TrainData(x, y, str(file), hashlib.sha256(data).hexdigest())


def takes_data(config_cls: type) -> bool:
    """Whether a figure's Config has a training set of its own to fill."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return all(name in names for name in FIELDS)


def values(
    config_cls: type,
    data: TrainData,
    figure: str,
    given: Mapping[str, Any],
    figures: Mapping[str, Any] | None = None,
) -> dict:
    """The Config values (``x_train``, ``y_train``; ``input_dim``) of ``data`` for the figure
    ``figure``; one line if the figure trains on no data of its own (naming those of
    ``figures``, name -> FigureSpec, that do), draws one x only, or if ``given`` sets the fields
    too."""
    if not takes_data(config_cls):
        named = [n for n, spec in (figures or {}).items() if takes_data(spec.config_cls)]
        raise ConfigError(
            f"--train-data: {figure} trains on no data set of its own (figures that do: "
            f"{', '.join(named)})"
        )
    both = [f"--{k.replace('_', '-')}" for k in FIELDS if given.get(k) not in (None, ())]
    if both:
        raise ConfigError(f"--train-data and {both[0]} both give the training set: give one")
    dim = data.x.shape[1]
    if dim != 1 and "input_dim" not in {f.name for f in dataclasses.fields(config_cls)}:
        raise _fail(
            data.file,
            f"{dim} input columns, but {figure} draws functions of one x: give the columns x, y",
        )
    own = {"x_train": tuple(data.x.ravel().tolist()), "y_train": tuple(data.y.tolist())}
    has_dim = "input_dim" in {f.name for f in dataclasses.fields(config_cls)}
    return {**own, "input_dim": dim} if has_dim else own


def given_rows(config_cls: type, figure: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """``x_train`` given from Python as points (an (N, d) array or a list of rows) as the Config
    takes them: row after row, with ``input_dim`` d where d > 1; {} for anything else (one
    number a point is the usual checks' to take). One line if the figure draws functions of
    one x, or ``input_dim`` says otherwise."""
    value = given.get("x_train")
    if value is None or isinstance(value, (str, bytes)):
        return {}
    try:
        rows = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return {}  # ragged or not numbers: the usual checks name it
    if rows.ndim > 2:
        raise ConfigError(f"x_train must be (N,) or (N, d) points (got shape {rows.shape})")
    if rows.ndim < 2 or rows.shape[1] == 0:
        return {}
    dim = rows.shape[1]
    if dim == 1:  # rows of one coordinate: a column
        return {"x_train": tuple(rows[:, 0].tolist())}
    if "input_dim" not in {f.name for f in dataclasses.fields(config_cls)}:
        raise ConfigError(
            f"x_train has points of {dim} coordinates, but {figure} draws functions of one x: "
            "give one x a point"
        )
    if given.get("input_dim") not in (None, dim):
        raise ConfigError(
            f"x_train has points of {dim} coordinates but input_dim is {given['input_dim']}"
        )
    return {"x_train": tuple(rows.ravel().tolist()), "input_dim": dim}


def check_same(data: TrainData, record: Mapping[str, Any], where: str) -> None:
    """``data`` read again for a rerun must be the recorded file's bytes (its sha256)."""
    if data.sha256 != record.get("sha256"):
        raise ConfigError(
            f"{where}: the training data {quoted(data.file)} changed since the run (sha256 "
            f"{str(record.get('sha256'))[:12]}... recorded, {data.sha256[:12]}... now): restore "
            "it, or run the figure again with --train-data"
        )


def build(config_cls: type, values: Mapping[str, Any], base: Any, data: TrainData | None) -> Any:
    """:func:`ntkviz.config.build`, with a figure's complaint about the training set said of
    the file when ``data`` gave it."""
    from ntkviz import config as cfg

    try:
        return cfg.build(config_cls, values, base=base)
    except ConfigError as exc:
        if data is None or not any(f"--{k.replace('_', '-')}" in str(exc) for k in FIELDS):
            raise
        raise _fail(data.file, str(exc)) from None


@dataclasses.dataclass(frozen=True)
class OwnPoints(OwnData):
    """:class:`OwnData` whose inputs may be points of ``input_dim`` coordinates (``x_train``
    holds them row after row); such a figure draws its functions along the line through the
    points' mean in their first principal direction (:func:`along_line`)."""

    input_dim: int = param(
        1,
        "coordinates of each --x-train point (--train-data with d x columns sets it); over 1: "
        "the functions are drawn along the points' first principal direction",
        ge=1,
        le=1000,
    )

    def check_own(self) -> None:
        d = self.input_dim
        if len(self.x_train) % d or len(self.y_train) * d != len(self.x_train):
            raise ConfigError(
                f"--x-train has {len(self.x_train)} value(s) but --y-train has "
                f"{len(self.y_train)}: give --input-dim {d} coordinates per target"
            )
        if d == 1:
            return super().check_own()
        rows = np.asarray(self.x_train, dtype=np.float64).reshape(-1, d)
        if len(np.unique(rows, axis=0)) != len(rows):
            raise ConfigError(
                "--x-train has a point twice: the kernel matrix Theta(X, X) would be singular"
            )

    def training(self, spaced: np.ndarray, target: Any) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y): X (N,) for one coordinate (as :meth:`OwnData.training`), else (N, d)."""
        if self.input_dim == 1:
            return super().training(spaced, target)
        points = np.asarray(self.x_train, dtype=np.float64).reshape(-1, self.input_dim)
        return points, np.asarray(self.y_train, dtype=np.float64)


def along_line(inputs: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t of each input, the grid's points, line): one coordinate as is (t = x, line
    [[0], [1]]); points (N, d) drawn along c + t u, c their mean and u their first principal
    direction (its largest coordinate positive), each at t = (x - c) . u; line: [c, u]."""
    if inputs.ndim == 1:
        return inputs, t, np.array([[0.0], [1.0]])
    centre = inputs.mean(axis=0)
    direction = np.linalg.svd(inputs - centre, full_matrices=False)[2][0]
    direction *= np.sign(direction[np.argmax(np.abs(direction))])
    return (
        (inputs - centre) @ direction,
        centre + t[:, None] * direction,
        np.stack([centre, direction]),
    )


def check_invertible(ntk: np.ndarray, nngp: np.ndarray, noise: float) -> None:
    """The kernels on the training inputs can be solved with (condition number at most 1e12)."""
    if np.linalg.cond(ntk) > 1e12:
        raise ConfigError(
            "the NTK on the training inputs is singular: give fewer or more widely spaced points "
            "(--n-train, --x-span, --x-train or --train-data)"
        )
    if noise == 0 and np.linalg.cond(nngp) > 1e12:
        raise ConfigError(
            "--nngp-noise: the NNGP kernel on the training inputs is singular; give a noise > 0"
        )
