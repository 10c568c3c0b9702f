"""Progress of long flows, for whoever listens in this process (the CLI's progress bar).

A flow reports `(stage, done, total)`; it also publishes a Prefect progress artifact, so the
same progress shows in the UI. Listeners never see text, only counts.
"""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[str, int, int], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    _listeners.append(listener)


def forget(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def report(stage: str, done: int, total: int) -> None:
    for listener in list(_listeners):
        listener(stage, done, total)
