"""`infra.background`: `WriteBehind` runs calls in order on a thread, the first error reaching the caller;
`ReadAhead` hands over frames read ahead on a thread, never entering the source from two threads at once;
`in_order` runs jobs on several threads at once and hands their results over in order."""
import threading
import time

import numpy as np
import pytest

from infra.background import ReadAhead, WriteBehind, in_flight, in_order, serialized


def test_calls_run_in_order_on_another_thread():
    done, threads = [], set()

    def record(value):
        done.append(value)
        threads.add(threading.get_ident())

    with WriteBehind(depth=2) as writer:
        for value in range(20):
            writer.submit(record, value)
    assert done == list(range(20))
    assert threads and threading.get_ident() not in threads


def test_the_first_error_is_raised_on_leaving_and_later_calls_are_skipped():
    done = []

    def fail(value):
        raise OSError(f"disk full at {value}")

    with pytest.raises(OSError, match="disk full at 1"):
        with WriteBehind() as writer:
            writer.submit(done.append, 0)
            writer.submit(fail, 1)
            writer.submit(done.append, 2)
    assert done == [0]


def test_an_error_of_the_caller_is_not_hidden():
    with pytest.raises(KeyError):
        with WriteBehind() as writer:
            writer.submit(lambda: None)
            raise KeyError("caller")


class Source:
    """Frame t is a (2, 2, 3) array filled with t; records reads, the most reads at once, and the reader's
    thread; optionally slow, so that the worker and the caller overlap."""

    def __init__(self, delay: float = 0.0, failing: int | None = None):
        self.delay, self.failing = delay, failing
        self.reads, self.threads = [], set()
        self.inside = self.most_inside = 0
        self._count = threading.Lock()

    def __call__(self, t: int) -> np.ndarray:
        with self._count:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(self.delay)
        self.reads.append(t)
        self.threads.add(threading.get_ident())
        with self._count:
            self.inside -= 1
        if t == self.failing:
            raise OSError(f"corrupt frame {t}")
        return np.full((2, 2, 3), t, np.uint8)


def test_read_ahead_hands_over_frames_read_on_a_thread_each_once():
    source = Source()
    with ReadAhead(source, 30, depth=3) as read:
        for t in range(30):
            deadline = time.monotonic() + 10
            while t not in source.reads and time.monotonic() < deadline:  # the worker reads ahead by itself
                time.sleep(0.001)
            assert (read(t) == t).all()
    assert source.reads == list(range(30))  # each frame read once, in order
    assert threading.get_ident() not in source.threads  # all by the worker


def test_read_ahead_skips_reads_again_and_stays_within_depth():
    source = Source(delay=0.001)
    wanted = [0, 1, 7, 8, 3, 9, 20, 29]  # skips, a frame asked again out of order, the last frame
    with ReadAhead(source, 30, depth=2) as read:
        latest = 0
        for t in wanted:
            assert (read(t) == t).all()
            latest = max(latest, t)
            time.sleep(0.01)
            assert max(source.reads) <= latest + 2  # never more than depth frames past the caller's latest
    assert source.reads.count(3) == 2  # read ahead once, asked again later: read again
    assert source.reads.count(7) == 1 and source.reads.count(29) == 1
    assert len(source.reads) <= 3 * len(wanted)  # each ask reads at most itself and 2 ahead


def test_read_ahead_hands_a_frame_just_handed_over_again_without_reading_it():
    """An overlay draws the frame just segmented: a sequential decoder already past it must not restart."""
    source = Source()
    with ReadAhead(source, 20, depth=3) as read:
        for t in range(20):
            assert (read(t) == t).all()
            for again in range(max(t - 2, 0), t + 1):  # the last depth frames handed over
                assert (read(again) == again).all()
    assert sorted(source.reads) == list(range(20))


def test_read_ahead_never_enters_the_source_twice_at_once():
    """A sequential decoder (PyAV) must not be entered by the worker and another reader (the point tracker,
    an overlay) at the same time: every reader of the source goes through the same `serialized` reader."""
    source = Source(delay=0.001)
    shared = serialized(source)
    assert serialized(shared) is shared
    with ReadAhead(shared, 40, depth=4) as read:
        for t in range(40):
            assert (read(t) == t).all()
            assert (shared(max(t - 3, 0)) == max(t - 3, 0)).all()  # another reader of the same frames
    assert source.most_inside == 1


