"""Which process a run belongs to, and whether that process is still alive.

A run records its host, pid and the process's start time; a pid alone is not enough, since
the system reuses pids, so a live process with the run's pid but another start time is not it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ProcessId:
    host: str
    pid: int
    started_at: float

    @classmethod
    def current(cls) -> "ProcessId":
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
