"""The memory a step may take: what the kernel says can be had, not only the free pages."""

from __future__ import annotations

import os

from ntkviz.runtime import memory


def test_the_limit_counts_the_page_cache_the_kernel_can_drop(tmp_path, monkeypatch):
    # 1 GiB free but 20 GiB available (a page cache full of files): the step may take 10 GiB
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       24000000 kB\nMemFree:         1048576 kB\n"
        "MemAvailable:   20971520 kB\nCached:         15000000 kB\n"
    )
    monkeypatch.setattr(memory, "MEMINFO", str(meminfo))
    monkeypatch.setattr(memory, "address_space_left", lambda: None)
    assert memory.available_memory() == 20 << 30
    assert memory.memory_limit() == 10 << 30


def test_without_meminfo_the_free_pages_are_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "MEMINFO", str(tmp_path / "missing"))
    monkeypatch.setattr(memory, "address_space_left", lambda: None)
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(memory.memory_limit() - free // 2) < 256 << 20  # free memory moves a little
