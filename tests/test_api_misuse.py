"""The Python API given values of the wrong type (a float frame index, a number for a path, a
string for a flag, a list holding a word): ntkviz.ConfigError with one line naming what was
wrong, never a raw TypeError or ValueError from deep inside. The same errors are also the
TypeError (or IndexError) Python code expects. Values of the right kind in another type (NumPy's
integers, floats, booleans and 1-D arrays) are taken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ntkviz
from ntkviz.errors import ConfigError

TINY = {"size": "3x2", "dpi": 40, "hold": 0}


@pytest.fixture(scope="module")
def anim():
    return ntkviz.render("toy-model", quick=True, frames=3, points=30, **TINY)


def one_line_config_error(call, *words: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        call()
    text = str(caught.value)
    assert "\n" not in text and all(w in text for w in words), text
    return caught.value


@pytest.mark.parametrize("index", [1.5, "1", None, True, 1.0, [0]])
def test_frame_index_of_the_wrong_type(anim, index):
    error = one_line_config_error(lambda: anim.frame(index), "frame(i) takes a whole number")
    assert isinstance(error, TypeError)


@pytest.mark.parametrize("index", [3, -4, 10**30])
def test_frame_index_out_of_range(anim, index):
    error = one_line_config_error(lambda: anim.frame(index), f"frame {index} of 3")
    assert isinstance(error, IndexError)


def test_frame_takes_numpy_integers(anim):
    np.testing.assert_array_equal(anim.frame(np.int64(2)), anim.frame(2))
    np.testing.assert_array_equal(anim.frame(np.int32(-1)), anim.frame(2))


@pytest.mark.parametrize("path", [123, None, b"x.gif", 1.5, ["x.gif"]])
def test_save_path_of_the_wrong_type(anim, tmp_path, path):
    one_line_config_error(lambda: anim.save(path), "save(path) must be a file name")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("keyword", "value", "words"),
    [
        ("still", 123, "still must be a file name"),
        ("data", 1.5, "data must be a file name"),
        ("frames_dir", ["f"], "frames_dir must be a file name"),
        ("sidecar", "no", "'sidecar': Input should be a valid boolean"),
        ("dither", "yes", "'--dither': Input should be a valid boolean"),
        ("jobs", "two", "'--jobs': Input should be a valid integer"),
        ("nope", 1, "unexpected keyword argument 'nope'"),
    ],
)
def test_save_options_of_the_wrong_type(anim, tmp_path, keyword, value, words):
    error = one_line_config_error(lambda: anim.save(tmp_path / "a.gif", **{keyword: value}), words)
    assert isinstance(error, TypeError)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"size": ("a", 2)}, "--size must look like WxH"),
        ({"size": (1, None)}, "--size must look like WxH"),
        ({"size": (True, 2)}, "--size must look like WxH"),
        ({"progress": "no"}, "'progress': Input should be a valid boolean"),
        ({"quick": "yes"}, "'--quick': Input should be a valid boolean"),
        ({"seed": 1.5}, "'--seed': Input should be a valid integer"),
        ({"alpha_max": 10**400}, "'--alpha-max': Input should be a number a float can hold"),
        ({"fps": [1]}, "'--fps': Input should be a valid number"),
    ],
)
def test_render_options_of_the_wrong_type(options, words):
    one_line_config_error(lambda: ntkviz.render("toy-model", **{"quick": True, **options}), words)


@pytest.mark.parametrize("alphas", [(1, "x"), [None], ({},), (1, [2])])
def test_list_option_items_of_the_wrong_type(alphas):
    one_line_config_error(
        lambda: ntkviz.configure("ntk-ellipses", alphas=alphas), "'--alphas': Input should be"
    )


def test_configure_quick_must_be_a_flag():
    one_line_config_error(lambda: ntkviz.configure("toy-model", quick="no"), "'quick'")


def test_numpy_values_are_taken():
    config = ntkviz.configure(
        "ntk-ellipses", alphas=np.array([0.5, 2.0]), frames=np.int64(4), quick=np.bool_(True)
    )
    assert config.alphas == (0.5, 2.0) and config.frames == 4
    assert type(config.frames) is int and all(type(a) is float for a in config.alphas)
    config = ntkviz.configure("toy-model", alpha_max=np.float32(10))
    assert config.alpha_max == 10.0 and type(config.alpha_max) is float


def test_a_path_like_is_taken(anim, tmp_path):
    class Named:
        def __fspath__(self) -> str:
            return str(tmp_path / "a.png")

    record = anim.save(Named())
    assert record["format"] == "png" and Path(tmp_path / "a.png").is_file()