def test_read_ahead_raises_a_frames_error_when_that_frame_is_asked_for():
    source = Source(failing=3)
    with ReadAhead(source, 10, depth=4) as read:
        assert (read(0) == 0).all() and (read(2) == 2).all()
        with pytest.raises(OSError, match="corrupt frame 3"):
            read(3)
        assert (read(4) == 4).all()


def test_read_ahead_close_stops_the_worker():
    reader = ReadAhead(Source(), 1000, depth=2)
    reader(0)
    reader.close()
    assert not reader._thread.is_alive()
    with pytest.raises(ValueError, match="depth"):
        ReadAhead(Source(), 3, depth=0)


class Jobs:
    """Jobs ``i -> i * i`` that sleep ``delays[i]`` s, recording when each is made, started and handed over."""

    def __init__(self, delays, fail_at: int | None = None):
        self.delays, self.fail_at = delays, fail_at
        self.made, self.started, self.threads = [], [], set()
        self.lock = threading.Lock()

    def __iter__(self):
        for index, delay in enumerate(self.delays):
            self.made.append(index)
            yield self._job(index, delay)

    def _job(self, index, delay):
        def run():
            with self.lock:
                self.started.append(index)
                self.threads.add(threading.current_thread().name)
            time.sleep(delay)
            if index == self.fail_at:
                raise ValueError(f"job {index} failed")
            return index * index
        return run


def test_in_order_hands_results_over_in_order_with_at_most_two_jobs_per_worker_unfinished():
    jobs = Jobs([0.08, 0.01, 0.05, 0.0, 0.03, 0.0, 0.02, 0.0, 0.01])
    seen = []
    for result in in_order(jobs, 3):
        seen.append(result)
        assert len(jobs.made) <= len(seen) + 6  # made lazily: a job only when one of the 2 x 3 slots is free
    assert seen == [i * i for i in range(9)]
    assert all(name.startswith("in-order") for name in jobs.threads)
    assert in_flight(1) == 1 and in_flight(3) == 6


def test_in_order_keeps_a_worker_busy_while_an_older_job_runs():
    release = threading.Event()
    started = []

    def slow():
        return release.wait(5)  # False (after 5 s) unless the quick jobs ran meanwhile

    def quick(name):
        started.append(name)
        if len(started) == 3:  # the third quick job started while the slow first one still ran
            release.set()
        return name

    jobs = [slow] + [lambda n=n: quick(n) for n in range(3)]
    assert list(in_order(jobs, 2)) == [True, 0, 1, 2]


def test_in_order_runs_jobs_at_once():
    barrier = threading.Barrier(2, timeout=10)  # would time out if the two jobs ran one after the other
    assert list(in_order([lambda: barrier.wait() >= 0, lambda: barrier.wait() >= 0], 2)) == [True, True]


def test_in_order_with_one_worker_runs_each_job_on_the_callers_thread_when_due():
    jobs = Jobs([0.0] * 4)
    results = in_order(jobs, 1)
    assert next(results) == 0 and jobs.made == [0]
    assert list(results) == [1, 4, 9]
    assert jobs.threads == {threading.current_thread().name}


def test_in_order_raises_a_jobs_error_when_its_result_is_due_and_stops_starting_jobs():
    jobs = Jobs([0.0, 0.0, 0.0, 0.0, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05], fail_at=2)
    seen = []
    with pytest.raises(ValueError, match="job 2 failed"):
        for result in in_order(jobs, 2):
            seen.append(result)
    assert seen == [0, 1]
    assert max(jobs.started) <= 2 + in_flight(2) - 1  # at most the slots' worth started after the failed one


def test_in_order_closed_early_cancels_jobs_not_started():
    jobs = Jobs([0.05] * 10)
    results = in_order(jobs, 2)
    assert next(results) == 0
    results.close()
    assert len(jobs.started) <= in_flight(2) + 1 and len(jobs.made) <= in_flight(2) + 1


def test_in_order_initialises_each_worker_and_checks_the_count():
    named = threading.local()
    results = in_order([lambda: named.value] * 4, 2, initializer=lambda: setattr(named, "value", "set"))
    assert list(results) == ["set"] * 4
    with pytest.raises(ValueError, match="workers must be >= 1"):
        next(in_order([], 0))
