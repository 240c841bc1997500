"""Worker threads fed while the producer (usually the decoder) runs, so their work overlaps it.

Model inference and image codecs release the GIL, so threads share the cores with the decoder's
own threads. A bounded queue keeps memory flat: when the workers fall behind, ``submit`` waits.
"""

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_STOP = object()


class Workers(Generic[T, R]):
    """``threads`` threads applying ``fn`` to submitted items; ``close`` returns the results in
    submission order. A worker's exception is raised by the next ``submit`` or by ``close``;
    ``cancel`` drops what is queued and waits for the threads."""

    def __init__(self, fn: Callable[[T], R], threads: int = 1, queue_size: int = 4,
                 init: Callable[[], None] | None = None) -> None:
        self._fn, self._init = fn, init
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._results: dict[int, R] = {}
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._cancelled = self._stopped = False
        self.submitted = self.done = 0
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(max(1, threads))]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        try:
            if self._init:
                self._init()
        except BaseException as exc:  # raised again in the producer's thread
            self._fail(exc)
        while (item := self._queue.get()) is not _STOP:
            if self._error is not None or self._cancelled:
                continue  # drain, so a producer blocked on a full queue gets to see the error
            index, value = item
            try:
                result = self._fn(value)
            except BaseException as exc:  # raised again in the producer's thread
                self._fail(exc)
                continue
            with self._lock:
                self._results[index] = result
                self.done += 1

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = exc

    def _stop(self, drop: bool) -> None:
        if self._stopped:
            return
        self._stopped = True
        if drop:
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()

    def submit(self, item: T) -> None:
        if self._error is not None:
            self._stop(drop=True)
            raise self._error
        self._queue.put((self.submitted, item))
        self.submitted += 1

    def close(self) -> list[R]:
        self._stop(drop=False)
        if self._error is not None:
            raise self._error
        return [self._results[i] for i in range(self.submitted)]

    def cancel(self) -> None:
        """Stop without finishing what is queued (the producer failed)."""
        self._cancelled = True
        self._stop(drop=True)
