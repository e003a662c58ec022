"""The README's "Seven research tasks" (issue 24) run as written, at small size: each task's
blocks (``<!-- task: NAME -->`` before each) in order, in a fresh folder, the Python blocks in one
namespace. Figure commands get ``--quick --no-progress`` appended (as tests/test_readme.py does);
from Python, ``ntkviz.render`` and ``ntkviz.explore`` run with ``quick=True``. A block marked
``needs: X`` runs only where X exists (a command-line option, an attribute of ``ntkviz``, a CUDA
device); the task is skipped there, naming what it waits for, so that it runs the day it lands."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from tests.test_readme import APPEND, README, TASK, argv, check_written, fenced, shell_examples

TASKS = ("rate", "paper", "own-data", "alphas", "reproduce", "gpu", "explore")


def blocks() -> dict[str, list[tuple[str, str, list[str]]]]:
    """Task name -> its blocks in order: (language, body, needs)."""
    tasks: dict[str, list[tuple[str, str, list[str]]]] = {}
    for match in TASK.finditer(README.read_text()):
        name, _, needs = (part.strip() for part in match.group(1).partition(";"))
        needs = needs.removeprefix("needs:").split() if needs else []
        ((lang, body),) = fenced(match.group(0)[match.group(0).index("```") :])
        tasks.setdefault(name, []).append((lang, body, needs))
    return tasks


def test_the_readme_shows_the_seven_tasks():
    found = blocks()
    assert tuple(found) == TASKS
    for name, parts in found.items():
        assert any(not needs for _, _, needs in parts) or name == "paper", name
        for lang, body, _ in parts:
            assert lang in ("sh", "python"), (name, lang)
            assert len(body.strip().splitlines()) <= 12, f"{name}: a few lines, not a program"


def missing(need: str, commands: list[list[str]]) -> str | None:
    """Why ``need`` is not met here, or None where it is."""
    if need.startswith("--"):
        from ntkviz.options import SHARED
        from ntkviz.registry import load

        shared = {f.split("/")[0] for o in SHARED for f in o.flags}
        figures = load()["figures"]
        for words in commands:
            own = {"--" + o["name"].replace("_", "-") for o in figures[words[0]]["options"]}
            if need not in shared | own:
                return f"ntkviz {words[0]} has no {need} yet (issue 24, built beside this)"
        return None
    if need.startswith("ntkviz."):
        import ntkviz

        return (
            None
            if hasattr(ntkviz, need.split(".", 1)[1])
            else f"no {need} yet (issue 24, built beside this)"
        )
    if need == "cuda":
        import torch

        return None if torch.cuda.is_available() else "no CUDA device on this machine"
    raise AssertionError(f"unknown need {need!r}")


def _small(monkeypatch) -> None:
    """From Python, every render and explore of the blocks at --quick size."""
    import ntkviz

    for name in ("render", "explore"):
        real = getattr(ntkviz, name)

        @functools.wraps(real)
        def small(*args, _real=real, **kwargs):
            kwargs["quick"] = True
            return _real(*args, **kwargs)

        monkeypatch.setattr(ntkviz, name, small)


def run_shell(cli, line: str, folder: Path) -> None:
    words = argv(line)
    if words[0] in ("check-gpu", "rerun"):  # their own size: the line's, or the sidecar's
        result = cli(*words)
    else:
        result = cli(*words, *APPEND)
    assert result.exit_code == 0, f"{line}\n{result.output}"
    if words[0] == "check-gpu":
        rows = [r for r in result.stdout.splitlines() if r.startswith("| ")][2:]
        named = words[words.index("--only") + 1].split(",")
        assert [r.split("|")[1].strip() for r in rows] == named
        assert all("FAILED" not in r and "NO (" not in r for r in rows), result.stdout
    elif words[0] == "explore":
        page = (folder / words[words.index("-o") + 1]).read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>")
    elif words[0] == "rerun":
        out = folder / words[words.index("-o") + 1]
        theirs = json.loads((folder / words[1]).read_text())
        mine = json.loads(Path(f"{out}.json").read_text())
        assert mine["config"] == theirs["config"] and mine["facts"] == theirs["facts"]
    else:
        check_written(folder, words)


@pytest.mark.parametrize("task", TASKS)
def test_readme_task(task, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _small(monkeypatch)
    space: dict = {}
    reasons: list[str] = []
    for lang, body, needs in blocks()[task]:
        sh = lang == "sh"
        commands = [argv(line) for line in shell_examples(f"```sh\n{body}```\n")] if sh else []
        reasons = [r for r in (missing(n, commands) for n in needs) if r]
        if reasons:  # this block and the task's later ones wait; what ran is checked first
            break
        if lang == "sh":
            for words in commands:
                run_shell(cli, "ntkviz " + " ".join(words), tmp_path)
        else:
            exec(compile(body, f"README.md task {task}", "exec"), space)  # noqa: S102
    check_task(task, space, tmp_path)
    if reasons:
        pytest.skip("; ".join(reasons) + ": its block runs once that exists")


def check_task(task: str, space: dict, folder: Path) -> None:
    """What the text beside a task says, on what its blocks made."""
    if task == "rate":
        assert len(space["slopes"]) == 5 and all(-1 < s < 0 for s in space["slopes"])
    if task == "own-data":
        sidecar = json.loads((folder / "mine.gif.json").read_text())
        assert sidecar["config"]["x_train"] == pytest.approx(list(space["x"]))
        assert space["spectrum"].result.x.shape == (40, 3)
        assert json.loads((folder / "mine-rich-lazy.gif.json").read_text())["train_data"]


def test_readme_gpu_share_names_every_figure():
    """The GPU section's table: one row per figure, its simulate share that of its seconds."""
    import re

    from ntkviz.registry import load

    text = README.read_text()
    block = text.split("<!-- gpu-share: begin -->")[1].split("<!-- gpu-share: end -->")[0]
    rows = re.findall(
        r"^\| `(\S+)` \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) % \| [^|]+ \|$", block, re.M
    )
    assert sorted(r[0] for r in rows) == sorted(load()["figures"])
    for name, simulate, render, write, share in rows:
        total = float(simulate) + float(render) + float(write)
        assert abs(100 * float(simulate) / total - int(share)) <= 1.5, name
