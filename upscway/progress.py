"""Progress of long work, for whoever listens in this process (the CLI's live display).

Flows and tasks report `(stage, done, total)` as work advances and one line when a step
ends; a listener draws them. Reports carry counts and short sentences, never article text.
With no listener (a served run, a test) a report costs a loop over an empty list.
"""

from __future__ import annotations

from typing import Protocol


class Listener(Protocol):
    def advance(self, stage: str, done: int, total: int) -> None: ...

    def finished(self, step: str, status: str, line: str) -> None: ...

    def note(self, line: str) -> None: ...


_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    _listeners.append(listener)


def forget(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def report(stage: str, done: int, total: int) -> None:
    """`done` of `total` items of `stage` are through."""
    for listener in list(_listeners):
        listener.advance(stage, done, total)


def note(line: str) -> bool:
    """A line about work that is waiting (for a lock, a server); False when nobody listens."""
    for listener in list(_listeners):
        listener.note(line)
    return bool(_listeners)


def finished(step: str, status: str, line: str) -> None:
    """A step ended with `status` (completed, failed, skipped, ...); `line` says what it did."""
    for listener in list(_listeners):
        listener.finished(step, status, line)
