"""Worker threads fed while the producer (usually the decoder) runs, so their work overlaps it.

Model inference and image codecs release the GIL, so threads share the cores with the decoder's
own threads. At most ``queue_size`` items wait besides the ones running: when the workers fall
behind, ``submit`` waits, so memory stays flat.
"""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Workers(Generic[T, R]):
    """``threads`` threads applying ``fn`` to submitted items; ``close`` returns the results in
    submission order. ``init`` runs on each worker thread before its first item. The first error
    cancels what is queued and is raised by the next ``submit`` or by ``close``; ``cancel`` drops
    what is queued and waits for the threads."""

    def __init__(self, fn: Callable[[T], R], threads: int = 1, queue_size: int = 4,
                 init: Callable[[], None] | None = None) -> None:
        self._fn, self._init = fn, init
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="workers")
        self._slots = threading.Semaphore(max(1, threads) + max(1, queue_size))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._futures: list[Future[R]] = []
        self._error: BaseException | None = None
        self.done = 0

    @property
    def submitted(self) -> int:
        return len(self._futures)

    def _run(self, item: T) -> R:
        if self._init is not None and not getattr(self._local, "ready", False):
            self._init()
            self._local.ready = True
        return self._fn(item)

    def _finished(self, future: Future[R]) -> None:
        self._slots.release()
        if future.cancelled():
            return
        error = future.exception()
        with self._lock:
            if error is None:
                self.done += 1
                return
            first = self._error is None
            if first:
                self._error = error
            pending = list(self._futures)
        if first:
            for other in pending:
                other.cancel()

    def _raise_error(self) -> None:
        if self._error is not None:
            self.cancel()
            raise self._error

    def submit(self, item: T) -> None:
        self._raise_error()
        self._slots.acquire()  # released as any item finishes, so a failure wakes a waiting producer
        if self._error is not None:
            self._slots.release()
            self._raise_error()
        future = self._pool.submit(self._run, item)
        with self._lock:
            self._futures.append(future)
        future.add_done_callback(self._finished)

    def close(self) -> list[R]:
        self._pool.shutdown(wait=True)
        self._raise_error()
        return [future.result() for future in self._futures]

    def cancel(self) -> None:
        """Stop without finishing what is queued (the producer failed)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
