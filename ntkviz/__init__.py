"""ntkviz: animations of neural networks training in the lazy / kernel regime.

Each figure of the post "Understanding the Neural Tangent Kernel" (R. V. Dwaraknath, 2019) is a
module in :mod:`ntkviz.figures` with a Config, a ``simulate`` and a renderer; the CLI runs them
through :func:`ntkviz.pipeline.run_figure`.

From Python or Jupyter (:mod:`ntkviz.api`, imported on first use so that ``import ntkviz`` stays
cheap): ``ntkviz.list_figures()``, ``ntkviz.options(name)``, ``ntkviz.configure(name, **options)`` and
``ntkviz.render(name, quick=False, seed=0, **options)``, which returns an
:class:`~ntkviz.api.Animation` (``.result``, ``.frame(i)``, ``.save(path)``, an inline player);
``ntkviz.rerun(sidecar, **overrides)`` runs again what a sidecar records (``ntkviz rerun``) and
``ntkviz.load_sidecar(sidecar)`` reads one back, checked;
``ntkviz.explore(name, vary={"alphas": [0.01, 1, 100]})``: the figure over an option's values,
one page with a slider (:mod:`ntkviz.explorer`).
"""

import sys
import types

from ntkviz.runtime.threads import passive_wait

# Threads waiting for work sleep instead of spinning (a spinning OpenMP team made every figure
# several times slower beside another busy process): OpenMP reads this once, when torch loads,
# so it is set here, before anything imports torch, and only if the user has not set it.
passive_wait()

from ntkviz.version import __version__  # noqa: E402 - after passive_wait

#: Names this package exports from :mod:`ntkviz.api`, loaded on first access.
# Not ``figures``/``config``: those are submodules, and importing one makes it the package's
# attribute of that name, which would hide a function.
_API = ("list_figures", "options", "configure", "render", "Animation", "rerun", "load_sidecar")
#: Names from :mod:`ntkviz.explorer.run` (``ntkviz explore``), loaded on first access.
_EXPLORE = ("explore", "Exploration")


def __getattr__(name: str):
    if name in _API:
        from ntkviz import api

        return getattr(api, name)
    if name in _EXPLORE:
        from ntkviz.explorer import run

        return getattr(run, name)
    if name == "kernels":  # the researcher's kernels (NumPy in and out), loaded on first use
        import ntkviz.kernels

        return ntkviz.kernels
    if name == "ConfigError":
        from ntkviz.errors import ConfigError

        return ConfigError
    raise AttributeError(f"module 'ntkviz' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API only (not this module's helpers, nor its submodules)."""
    return sorted(__all__)


class _Package(types.ModuleType):
    """Importing a submodule sets it as the package's attribute of its name: ``ntkviz.options``
    (the shared options' module) would then hide the API's ``ntkviz.options(name)``. The API's
    names stay the API's; the submodules are in ``sys.modules`` (``from ntkviz.options import``)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
del passive_wait

__all__ = ["__version__", *_API, *_EXPLORE, "ConfigError", "kernels"]
