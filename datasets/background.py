"""Writing behind: calls run in order on one background thread through a bounded queue.

Memory stays bounded: at most ``depth`` calls wait in the queue, the producer blocks when it is full.
Order is kept (one worker thread), so what is written is exactly what the caller would have written
itself; the first error of the worker is raised in the caller. Only for calls that share no state with
the caller (writing a finished array to its own file); frames are not decoded ahead, since a frame
source such as a video decoder is sequential and not thread-safe.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable

_DONE = object()


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
