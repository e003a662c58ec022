"""The worker pool: every task's result in order, failures and dead workers raised here, and a
stop signal ends every worker with the parent."""

from __future__ import annotations

import math
import operator
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ntkviz.errors import NtkvizError
from ntkviz.runtime.pool import run_tasks


def test_results_in_order_from_worker_processes():
    done = []
    pids = run_tasks(operator.call, [os.getpid] * 4, 2, lambda i, r: done.append(i))
    assert os.getpid() not in pids and 1 <= len(set(pids)) <= 2
    assert sorted(done) == [0, 1, 2, 3]
    assert run_tasks(math.factorial, [5, 3, 0], 3) == [120, 6, 1]


def test_one_worker_runs_here():
    assert run_tasks(operator.call, [os.getpid] * 2, 1) == [os.getpid()] * 2
    assert run_tasks(math.factorial, [], 4) == []


def test_a_task_error_is_raised_here():
    with pytest.raises(ValueError, match="invalid literal"):
        run_tasks(int, ["1", "x", "3"], 2)


def test_a_dead_worker_is_an_error_not_a_hang():
    with pytest.raises(NtkvizError, match="exit status 3"):
        run_tasks(os._exit, [3, 3], 2)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_every_worker(signum):
    script = textwrap.dedent(
        """
        import sys, time
        from ntkviz.runtime.lifecycle import install_stop_handlers, interrupt_code
        from ntkviz.runtime.pool import run_tasks
        install_stop_handlers()
        try:
            run_tasks(time.sleep, [60, 60, 60], 2)
        except KeyboardInterrupt as exc:
            sys.exit(interrupt_code(exc)[0])
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline:  # two workers and spawn's resource tracker
            workers = _children(parent.pid)
            if len(workers) >= 3 and all(_alive(p) for p in workers):
                break
            time.sleep(0.1)
        assert len(workers) >= 3
        time.sleep(1.0)  # the workers are asleep in their tasks
        parent.send_signal(signum)
        assert parent.wait(30) == 128 + signum
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p for p in workers if _alive(p)] == []
    finally:
        if parent.poll() is None:
            parent.kill()
