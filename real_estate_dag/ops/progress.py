"""Progress reports for long steps at a rate a person can read: a line per tenth of the work, but no
more often than every couple of seconds, and a line at least every minute while a slow step runs."""

import time
from collections.abc import Callable


class Progress:
    """Call with ``(done, total)`` as often as convenient; ``log`` gets a line when ``fraction`` of
    ``total`` more is done and ``min_interval_s`` have passed, when ``heartbeat_s`` have passed
    without a line, and when ``done == total``."""

    def __init__(
        self,
        log: Callable[[str], None],
        what: str,
        unit: str,
        *,
        rate_unit: str = "",
        fraction: float = 0.1,
        min_interval_s: float = 2.0,
        heartbeat_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.what = what
        self.unit = unit
        self.rate_unit = rate_unit or f" {unit}/s"
        self.fraction = fraction
        self.min_interval_s = min_interval_s
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.started = clock()
        self.last_time = self.started
        self.last_done: float = 0

    def __call__(self, done: float, total: float) -> None:
        if done <= self.last_done:
            return
        now = self.clock()
        since = now - self.last_time
        finished = bool(total) and done == total
        step_reached = bool(total) and done - self.last_done >= self.fraction * total
        if not (finished or (step_reached and since >= self.min_interval_s) or since >= self.heartbeat_s):
            return
        elapsed = now - self.started
        rate = f", {done / elapsed:.1f}{self.rate_unit}" if elapsed > 0 else ""
        of_total = f"/{_number(total)} {self.unit} ({100 * done / total:.0f}%)" if total else f" {self.unit}"
        self.log(f"{self.what}: {_number(done)}{of_total}{rate}")
        self.last_time, self.last_done = now, done


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def counted(n: int, noun: str) -> str:
    """``3 videos``, ``1 video``: for summary lines."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
