"""Peak memory and CPU time of named process trees, sampled in a thread (psutil).

Every `interval` seconds each watched tree (a process and all its descendants) is walked
and each process's resident set size read. On Linux the kernel's own high-water mark
(VmHWM in /proc/<pid>/status) is read too, so a spike between two samples still counts:
it is reset at the start of each window for processes that outlive windows (Dask workers),
where the kernel allows it (/proc/<pid>/clear_refs), and used only where it covers the
window alone.
"""

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class Usage:
    """What one window measured, per role (a watched tree)."""

    peak: dict[str, int] = field(default_factory=dict)  # largest process's peak RSS, bytes
    processes: dict[str, int] = field(default_factory=dict)  # processes seen in the tree
    cpu: dict[str, float] = field(default_factory=dict)  # user + system seconds used
    born: dict[str, int] = field(default_factory=dict)  # processes started in the window
    seen: set[int] = field(default_factory=set, repr=False)
    latest_cpu: dict[tuple[str, int], float] = field(default_factory=dict, repr=False)

    def largest(self) -> tuple[str, int]:
        """The role holding the largest process, and that process's peak."""
        role = max(self.peak, key=self.peak.get)
        return role, self.peak[role]


def high_water_mark(pid: int) -> int | None:
    """The kernel's peak RSS of a process in bytes, when /proc has it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def reset_high_water_mark(pid: int) -> bool:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # 5: reset the peak RSS
        return True
    return False


class Watcher:
    """Samples the trees of the processes it watches, by role, until stopped."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.roots: dict[str, psutil.Process] = {}
        self.lock = threading.Lock()
        self.usage: Usage | None = None
        self.exact: set[int] = set()  # pids whose high-water mark covers this window only
        self.known: set[int] = set()  # pids alive when the window opened
        self.cpu_at_start: dict[int, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def watch(self, role: str, pid: int) -> None:
        with self.lock:
            self.roots[role] = psutil.Process(pid)

    def forget(self, role: str) -> None:
        with self.lock:
            self.roots.pop(role, None)

    @contextlib.contextmanager
    def window(self) -> Iterator[Usage]:
        """Measure from here to the end of the block; the Usage is filled in at the end."""
        usage = Usage()
        with self.lock:
            self.exact, self.known, self.cpu_at_start = set(), set(), {}
            for _, process in self.trees():
                self.known.add(process.pid)
                if reset_high_water_mark(process.pid):
                    self.exact.add(process.pid)
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    self.cpu_at_start[process.pid] = times.user + times.system
            self.usage = usage
        try:
            yield usage
        finally:
            self.sample()  # the last moment of the window
            with self.lock:
                self.usage = None

    def trees(self) -> Iterator[tuple[str, psutil.Process]]:
        for role, root in list(self.roots.items()):
            try:
                yield role, root
                yield from ((role, child) for child in root.children(recursive=True))
            except psutil.Error:  # the root ended
                continue

    def sample(self) -> None:
        with self.lock:
            usage = self.usage
            if usage is None:
                return
            for role, process in self.trees():
                try:
                    with process.oneshot():
                        rss = process.memory_info().rss
                        times = process.cpu_times()
                except psutil.Error:
                    continue
                pid = process.pid
                if pid not in self.known and pid not in self.exact:
                    self.exact.add(pid)  # born in this window: its whole life is in it
                    usage.born[role] = usage.born.get(role, 0) + 1
                    self.known.add(pid)
                mark = high_water_mark(pid) if pid in self.exact else None
                usage.peak[role] = max(usage.peak.get(role, 0), rss, mark or 0)
                if pid not in usage.seen:
                    usage.seen.add(pid)
                    usage.processes[role] = usage.processes.get(role, 0) + 1
                spent = times.user + times.system - self.cpu_at_start.get(pid, 0.0)
                usage.latest_cpu[(role, pid)] = spent  # it accumulates: the latest counts
            usage.cpu = {}
            for (role, _), seconds in usage.latest_cpu.items():
                usage.cpu[role] = usage.cpu.get(role, 0.0) + seconds

    def loop(self) -> None:
        while not self.stopping.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
