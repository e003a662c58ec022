"""Running torch's CPU work on one thread for a while."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def single_thread(device: str = "cpu") -> Iterator[None]:
    """Run torch's CPU ops on one thread inside, then restore the thread count.

    Our numerics are thousands of small tensor ops (ensembles of small nets, chunked elementwise
    norms, per-member draws). With intra-op threads each op pays a fork/join, and on a shared,
    busy machine the spinning threads made them 10-30 times slower (measured on two cores: a
    training step at width 100 took 36 ms against 1.2 ms; exact norms at m = 10^7, 2-37 s against
    0.3-0.6 s; drawing 4000 nets of width 256, 29 s against 4 s). Work on a GPU is unaffected.
    """
    before = torch.get_num_threads()
    if device != "cpu" or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
