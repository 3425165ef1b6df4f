"""Background threads of the per-frame loop: writing behind (`WriteBehind`) and reading ahead (`ReadAhead`).

Memory stays bounded: at most ``depth`` calls wait to be written, at most ``depth`` frames are read ahead.
Order is kept (one worker thread each), so what is written or read is exactly what the caller would have
written or read itself; the first error of a worker is raised in the caller.

- `WriteBehind` is for calls that share no state with the caller (merge a frame's finished predictions
  into a label map and write it to its own file).
- `ReadAhead` decodes the next frames while the caller works on this one. A frame source such as a video
  decoder is sequential and not thread-safe, so its reads are serialised (`serialized`): the worker and
  any other reader of the same source (the point tracker, an overlay drawing a frame again) never enter it
  at once.
- `in_order` runs independent jobs on several threads at once and hands their results over in order (the
  frame loop's frames on a multi-core CPU); at most ``workers`` jobs are started and not yet handed over.
"""
from __future__ import annotations

import functools
import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

_DONE = object()
T = TypeVar("T")


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


def serialized(read: Callable[[int], np.ndarray]) -> Callable[[int], np.ndarray]:
    """``read`` behind a lock: calls from several threads run one at a time (returns ``read`` if already so)."""
    if getattr(read, "serialized", False):
        return read
    lock = threading.Lock()

    @functools.wraps(read)
    def locked(t: int) -> np.ndarray:
        with lock:
            return read(t)

    locked.serialized = True
    return locked


class ReadAhead:
    """``read(t)`` for the frames a caller asks for in increasing order, read on a thread up to ``depth`` ahead.

    Call the object as ``read``: a frame the worker has read (or is reading) is handed over, the last
    ``depth`` frames handed over (in the order first handed over) are kept and handed over again when asked
    again (an overlay drawing the frame just segmented: a sequential decoder, already past it, would restart
    from the first frame), any
    other is read on the caller's thread. Frames the caller skips are dropped; the worker goes on from the
    caller's latest frame, so it reads at most ``depth`` frames nobody asks for. At most 2 * ``depth``
    frames are held. Use as a context manager (or call `close`), which stops the worker.

    Args:
        read: ``t -> (H, W, 3) uint8`` frame (made `serialized`: the caller's own reads share its lock).
        num_frames: T.
        depth: frames read ahead of the caller's latest at most.
    """

    def __init__(self, read: Callable[[int], np.ndarray], num_frames: int, depth: int = 4):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.read, self.num_frames, self.depth = serialized(read), num_frames, depth
        self._ready: dict[int, np.ndarray | BaseException] = {}
        self._recent: dict[int, np.ndarray] = {}  # the last frames handed over, oldest first
        self._reading: int | None = None  # the frame the worker is reading now
        self._next = 0  # the next frame the worker reads
        self._wanted = 0  # one past the caller's latest frame
        self._stop = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="read-ahead", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._stop and (self._next >= self.num_frames or self._next >= self._wanted + self.depth):
                    self._changed.wait()
                if self._stop:
                    return
                t = self._reading = self._next
                self._next += 1
            try:
                frame = self.read(t)
            except BaseException as error:  # noqa: BLE001 - raised in the caller if it asks for this frame
                frame = error
            with self._changed:
                self._ready[t] = frame
                self._reading = None
                self._changed.notify_all()

    def __call__(self, t: int) -> np.ndarray:
        with self._changed:
            self._wanted = max(self._wanted, t + 1)
            self._next = max(self._next, t + 1)  # a frame the worker has not reached: it goes on after it
            self._changed.notify_all()
            while self._reading == t:
                self._changed.wait()
            frame = self._ready.pop(t, None)
            for old in [k for k in self._ready if k < t]:  # skipped by the caller
                del self._ready[old]
            if frame is None:
                frame = self._recent.get(t)
        if frame is None:
            frame = self.read(t)
        if isinstance(frame, BaseException):
            raise frame
        with self._changed:
            if t not in self._recent:  # kept in the order first handed over: asking again does not refresh a
                self._recent[t] = frame  # frame, so it cannot push out the frames handed over after it
            while len(self._recent) > self.depth:
                del self._recent[next(iter(self._recent))]
        return frame

    def close(self) -> None:
        with self._changed:
            self._stop = True
            self._ready.clear()
            self._recent.clear()
            self._changed.notify_all()
        self._thread.join()

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def in_flight(workers: int) -> int:
    """Jobs `in_order` has made and not yet yielded, at most, with ``workers``: two per worker (each worker
    finds its next job queued when it finishes one, instead of waiting for an older job on another worker to be
    yielded), or one with a single worker (run when due)."""
    return 1 if workers == 1 else 2 * workers


def in_order(jobs: Iterable[Callable[[], T]], workers: int, initializer: Callable[[], object] | None = None
             ) -> Iterator[T]:
    """Yield ``job()`` for each job, in the jobs' order, running up to ``workers`` of them at once on threads.

    ``jobs`` is read lazily on the caller's thread, in order, a job when a slot is free: whatever a job must
    see in order (a random stream, a sequential reader) belongs in making it, not in running it. At most
    `in_flight` (``workers``) jobs are made and not yet yielded. With ``workers == 1`` each job runs on the
    caller's thread when its result is asked for (no thread). A job's error is raised when its result is due;
    closing the generator early cancels the jobs not started and waits for the running ones.

    Args:
        initializer: called once on each worker thread before its first job (e.g. its own thread settings).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        for job in jobs:
            yield job()
        return
    pending, bound = deque(), in_flight(workers)
    with ThreadPoolExecutor(workers, thread_name_prefix="in-order", initializer=initializer) as pool:
        try:
            for job in jobs:
                if len(pending) == bound:
                    yield pending.popleft().result()
                pending.append(pool.submit(job))
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
