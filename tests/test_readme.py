"""The README as a tested contract: every shell and Python example of README.md and
gallery/README.md runs as written (with ``--quick`` appended, never an option changed), in a
fresh temporary folder, exits 0 and writes a file that decodes; where the text beside an example
states a number or a behaviour, that is checked too. A README example that breaks fails here.

The notebook (examples/ntkviz.ipynb) is run by tests/test_notebook.py. The README's list of each
figure's ``--data`` keys is compared with the Result dataclasses (``python -m tests.test_readme``
prints the block to paste).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shlex
import typing
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import gif_frames, mp4_info

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GALLERY_README = ROOT / "gallery" / "README.md"

#: Lines of a shell example that are setup, not ntkviz: skipped, and listed here explicitly so
#: that any other kind of line makes the extraction fail rather than be ignored.
SETUP = ("make", "pip", "python3 -m venv", "python -m venv", "source", "cd", "mkdir")
#: Appended to every command: previews, so the whole README runs in a few minutes on 2 cores.
APPEND = ["--quick", "--no-progress"]

_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


#: A block of the README's "Seven research tasks": tests/test_readme_tasks.py runs those, in
#: order, each task in its own folder; the tests here leave them out.
TASK = re.compile(r"^<!-- task: ([^>]*?) -->[ \t]*\n+```.*?^```[ \t]*$", re.M | re.S)


def examples_text(path: Path = README) -> str:
    """The text of a README without its task blocks."""
    return TASK.sub("", path.read_text())


def fenced(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def shell_examples(text: str) -> list[str]:
    """The ntkviz command lines of a Markdown text: every line of a ```sh (or bash, console)
    block, and of an unlabelled block whose lines all start with ``ntkviz``, minus comments and
    the :data:`SETUP` lines. Any other line is an error."""
    lines: list[str] = []
    for lang, body in fenced(text):
        rows = [ln.strip() for ln in body.splitlines() if ln.strip()]
        if lang == "" and not all(ln.startswith("ntkviz ") for ln in rows):
            continue
        if lang not in ("", "sh", "bash", "shell", "console"):
            continue
        for line in rows:
            line = line.removeprefix("$ ")
            if line.startswith("#") or line.split()[0] in SETUP or line.startswith(SETUP):
                continue
            if not line.startswith("ntkviz "):
                raise AssertionError(f"a shell example that is neither ntkviz nor setup: {line!r}")
            lines.append(line)
    return lines


def python_examples(text: str) -> list[str]:
    return [body for lang, body in fenced(text) if lang in ("python", "py")]


def argv(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    assert words[0] == "ntkviz", line
    return words[1:]


def output_of(words: list[str]) -> Path:
    """Where a figure's command writes: its -o, or the figure's default (as --help says)."""
    from ntkviz.registry import load

    for flag in ("-o", "--output"):
        if flag in words:
            return Path(words[words.index(flag) + 1])
    figure = load()["figures"][words[0]]
    return Path(f"{words[0]}{'.gif' if figure['animated'] else '.png'}")


def frames_in(path: Path) -> int:
    """The frame count of a written file, from an independent decoder (Pillow, imageio-ffmpeg),
    or 1 for a vector still that parses."""
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return len(gif_frames(path)[0])
    if suffix == ".mp4":
        return mp4_info(path)[0]
    if suffix in (".webp", ".png"):
        from PIL import Image

        with Image.open(path) as im:
            return getattr(im, "n_frames", 1)
    if suffix == ".html":  # the player: its pictures, decoded as a browser would
        from ntkviz.output import player

        return sum(1 for _ in player.decode_frames(player.read_html(path)))
    if suffix == ".pdf":
        data = path.read_bytes()
        assert data.startswith(b"%PDF") and b"%%EOF" in data[-64:]
        return 1
    if suffix == ".svg":
        import xml.etree.ElementTree as ET

        ET.parse(path)
        return 1
    raise AssertionError(f"no decoder for {path}")


def check_written(folder: Path, words: list[str]) -> dict:
    """The output exists, decodes with its sidecar's frame count; returns the sidecar."""
    out = folder / output_of(words)
    assert out.exists(), f"{out.name} was not written; the folder holds {os.listdir(folder)}"
    sidecar = json.loads(Path(f"{out}.json").read_text())
    assert sidecar["figure"] == words[0]
    check_frames(out, sidecar)
    return sidecar


def check_frames(out: Path, sidecar: dict) -> None:
    """The file decodes to the frames written: the sidecar's distinct ``frames`` and the end hold's
    ``hold_frames``; as many where a held frame is written out (MP4), fewer where it is one frame
    shown longer, and then a GIF plays as long as they say."""
    written = sidecar["frames"] + int(sidecar.get("hold_frames") or 0)
    decoded = frames_in(out)
    assert 1 <= decoded <= written, (decoded, written)
    if out.suffix.lower() == ".gif" and written > 1:
        played = sum(gif_frames(out)[1])
        expected = 1000 * written / min(sidecar["fps"], 50)
        assert abs(played - expected) <= 10 * written, (played, expected)


def slope_of(sidecar: dict) -> float:
    return float(sidecar["facts"]["slope"])


#: What the text beside an example states, checked on its run (the sidecar, the folder).
CLAIMS: dict[str, typing.Callable[[dict, Path], None]] = {
    # "the same against width": a slope is fitted against width, as it is against alpha
    "ntkviz kernel-change --vs width": lambda s, f: (
        s["config"]["vs"] == "width" or pytest.fail("not a width sweep"),
        np.isfinite(slope_of(s)) or pytest.fail(f"no slope fitted: {s['caption']}"),
    ),
    "ntkviz weight-matrix --show delta": lambda s, f: (
        s["config"]["show"] == "delta" or pytest.fail("not W(n) - W(0)")
    ),
    "ntkviz init-functions --count 30 --width 1000 -o wide.mp4": lambda s, f: (
        (s["config"]["count"], s["config"]["width"]) == (30, 1000) or pytest.fail("options lost")
    ),
}

#: Examples that fail today for a reason owned by another issue: strict, so the day the fix
#: merges this list must shrink (an XPASS fails).
BROKEN: dict[str, str] = {}


def _readme_lines() -> list[str]:
    return shell_examples(examples_text())


def _gallery_lines() -> list[str]:
    return shell_examples(GALLERY_README.read_text())


def _param(line: str):
    marks = [pytest.mark.xfail(strict=True, reason=BROKEN[line])] if line in BROKEN else []
    return pytest.param(line, id=" ".join(argv(line)[:3]), marks=marks)


def test_the_extraction_finds_every_example():
    lines = _readme_lines()
    firsts = {argv(line)[0] for line in lines}
    from ntkviz.registry import load

    figures = set(load()["figures"])
    assert figures <= firsts, "every figure has a README example"
    assert firsts - figures <= {"explore"}, firsts - figures
    assert len(_gallery_lines()) == len(load()["figures"])
    assert len(python_examples(examples_text())) >= 1
    # the extraction itself: comments, setup lines and unlabelled prose blocks are left out
    text = "```sh\nmake test   # x\n# a comment\nntkviz list\n```\n```\nnot a command\n```\n"
    assert shell_examples(text) == ["ntkviz list"]
    with pytest.raises(AssertionError, match="neither ntkviz nor setup"):
        shell_examples("```sh\nrm -rf /\n```\n")


