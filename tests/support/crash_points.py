"""Crash points: make a process "die" at a chosen step, to check what a restart finds.

:func:`crash_at` wraps one async method of an object so that its ``nth`` call raises
:class:`ProcessDied` before the real call (the step never happened) or after it (the step
happened, nobody heard of it). ``ProcessDied`` is a ``BaseException``: no ``except
Exception`` or ``except JirabridgeError`` on the way out can swallow it, as nothing in a
process survives ``kill -9``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CrashPoint", "ProcessDied", "crash_at"]


class ProcessDied(BaseException):
    """The process stopped here."""


@dataclass(frozen=True)
class CrashPoint:
    """Where to stop: ``when`` the ``nth`` call of ``owner.method`` runs."""

    owner: str
    method: str
    when: Literal["before", "after"] = "after"
    nth: int = 1

    def __str__(self) -> str:
        suffix = f"#{self.nth}" if self.nth != 1 else ""
        return f"{self.when}-{self.owner}.{self.method}{suffix}"


@contextmanager
def crash_at(target: Any, point: CrashPoint) -> Iterator[None]:
    """Within the block, ``target.<point.method>`` dies at ``point``; restored on exit."""
    real = getattr(target, point.method)
    calls = 0

    async def dying(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == point.nth and point.when == "before":
            raise ProcessDied(str(point))
        result = await real(*args, **kwargs)
        if calls == point.nth:
            raise ProcessDied(str(point))
        return result

    setattr(target, point.method, dying)
    try:
        yield
    finally:
        setattr(target, point.method, real)
