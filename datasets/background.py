"""Work overlapped on one background thread through a bounded queue (decoding ahead, writing behind).

Both keep memory bounded: at most ``depth`` items wait in the queue, the producer blocks when it is full.
Order is kept (one worker thread), so what is read or written is exactly what the caller would have
read or written itself; the first error of the worker is raised in the caller.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


def read_ahead(read: Callable[[int], T], indices: Iterable[int], depth: int = 2) -> Iterator[tuple[int, T]]:
    """Yield ``(i, read(i))`` for ``indices`` in order, reading up to ``depth`` items ahead on a thread.

    Closing the generator early stops the thread after its current read.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for index in indices:
                if not put((index, read(index), None)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            put((None, None, error))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            index, value, error = item
            if error is not None:
                raise error
            yield index, value
    finally:
        stop.set()
        thread.join()


class WriteBehind:
    """Run ``submit``-ted calls in order on one background thread, at most ``depth`` waiting.

    Use as a context manager: leaving it waits for every call; the first failing call's error is raised
    there (or at the next `submit`). Leaving it on an error of the caller drops the calls still waiting.
    """

    def __init__(self, depth: int = 8):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._jobs: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="write-behind", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _DONE:
                return
            if self._error is None:
                function, args = job
                try:
                    function(*args)
                except BaseException as error:  # noqa: BLE001 - handed to the caller
                    self._error = error

    def submit(self, function: Callable, *args) -> None:
        if self._error is not None:
            raise self._error
        self._jobs.put((function, args))

    def close(self) -> None:
        """Wait for every submitted call; raise the first error."""
        if self._thread.is_alive():
            self._jobs.put(_DONE)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> "WriteBehind":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            self._error = self._error or error  # the worker skips what is left
            self._jobs.put(_DONE)
            self._thread.join()
            return
        self.close()
