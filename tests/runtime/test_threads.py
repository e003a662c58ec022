"""The thread policy (ntkviz.runtime.threads): one thread for a figure's many small ops, the budget for
a single large op, restored afterwards; OMP_WAIT_POLICY set before torch loads."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from ntkviz.figures import FIGURES
from ntkviz.figures.base import defaults
from ntkviz.numerics.ntk_sampler import sampled_flops
from ntkviz.runtime import threads


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    threads.set_budget(2)
    yield
    threads.set_budget(None)
    torch.set_num_threads(before)


def test_every_figure_simulates_under_the_policy():
    for name, spec in FIGURES.items():
        assert hasattr(spec.simulate, "__wrapped__"), f"{name}: simulate lacks @numeric"


@pytest.fixture
def idle(monkeypatch):
    """Two usable CPUs and nothing else running: /proc/loadavg counts only the caller."""
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads, "free_cpus", lambda: 2)


def test_threads_for_op_size(two_threads, idle):
    assert threads.threads_for(1e6) == 1
    assert threads.threads_for(threads.LARGE_OP_FLOPS) == 2
    assert threads.threads_for(1e12, device="cuda") == 1


@pytest.mark.parametrize(
    "readings, expected",
    [
        (["1/90", "1/90", "1/90"], 2),
        (["2/90", "2/91", "2/90"], 1),
        (["3/90", "2/90", "2/90"], 1),
        (["2/90", "1/90", "4/90"], 2),
        (["9/90", "9/90", "9/90"], 1),
    ],
)
def test_free_cpus_reads_the_runnable_tasks(monkeypatch, tmp_path, readings, expected):
    """Usable CPUs minus the other runnable tasks (the smallest of three readings), at least 1."""
    import builtins

    lines = iter(f"0.50 0.40 0.30 {r} 4242\n" for r in readings)
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if path == "/proc/loadavg":
            target = tmp_path / "loadavg"
            target.write_text(next(lines))
            return real_open(target, *args, **kwargs)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    assert threads.free_cpus() == expected


def test_free_cpus_counts_the_whole_machine(monkeypatch, tmp_path):
    """/proc/loadavg counts every task of the machine: on 64 CPUs, 10 runnable tasks leave all 8
    of this process's CPUs free; 70 leave none but its own."""
    import builtins

    real_open = builtins.open
    runnable = {"count": 10}

    def fake_open(path, *args, **kwargs):
        if path == "/proc/loadavg":
            target = tmp_path / "loadavg"
            target.write_text(f"5.0 5.0 5.0 {runnable['count']}/900 4242\n")
            return real_open(target, *args, **kwargs)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 64)
    assert threads.free_cpus() == 8
    runnable["count"] = 70
    assert threads.free_cpus() == 1


def test_a_large_op_gets_no_more_threads_than_free_cpus(two_threads, monkeypatch):
    """With one of two cores busy elsewhere, a large op runs on one thread: a second thread on
    the busy core would run at half speed and the op would wait for it."""
    monkeypatch.setattr(threads, "free_cpus", lambda: 1)
    assert threads.threads_for(1e12) == 1
    monkeypatch.setattr(threads, "free_cpus", lambda: None)  # unknown: the budget
    assert threads.threads_for(1e12) == 2


def test_free_cpus_sees_a_busy_process():
    """A real competitor: a busy loop on this machine leaves one CPU fewer free."""
    import time

    if not os.path.exists("/proc/loadavg"):
        pytest.skip("no /proc/loadavg")

    def most_free() -> int:  # the best of several readings: a passing task is not counted
        readings = []
        for _ in range(5):
            readings.append(threads.free_cpus())
            time.sleep(0.02)
        return max(readings)

    quiet = most_free()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        loaded = most_free()  # the busy loop is runnable at every reading
    finally:
        busy.kill()
        busy.wait()
    assert loaded <= max(1, quiet - 1)


def test_numeric_runs_on_one_thread_and_restores(two_threads, idle):
    seen = []

    @threads.numeric
    def simulate(config, generator, progress, device):
        seen.append(torch.get_num_threads())
        with threads.for_op(1e10, device):
            seen.append(torch.get_num_threads())
        with threads.for_op(1e3, device):
            seen.append(torch.get_num_threads())

    assert torch.get_num_threads() == 2
    simulate(None, None, None, "cpu")
    assert seen == [1, 2, 1]
    assert torch.get_num_threads() == 2


def test_threads_inside_real_figures(two_threads, idle, monkeypatch):
    """init-functions trains on one thread; ntk-convergence's wide kernels get the budget, its
    narrow ones one thread: what threads_for says for their size."""
    import ntkviz.figures.common as common  # init-functions trains through common.train_mse
    import ntkviz.figures.ntk_convergence as ntk_convergence

    seen: dict[str, list[int]] = {"train": [], "kernel": []}
    real_train, real_kernel = common.train, ntk_convergence.sampled_ntk

    def train(*args, **kwargs):
        seen["train"].append(torch.get_num_threads())
        return real_train(*args, **kwargs)

    def kernel(net, *args, **kwargs):
        seen["kernel"].append((net.width, torch.get_num_threads()))
        return real_kernel(net, *args, **kwargs)

    monkeypatch.setattr(common, "train", train)
    monkeypatch.setattr(ntk_convergence, "sampled_ntk", kernel)
    spec = FIGURES["init-functions"]
    config, _ = defaults(spec, True)
    spec.simulate(config, torch.Generator().manual_seed(0), None, "cpu")
    assert seen["train"] == [1]

    spec = FIGURES["ntk-convergence"]
    config, _ = defaults(spec, True)
    config = replace(config, widths=(10, 4000), seeds=2, points=60)
    spec.simulate(config, torch.Generator().manual_seed(0), None, "cpu")
    for width, count in seen["kernel"]:
        flops = sampled_flops(config.net(width), 2, 61)
        assert count == threads.threads_for(flops), (width, count)
    assert [c for _, c in seen["kernel"]] == [1, 2]
    assert torch.get_num_threads() == 2


def test_passive_wait_set_on_import_unless_the_user_chose():
    code = "import os, ntkviz, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE"
    late = "import os, torch, ntkviz; print(os.environ.get('OMP_WAIT_POLICY'))"
    env.pop("OMP_WAIT_POLICY")
    out = subprocess.run([sys.executable, "-c", late], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "None"  # torch came first: setting it would be a lie