def _run(cli, line: str, folder: Path) -> dict:
    words = argv(line)
    result = cli(*words, *APPEND)
    assert result.exit_code == 0, f"{line}\n{result.output}"
    if words[0] == "explore":  # a page of variants, no sidecar: offline, one slider value each
        page = (folder / output_of(words)).read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
        from ntkviz.output.player import read_html

        varied = [words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--vary"]
        data = read_html(folder / output_of(words))
        # one slider per --vary, labelled with its values; a variant for every combination
        assert [a["values"] for a in data["axes"]] == [v.split(",") for _, v in varied]
        assert len(data["variants"]) == math.prod(len(v.split(",")) for _, v in varied)
        return {}
    sidecar = check_written(folder, words)
    if line in CLAIMS:
        CLAIMS[line](sidecar, folder)
    return sidecar


@pytest.mark.parametrize("line", [_param(line) for line in _readme_lines()])
def test_readme_shell_example(line, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _run(cli, line, tmp_path)


@pytest.mark.parametrize("line", [_param(line) for line in _gallery_lines()])
def test_gallery_readme_example(line, cli, tmp_path, monkeypatch):
    # The gallery README says: from the repository root these overwrite the committed files;
    # anywhere else, make the gallery/ folder first. A fresh folder, then, with gallery/.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gallery").mkdir()
    _run(cli, line, tmp_path)


def test_gallery_commands_need_their_folder(cli, tmp_path, monkeypatch):
    # ... and without it, one line saying so (exit 2), nothing written.
    monkeypatch.chdir(tmp_path)
    result = cli(*argv(_gallery_lines()[0]), *APPEND)
    assert result.exit_code == 2 and "gallery" in result.output
    assert list(tmp_path.iterdir()) == []


def test_readme_config_file_example(cli, tmp_path, monkeypatch):
    """The ```toml block, saved under the name its first line gives, with its command."""
    monkeypatch.chdir(tmp_path)
    (body,) = [b for lang, b in fenced(README.read_text()) if lang == "toml"]
    first = body.splitlines()[0]
    name, command = re.fullmatch(r"# (\S+): (ntkviz .*)", first).groups()
    (tmp_path / name).write_text(body)
    sidecar = _run(cli, command, tmp_path)
    assert sidecar["config"]["width"] == 500 and sidecar["seed"] == 3


def test_readme_python_example(tmp_path, monkeypatch, cli):
    """The Python block runs as written; what its comments say holds; and, as the text says,
    ``save`` writes the file the command line writes, byte for byte."""
    monkeypatch.chdir(tmp_path)
    (block,) = python_examples(examples_text())
    space: dict = {}
    exec(compile(block, str(README), "exec"), space)  # noqa: S102 - the README's own example
    import ntkviz

    assert set(space["ntkviz"].list_figures()) == set(ntkviz.list_figures())
    anim = space["anim"]
    assert isinstance(anim.result.kernels, np.ndarray)
    frame = anim.frame(0)
    assert frame.ndim == 3 and frame.shape[2] == 4
    sidecar = json.loads((tmp_path / "ellipses.gif.json").read_text())
    check_frames(tmp_path / "ellipses.gif", sidecar)
    # the sidecar's command is the equivalent shell command: it writes the same bytes
    words = argv(" ".join(shlex.quote(w) for w in sidecar["command"]))
    words[words.index("-o") + 1] = "cli.gif"
    assert cli(*words).exit_code == 0
    assert (tmp_path / "cli.gif").read_bytes() == (tmp_path / "ellipses.gif").read_bytes()


def _plain_signature(name: str, function) -> str:
    """``name(a, b=1, *, c, **d)`` as the README writes signatures: no annotations."""
    import inspect

    words, star = [], False
    for p in inspect.signature(function).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            words.append(f"**{p.name}")
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            words.append("*")
            star = True
        if p.name == "self":
            continue
        words.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return f"{name}({', '.join(words)})"


def test_readme_api_signatures_match_the_code():
    """The signatures the README writes out are the code's."""
    import ntkviz
    from ntkviz.api import Animation

    text = README.read_text()
    configure = _plain_signature("ntkviz.configure", ntkviz.configure)
    assert f"`{configure}`" in text, configure
    assert configure == "ntkviz.configure(name, quick=False, **options)"
    save = _plain_signature("save", Animation.save)
    assert save == "save(path, *, sidecar=True, **options)"
    assert "`save(path, *, sidecar=True, still, data, frames_dir, dither, jobs=1)`" in text
    assert "`render(name, quick=False, seed=0, *, progress=False, size," in text
    assert _plain_signature("render", ntkviz.render).startswith(
        "render(name, quick=False, seed=0, *, progress=False"
    )


# -- --data keys ----------------------------------------------------------------------------------

DATA_BEGIN, DATA_END = "<!-- data-keys: begin -->", "<!-- data-keys: end -->"


def result_class(spec) -> type:
    """The Result dataclass a figure's ``simulate`` returns (its return annotation)."""
    hints = typing.get_type_hints(spec.simulate)
    cls = hints["return"]
    assert dataclasses.is_dataclass(cls), spec.name
    return cls


def data_keys_markdown() -> str:
    """The README's table of each figure's ``--data`` keys, made from the Result dataclasses."""
    from ntkviz.figures import FIGURES

    rows = ["| figure | keys of `--data FILE.npz` (besides `__config__`) |", "| --- | --- |"]
    for name, spec in FIGURES.items():
        keys = ", ".join(f"`{f.name}`" for f in dataclasses.fields(result_class(spec)))
        rows.append(f"| `{name}` | {keys} |")
    return "\n".join(rows)


def test_readme_data_keys_match_the_results():
    text = README.read_text()
    assert DATA_BEGIN in text and DATA_END in text
    written = text.split(DATA_BEGIN)[1].split(DATA_END)[0].strip()
    assert written == data_keys_markdown(), (
        "README.md's --data keys are stale; paste `python -m tests.test_readme`'s output"
    )


def test_data_file_holds_those_keys(cli, tmp_path):
    """A --data file holds exactly the keys the table lists, and __config__ as the text says."""
    out = tmp_path / "t.png"
    data = tmp_path / "t.npz"
    assert cli("toy-model", "-o", out, "--data", data, *APPEND).exit_code == 0
    from ntkviz.figures import FIGURES

    with np.load(data) as npz:
        keys = set(npz.files)
        meta = json.loads(str(npz["__config__"]))
    fields = {f.name for f in dataclasses.fields(result_class(FIGURES["toy-model"]))}
    assert keys == fields | {"__config__"}
    assert set(meta) == {"figure", "config", "seed"}


if __name__ == "__main__":
    print(f"{DATA_BEGIN}\n{data_keys_markdown()}\n{DATA_END}")


# -- --help: what the README's option tables promise ----------------------------------------------


@pytest.mark.parametrize("figure", ["kernel-change", "toy-model", "posterior"])
def test_help_describes_without_template_holes(cli, figure):
    """--help shows no caption template with its numbers as "…", no default twice, and the
    output's default is the figure's own (a still figure writes a .png)."""
    from ntkviz.registry import load

    result = cli(figure, "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "…" not in text
    assert "sidecar" in text  # where a run's filled caption goes
    assert not re.search(r"\[default: [^\]]*\]\s*\[default:", text)  # no default twice
    assert not re.search(r"\(default:? [^)]*\)\s*\[default:", text)
    suffix = ".gif" if load()["figures"][figure]["animated"] else ".png"
    assert f"[default: {figure}{suffix}]" in text


def test_readme_states_the_output_default_per_figure():
    text = " ".join(README.read_text().split())
    assert "default `<figure>.gif` in the current folder" not in text
    assert "`<figure>.png` for a still" in text


def test_readme_times_every_figure():
    """The table of times and lessons has one row per figure, with both times."""
    from ntkviz.registry import load

    text = README.read_text()
    block = text.split("<!-- timings: begin -->")[1].split("<!-- timings: end -->")[0]
    rows = re.findall(
        r"^\| `ntkviz (\S+)` \| [^|]+ \| (\d+) \(\S+\) \| (\d+) \(\S+\) \|$", block, re.M
    )
    assert [r[0] for r in rows] == list(load()["figures"])
    assert "AMD EPYC" in text and "2026-12-05" in text  # the machine and the date named
