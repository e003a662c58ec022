"""examples/ntkviz.ipynb runs top to bottom in a Jupyter kernel and shows the player inline.

Skips, with the reason, without nbclient, nbformat or ipykernel (pip install -e '.[dev]');
with NTKVIZ_REQUIRE_BROWSER=1 (set by .ci/run) it fails instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.output.test_player import browser  # noqa: F401 - the same headless Chromium fixture

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "ntkviz.ipynb"


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        reason = f"{module} is not installed (pip install -e '.[dev]')"
        if os.environ.get("NTKVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"NTKVIZ_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = _need("nbformat")
    _need("nbclient")
    _need("ipykernel")
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("notebook")
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    notebook = nbformat.read(folder / NOTEBOOK.name, as_version=4)
    # The kernel is this Python's (ipykernel's own "python3" spec runs sys.executable).
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    return notebook, folder


def _html(cell) -> list[str]:
    return [
        out["data"]["text/html"]
        for out in cell.get("outputs", [])
        if "text/html" in out.get("data", {})
    ]


def test_example_notebook_runs_and_shows_players(executed):
    notebook, folder = executed
    code = [c for c in notebook.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    players = [h for c in code for h in _html(c) if 'class="ntkviz-player"' in h]
    assert len(players) == 2  # ntk-ellipses and the toy model with another alpha_max
    assert "ntk-ellipses" in players[0] and "toy-model" in players[1]
    assert "step " in players[0]  # the training step of each frame
    printed = "".join(o.get("text", "") for c in code for o in c.get("outputs", []))
    assert "--alpha-max must be" in printed  # the CLI's message
    assert (folder / "toy-model.html").is_file() and (folder / "toy-model.html.json").is_file()


def test_notebook_players_work_in_a_browser(executed, browser, tmp_path):  # noqa: F811
    """The cells' HTML outputs, on one page as Jupyter shows them, play in Chromium."""
    from tests.output.test_player import _errors, _open, _wait

    notebook, _ = executed
    outputs = [h for c in notebook.cells if c.cell_type == "code" for h in _html(c)]
    page = "<!DOCTYPE html><html><body>" + "".join(outputs) + "</body></html>"
    (tmp_path / "outputs.html").write_text(page)
    _open(browser, tmp_path / "outputs.html")
    _wait(browser, "return (window.ntkvizPlayers || []).filter(p => p.loaded).length == 2")
    browser.execute_script("window.ntkvizPlayers.forEach(p => p.seek(p.count - 1))")
    labels = browser.execute_script(
        "return [...document.querySelectorAll('.np-pos')].map(e => e.textContent)"
    )
    # ntk-ellipses: step 0 and the notebook's 10 frames after it; toy-model: its 12 frames. Each
    # alpha of ntk-ellipses runs on its own clock (its steps differ from run to run: the caption
    # states them), and toy-model's frames are not training steps, so neither label names a step.
    assert labels == ["frame 11 / 11", "frame 12 / 12"]
    assert browser.execute_script("return window.ntkvizPlayers.map(p => p.frame)") == [10, 11]
    assert _errors(browser) == []
