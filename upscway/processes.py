"""Which process a run belongs to, and whether that process is still alive.

A run records its host, pid and the process's start time; a pid alone is not enough, since
the system reuses pids, so a live process with the run's pid but another start time is not it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ProcessId:
    host: str
    pid: int
    started_at: float

    @classmethod
    def current(cls) -> ProcessId:
        me = psutil.Process()
        return cls(socket.gethostname(), me.pid, me.create_time())

    def is_gone(self) -> bool:
        """True when this host can tell the process has ended; a process on another host is
        never called gone (this host cannot see it)."""
        if self.host != socket.gethostname():
            return False
        try:
            return abs(psutil.Process(self.pid).create_time() - self.started_at) > 1.0
        except psutil.NoSuchProcess:
            return True


def exit_with_parent(poll_s: float = 1.0) -> None:
    """Make this (worker) process exit once its parent is gone, however the parent went.

    A process-pool initializer: a worker blocked in a long fetch would otherwise outlive a
    SIGKILLed flow, re-parented to PID 1. A thread polls the parent pid rather than using
    Linux's parent-death signal, which fires when the *thread* that started the worker ends
    (a pool starts workers from whichever task thread submits first)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
