"""ntkviz: animations of neural networks training in the lazy / kernel regime.

Each figure of the post "Understanding the Neural Tangent Kernel" (R. V. Dwaraknath, 2019) is a
module in :mod:`ntkviz.figures` with a Config, a ``simulate`` and a renderer; the CLI runs them
through :func:`ntkviz.pipeline.run_figure`.
"""

__version__ = "0.1.0"
