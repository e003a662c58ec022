"""Exploring one dependence: a figure over the values of one or two of its options, as one page
with a slider per option (``ntkviz explore``, ``ntkviz.explore``).

:mod:`~ntkviz.explorer.vary` reads and checks ``--vary``; :mod:`~ntkviz.explorer.build` computes
the variants in the worker pool with a cache; :mod:`~ntkviz.explorer.limits` makes them share
axes; :mod:`~ntkviz.explorer.run` plans, checks and writes the page (the player's, from
:mod:`ntkviz.output.explorer`). The package is not named ``explore``: ``ntkviz.explore`` is the
API's function.
"""
